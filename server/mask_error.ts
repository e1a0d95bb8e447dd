// Errors leave the API in two kinds: the documented ones (server/error_codes.ts),
// passed through with `extensions.code`, and everything else, replaced by a
// generic message carrying a reference the server log also has. Nothing else
// (SQL text, constraint internals of unexpected errors, stack traces, secrets in
// messages) reaches a client.
// PostgreSQL's own codes carry the documented message (publicMessage).

import { GraphQLError } from 'postgraphile/graphql';
import { SafeError } from 'postgraphile/grafast';
import { CodedError, internalError, isDocumented, publicMessage } from './errors.ts';

/**
 * PostGraphile's SafeErrors without a code that a client causes: a refused `after`/`before`
 * cursor it did not give out (garbage, another list's, or another order's) gets SMQ07; an
 * update with an empty patch (`updateUser(input: { patch: {} })`) gets 23502, a required value
 * missing. Other SafeErrors stay unexpected.
 */
function knownSafeError(err: Error): CodedError | undefined {
  if (!(err instanceof SafeError)) return undefined;
  if (/^Invalid\b.*\bcursor\b/.test(err.message)) {
    return new CodedError(
      'SMQ07',
      'This cursor was not given out by this list: use pageInfo.endCursor or startCursor of the same query',
    );
  }
  if (/^Attempted to update a record, but no new values were specified/.test(err.message)) {
    return new CodedError('23502', 'Give at least one value to change in the patch');
  }
  return undefined;
}

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
  const known = knownSafeError(original);
  if (known) return withCode(error, known.message, known.code, original);
  if (isDocumented(original)) {
    const masked = withCode(error, publicMessage(original), original.code, original);
    // Rate limits (SMA02) say how long to wait, in seconds, in the error's detail.
    if (original.code === 'SMA02' && original.detail)
      (masked.extensions as Record<string, unknown>).retryAfter = Number(original.detail);
    return masked;
  }
  const internal = internalError(original);
  return withCode(error, internal.message, internal.code);
}
