// Errors leave the API in two kinds: the documented ones (server/error_codes.ts),
// passed through with `extensions.code`, and everything else, replaced by a
// generic message carrying a reference the server log also has. Nothing else
// (SQL text, constraint internals of unexpected errors, stack traces, secrets in
// messages) reaches a client.
// PostgreSQL's own codes carry the documented message (publicMessage).

import { GraphQLError } from 'postgraphile/graphql';
import { internalError, isDocumented, publicMessage } from './errors.ts';

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
  const original = error.originalError;
  if (!original || original instanceof GraphQLError) {
    // Parse and validation errors: already safe, only lacking a code.
    return error.extensions?.code ? error : withCode(error, error.message, 'GRAPHQL_VALIDATION_FAILED');
  }
  if (isDocumented(original)) {
    const masked = withCode(error, publicMessage(original), original.code, original);
    // Rate limits (SMA02) say how long to wait, in seconds, in the error's detail.
    if (original.code === 'SMA02' && original.detail) (masked.extensions as Record<string, unknown>).retryAfter = Number(original.detail);
    return masked;
  }
  const internal = internalError(original);
  return withCode(error, internal.message, internal.code);
}
