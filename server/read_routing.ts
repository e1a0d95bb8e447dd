// Which GraphQL requests a streaming replica (READ_DATABASE_URL) serves, and
// the fallback to the primary when it cannot. A replica lags the primary by
// its replication delay, so it only gets what may be that stale: anonymous
// queries whose every root field is public catalogue or search (a spot taken
// a moment ago may still show as free; booking it is refused by the primary's
// exclusion constraint). Mutations, signed-in callers (their own reservations,
// sessions, staff screens) and a guest's reservation read by its manage token
// (read-your-writes right after booking) stay on the primary.
import type pg from 'pg';
import type {
  DocumentNode,
  FragmentDefinitionNode,
  OperationDefinitionNode,
  SelectionSetNode,
} from 'postgraphile/graphql';
import { Kind } from 'postgraphile/graphql';
import type { makePgAdaptorWithPgClient } from 'postgraphile/adaptors/pg';
import { makePipelinedWithPgClient } from './pg_adaptor.ts';
import { loggerFor } from '../lib/logger.ts';

/** The withPgClient a request context carries (node-postgres clients). */
export type WithPgClient = ReturnType<typeof makePgAdaptorWithPgClient>;

/** Root Query fields a replica may answer: read by anyone, and fine a replication lag behind. */
export const REPLICA_FIELDS: ReadonlySet<string> = new Set([
  '__typename',
  'spotsNear',
  'availableSpots',
  'spots',
  'spot',
  'spotById',
  'spotByExternalId',
  'spotChangeHistory',
  'rates',
  'rate',
  'rateById',
  'rateByCode',
  'rateHours',
  'rateHour',
  'rateHourById',
  'quote',
  'paymentConfig',
  'signInProviders',
]);

/** After the replica failed to serve, the primary serves its reads this long before the replica is tried again. */
export const REPLICA_RETRY_MS = 5_000;

/**
 * Whether every root field of the query (fragments included) is one a replica
 * may answer. Each fragment is looked at once (`decided`): spreads that repeat
 * a fragment would otherwise cost exponential time, and a cycle (refused by
 * validation, which may run later) would never end; a fragment met again inside
 * itself decides nothing.
 */
function onlyReplicaFields(
  fragments: Map<string, FragmentDefinitionNode>,
  selectionSet: SelectionSetNode,
  decided: Map<string, boolean>,
): boolean {
  return selectionSet.selections.every((selection) => {
    if (selection.kind === Kind.FIELD) return REPLICA_FIELDS.has(selection.name.value);
    if (selection.kind === Kind.INLINE_FRAGMENT) return onlyReplicaFields(fragments, selection.selectionSet, decided);
    const name = selection.name.value;
    const known = decided.get(name);
    if (known !== undefined) return known;
    decided.set(name, true);
    const fragment = fragments.get(name);
    const answer = fragment !== undefined && onlyReplicaFields(fragments, fragment.selectionSet, decided);
    decided.set(name, answer);
    return answer;
  });
}

/** Whether a request may read from the replica: an anonymous query of replica fields only. */
export function mayReadFromReplica(
  signedIn: boolean,
  document: DocumentNode | undefined,
  operation: OperationDefinitionNode | null | undefined,
): boolean {
  return (
    !signedIn &&
    document !== undefined &&
    operation?.operation === 'query' &&
    onlyReplicaFields(
      new Map(
        document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])),
      ),
      operation.selectionSet,
      new Map(),
    )
  );
}

/**
 * The replica could not answer, so the primary should: it is unreachable or
 * refused the connection (no SQLSTATE, class 08, 53 too many connections,
 * 57P shutting down) or cancelled the query for a conflict with recovery
 * (40001 on a standby). A query's own error (bad input, …) is not one.
 */
export function isReplicaUnavailable(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string') return !/^[0-9A-Z]{5}$/.test(code) || /^(08|53|57P)/.test(code) || code === '40001';
  return typeof message === 'string' && /Connection terminated|timeout exceeded when trying to connect/.test(message);
}

export interface ReadRouting {
  /** The withPgClient for a request the replica may serve, or undefined while it is backed off (the primary serves). */
  forReplicaRead(): WithPgClient | undefined;
}

/**
 * A withPgClient on the replica pool that falls back to the primary pool when
 * the replica is unavailable, and then leaves the replica alone for
 * REPLICA_RETRY_MS, so requests do not each pay a failed connection meanwhile.
 * Only reads run there, so running a failed call again on the primary is safe.
 */
export function makeReadRouting(
  primaryPool: pg.Pool,
  replicaPool: pg.Pool,
  onFallback: () => void,
  retryMs = REPLICA_RETRY_MS,
): ReadRouting {
  const log = loggerFor('api').child({ pool: 'graphql_read' });
  // Both pools are pipelined, as the primary's own service is (server/pg_adaptor.ts).
  const primary = makePipelinedWithPgClient(primaryPool) as WithPgClient;
  const replica = makePipelinedWithPgClient(replicaPool) as WithPgClient;
  let backedOffUntil = 0;
  const withReplica: WithPgClient = async (pgSettings, callback) => {
    try {
      return await replica(pgSettings, callback);
    } catch (err) {
      if (!isReplicaUnavailable(err)) throw err;
      if (Date.now() >= backedOffUntil)
        log.warn(`read replica unavailable, reads go to the primary for ${retryMs} ms: ${(err as Error).message}`);
      backedOffUntil = Date.now() + retryMs;
      onFallback();
      return primary(pgSettings, callback);
    }
  };
  return { forReplicaRead: () => (Date.now() < backedOffUntil ? undefined : withReplica) };
}
