// Requests grafserv refuses before any GraphQL runs: a batch (a JSON array of
// operations: grafserv runs one operation per request, and a batch would also
// multiply what one request may cost), a body of another media type (forms
// included: a cross-site form could post one), a wrong method or Accept header,
// a `query` that is not a string. grafserv answers these itself, bypassing
// maskError, so their errors would carry no code; this gives every one a code:
// SMQ05 for a batch, BAD_REQUEST for the rest (INTERNAL for a 5xx); a body too
// large (413) says BODY_TOO_LARGE, as a JSON one does (installErrorHandler.ts).
import type { Request } from 'express';
import type { Result } from 'postgraphile/grafserv';
import { BODY_TOO_LARGE } from '../errors.ts';

const JSON_TYPE = 'application/json; charset=utf-8';

interface ErrorBody {
  errors?: Array<{ message?: string; extensions?: Record<string, unknown> }>;
}

function batchRefused(): Result {
  const body = {
    errors: [
      {
        message: 'Send one operation per request: batches (a JSON array) are not accepted',
        extensions: { code: 'SMQ05' },
      },
    ],
  };
  return {
    type: 'buffer',
    statusCode: 400,
    headers: { 'content-type': JSON_TYPE },
    buffer: Buffer.from(JSON.stringify(body), 'utf8'),
  };
}

function codedBody(body: ErrorBody, statusCode: number): ErrorBody {
  const code = statusCode >= 500 ? 'INTERNAL' : 'BAD_REQUEST';
  return {
    ...body,
    errors: body.errors?.map((e) => {
      if (e.extensions?.code) return e;
      // grafserv's own 413 (an application/graphql body past maxRequestLength) says "Too much
      // data"; it says what express.json's 413 for a JSON body says.
      const message = statusCode === 413 ? BODY_TOO_LARGE : e.message;
      return { ...e, message, extensions: { ...e.extensions, code } };
    }),
  };
}

/** An error answer whose errors lack a code, given one; any other result unchanged. */
function withCodes(result: Result | null): Result | null {
  if (!result || !('statusCode' in result) || (result.statusCode ?? 200) < 400) return result;
  if (result.type === 'json')
    return { ...result, json: codedBody(result.json as ErrorBody, result.statusCode ?? 400) as any };
  if (result.type !== 'buffer' || !String(result.headers['content-type'] ?? '').includes('json')) return result;
  let body: ErrorBody;
  try {
    body = JSON.parse(result.buffer.toString('utf8')) as ErrorBody;
  } catch {
    return result;
  }
  const headers = { ...result.headers };
  delete headers['content-length'];
  return { ...result, headers, buffer: Buffer.from(JSON.stringify(codedBody(body, result.statusCode ?? 400)), 'utf8') };
}

export const RequestShapePlugin: GraphileConfig.Plugin = {
  name: 'RequestShapePlugin',
  version: '1.0.0',
  grafserv: {
    middleware: {
      processRequest(next, event) {
        // Express parsed JSON bodies already (server/middleware/installPostGraphile.ts).
        const req = (event.requestDigest.requestContext as { expressv4?: { req?: Request } } | undefined)?.expressv4
          ?.req;
        const graphqlPath = event.resolvedPreset.grafserv?.graphqlPath ?? '/graphql';
        if (event.requestDigest.path === graphqlPath && Array.isArray(req?.body)) return batchRefused();
        const result = next();
        return result && typeof (result as Promise<unknown>).then === 'function'
          ? (result as Promise<Result | null>).then(withCodes)
          : withCodes(result as Result | null);
      },
    },
  },
};
