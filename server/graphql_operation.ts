// The name of the GraphQL operation a request runs, for the access log:
// `operationName` when sent, else the first operation's name in the document;
// "anonymous" without one. Names are the client's choice, so only plain
// identifiers are kept. The latency histogram (server/metrics.ts) is labelled
// by what the operation ran instead, its root field: a set the schema bounds.
import type { ServerResponse } from 'node:http';
import {
  type DocumentNode,
  type FragmentDefinitionNode,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'postgraphile/graphql';

const NAMED_OPERATION = /^\s*(?:#[^\n]*\n\s*)*(?:query|mutation|subscription)\s+([A-Za-z_][A-Za-z0-9_]{0,63})/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export function graphqlOperationName(body: unknown): string {
  const { operationName, query } = (body ?? {}) as { operationName?: unknown; query?: unknown };
  if (typeof operationName === 'string' && IDENTIFIER.test(operationName)) return operationName;
  if (typeof query === 'string') return NAMED_OPERATION.exec(query)?.[1] ?? 'anonymous';
  return 'anonymous';
}

/**
 * The metrics label of an operation that ran: the name of its root field
 * (aliases and fragments seen through), e.g. `reserve`; `multiple` when it
 * selects several different root fields, `none` when it selects none. The
 * document has been validated against the schema, so a single field is one of
 * the schema's root fields (Query, Mutation, Subscription and
 * `__typename`/`__schema`/`__type`), never a name the client invents; and
 * combinations are not labels of their own, which a client could mint by the
 * thousand from ~100 root fields.
 */
export function rootFieldsLabel(document: DocumentNode, operation: OperationDefinitionNode): string {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const names = new Set<string>();
  const visited = new Set<string>();
  const collect = (set: SelectionSetNode) => {
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) names.add(s.name.value);
      else if (s.kind === Kind.INLINE_FRAGMENT) collect(s.selectionSet);
      else if (!visited.has(s.name.value)) {
        visited.add(s.name.value);
        const fragment = fragments.get(s.name.value);
        if (fragment) collect(fragment.selectionSet);
      }
    }
  };
  collect(operation.selectionSet);
  if (names.size > 1) return 'multiple';
  return names.values().next().value ?? 'none';
}

const EXECUTED = Symbol('sms.graphqlRootFields');

/** Records, on the response, the operation a GraphQL request runs (graphile.config.ts, once it is parsed and valid). */
export function recordExecutedOperation(
  res: ServerResponse,
  document: DocumentNode,
  operation: OperationDefinitionNode,
): void {
  (res as ServerResponse & { [EXECUTED]?: string })[EXECUTED] = rootFieldsLabel(document, operation);
}

/** The label recordExecutedOperation left; undefined when the request ran no operation (refused, unparsable, invalid). */
export function executedOperationOf(res: ServerResponse): string | undefined {
  return (res as ServerResponse & { [EXECUTED]?: string })[EXECUTED];
}
