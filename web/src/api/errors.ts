// Turns what the API answers into an AppError: its code, a sentence a person
// understands, and the form field it belongs next to (when one does).
import type { CombinedError } from '@urql/core';
import { sentenceFor } from '../error_messages.ts';

export interface AppError {
  code: string;
  message: string;
  /** Seconds to wait (SMA02). */
  retryAfter?: number;
}

export function makeError(code: string, serverMessage = '', retryAfter?: number): AppError {
  return { code, message: sentenceFor(code, serverMessage, retryAfter), retryAfter };
}

export function networkError(): AppError {
  return makeError('NETWORK');
}

export function errorFromResult(error: CombinedError): AppError {
  const first = error.graphQLErrors[0];
  if (first) {
    const ext = first.extensions as { code?: unknown; retryAfter?: unknown } | undefined;
    const code = typeof ext?.code === 'string' ? ext.code : 'INTERNAL';
    const retryAfter = typeof ext?.retryAfter === 'number' ? ext.retryAfter : undefined;
    return makeError(code, first.message, retryAfter);
  }
  return networkError();
}

/** An error answered by the /auth routes: {"error": {code, message}} and maybe Retry-After. */
export async function errorFromResponse(res: Response): Promise<AppError> {
  const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
  const retry = Number(res.headers.get('retry-after'));
  return makeError(
    body?.error?.code ?? 'INTERNAL',
    body?.error?.message ?? '',
    Number.isFinite(retry) && retry > 0 ? retry : undefined,
  );
}
