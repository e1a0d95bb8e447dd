// Errors shaped like Stripe's: `{ error: { type, code, message, param, … } }` with its HTTP status.

export type ErrorBody = { [key: string]: unknown; type: string; message: string };

export class ApiError extends Error {
  status: number;
  error: ErrorBody;
  constructor(status: number, error: ErrorBody) {
    super(error.message);
    this.status = status;
    this.error = error;
  }
}

export function docUrl(code: string): string {
  return `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`;
}

export function invalidRequest(
  message: string,
  opts: { param?: string; code?: string; status?: number } = {},
): ApiError {
  const error: ErrorBody = { type: 'invalid_request_error', message };
  if (opts.code) {
    error.code = opts.code;
    error.doc_url = docUrl(opts.code);
  }
  if (opts.param) error.param = opts.param;
  return new ApiError(opts.status ?? 400, error);
}

/** 404 for an id in the URL, 400 for an id given as a parameter (what Stripe does). */
export function resourceMissing(label: string, id: string, param: string, status = 404): ApiError {
  return invalidRequest(`No such ${label}: '${id}'`, { code: 'resource_missing', param, status });
}

export function missingParam(param: string): ApiError {
  return invalidRequest(`Missing required param: ${param}.`, { code: 'parameter_missing', param });
}

export function unrecognizedUrl(method: string, path: string): ApiError {
  return invalidRequest(
    `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
    { status: 404 },
  );
}

export function apiError(message = 'An unknown error occurred (emulated fault).'): ApiError {
  return new ApiError(500, { type: 'api_error', message });
}

/** 429 rate_limit: one of Stripe's limiters refused the request (no `Stripe-Should-Retry`: the libraries do not retry it). */
export function rateLimited(refusal: string): ApiError {
  return new ApiError(429, {
    type: 'invalid_request_error',
    code: 'rate_limit',
    doc_url: docUrl('rate_limit'),
    message: `${refusal} Learn more about rate limits here https://stripe.com/docs/rate-limits.`,
  });
}

/** 429 lock_timeout: another request holds the object; retrying helps (Stripe says so with `Stripe-Should-Retry: true`). */
export function lockTimeout(): ApiError {
  return new ApiError(429, {
    type: 'invalid_request_error',
    code: 'lock_timeout',
    doc_url: docUrl('lock_timeout'),
    message:
      'This object cannot be accessed right now because another API request or Stripe process is currently accessing it. If you see this error intermittently, retry the request. If you see this error frequently and are making multiple concurrent requests to a single object, make your requests serially or at a lower rate.',
  });
}
