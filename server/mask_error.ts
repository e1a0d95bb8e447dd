// Errors leave the API in two kinds: the documented ones (server/error_codes.ts),
// passed through with their message and `extensions.code`, and everything else,
// replaced by a generic message carrying a reference the server log also has.
// Nothing else (SQL text, constraint internals of unexpected errors, stack
// traces, secrets in messages) reaches a client.

import { randomBytes } from 'node:crypto';
import { GraphQLError } from 'postgraphile/graphql';
import { ERROR_CODES } from './error_codes.ts';

type CodedError = Error & { code?: string };

function withCode(error: GraphQLError, message: string, code: string, originalError?: Error): GraphQLError {
  return new GraphQLError(message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError,
    extensions: { ...error.extensions, code },
  });
}

export function maskError(error: GraphQLError): GraphQLError {
  const original = error.originalError as CodedError | undefined;
  if (!original || original instanceof GraphQLError) {
    // Parse and validation errors: already safe, only lacking a code.
    return error.extensions?.code ? error : withCode(error, error.message, 'GRAPHQL_VALIDATION_FAILED');
  }
  if (original.code && Object.hasOwn(ERROR_CODES, original.code)) {
    const masked = withCode(error, original.message, original.code, original);
    // Rate limits (SMA02) say how long to wait, in seconds, in the SQL error's detail.
    const detail = (original as CodedError & { detail?: string }).detail;
    if (original.code === 'SMA02' && detail) (masked.extensions as Record<string, unknown>).retryAfter = Number(detail);
    return masked;
  }
  const reference = randomBytes(6).toString('hex');
  console.error(`[error ${reference}]`, original);
  return withCode(error, `Internal error (reference ${reference})`, 'INTERNAL');
}
