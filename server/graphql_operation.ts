// The name of the GraphQL operation a request runs, for the access log and the
// latency histogram: `operationName` when sent, else the first operation's
// name in the document; "anonymous" without one. Names are the client's
// choice, so only plain identifiers are kept (metrics labels stay bounded by
// the names clients really use).
const NAMED_OPERATION = /^\s*(?:#[^\n]*\n\s*)*(?:query|mutation|subscription)\s+([A-Za-z_][A-Za-z0-9_]{0,63})/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export function graphqlOperationName(body: unknown): string {
  const { operationName, query } = (body ?? {}) as { operationName?: unknown; query?: unknown };
  if (typeof operationName === 'string' && IDENTIFIER.test(operationName)) return operationName;
  if (typeof query === 'string') return NAMED_OPERATION.exec(query)?.[1] ?? 'anonymous';
  return 'anonymous';
}
