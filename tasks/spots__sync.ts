// The inventory sync (job key spots_sync, queue spots_sync): fetches the city's
// meter data from SPOTS_SYNC_URL with If-None-Match / If-Modified-Since, reads
// the body whole (at most MAX_BODY_BYTES), sends it (CSV or a JSON array) in
// batches through the same SQL as spots:import, puts meters the
// snapshot no longer lists out of service, and queues its own next run:
// SPOTS_SYNC_INTERVAL after a success or a 304, the back-off after a failure.
// graphile-worker's crontab fires at most once a minute, so the job re-queues
// itself for shorter intervals; the crontab only restarts a broken chain.
//
// A run is one transaction (migrations/fixtures/spots_sync.sql): a network
// error, an HTTP error, a malformed file or a snapshot without one usable row
// rolls it back, so a failure changes nothing; the run is recorded as failed
// and the source backed off (SPOTS_SYNC_BACKOFF, doubling, at most
// SPOTS_SYNC_BACKOFF_MAX). Two runs never overlap: one job key, one queue, and
// a session advisory lock held for the run.
import pg from 'pg';
import type { Task } from 'graphile-worker';
import { csvMeterRows, importMeterRows, jsonMeterRows, MeterDataError, type SqlOutcome } from '../lib/meter_rows.ts';
import { spotsSyncConfigFromEnv, type SpotsSyncConfig } from '../lib/spots_sync_config.ts';

/** pg_try_advisory_lock key of the sync ("spots sync" in ASCII, as a number). */
const SYNC_LOCK = 0x73706f7473;

/**
 * The largest body the sync takes (the city's file is a few MB). The body is
 * read whole before the first batch goes to SQL: read slowly, Node's bundled
 * undici pauses its parser, and a source that closes the connection right after
 * the body (HTTP/1.0, `Connection: close`) then kills the process with an
 * uncatchable assertion (nodejs/undici#5360).
 */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface SyncResult {
  outcome: 'succeeded' | 'not_modified' | 'failed' | 'backing_off';
  runId: string | null;
  /** When the next sync should run. */
  nextRunAt: Date;
  rows?: number;
  inserted?: number;
  changed?: number;
  unchanged?: number;
  removed?: number;
  rejected?: number;
  /** The most meter rows held in memory at once during the run. */
  maxRowsHeld?: number;
  error?: string;
}

interface Log {
  info(message: string): void;
  warn(message: string): void;
}

class SourceError extends Error {}

function isJson(res: Response, url: string): boolean {
  const type = res.headers.get('content-type') ?? '';
  return /json/i.test(type) || (!/csv/i.test(type) && new URL(url).pathname.endsWith('.json'));
}

/** The answer and, unless 304, its whole body; any failure on the way is the source's (SourceError). */
async function download(
  url: string,
  headers: Record<string, string>,
  timeoutSeconds: number,
  maxBytes: number,
): Promise<{ res: Response; body: Uint8Array[] }> {
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutSeconds * 1000) });
    if (res.status === 304 || !res.ok || !res.body) {
      await res.body?.cancel();
      if (res.status === 304) return { res, body: [] };
      throw new SourceError(`the source answered HTTP ${res.status}`);
    }
    const tooBig = `the body is larger than ${maxBytes} bytes, the most the sync takes`;
    if (Number(res.headers.get('content-length')) > maxBytes) {
      await res.body.cancel();
      throw new SourceError(tooBig);
    }
    const body: Uint8Array[] = [];
    let size = 0;
    // Leaving the loop early cancels the stream, so a body over the limit is not read on.
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > maxBytes) throw new SourceError(tooBig);
      body.push(chunk);
    }
    return { res, body };
  } catch (err) {
    if (err instanceof SourceError) throw err;
    throw new SourceError(
      (err as Error).name === 'TimeoutError'
        ? `no answer within ${timeoutSeconds} s`
        : `could not fetch: ${(err as Error).message}`,
    );
  }
}

/** What a failed run records: the network, the data and the database each named as such. */
function failureOf(err: unknown): string {
  let message: string;
  if (err instanceof SourceError || err instanceof MeterDataError) message = err.message;
  // The sync's own SQL refuses a snapshot with a plain raise exception: its text is the reason.
  else if (err instanceof pg.DatabaseError)
    message = err.code === 'P0001' ? err.message : `database error ${err.code}: ${err.message}`;
  else message = `unexpected error: ${(err as Error).message}`;
  // The reason is stored as text, which cannot hold NUL (a header of binary garbage would otherwise fail the recording).
  return message.replaceAll('\0', '\\0');
}

/** One sync of config.url on a client of its own (a transaction spans the run). */
export async function syncSpotsOnce(
  client: pg.ClientBase,
  config: SpotsSyncConfig & { url: string; maxBytes?: number },
  log: Log,
): Promise<SyncResult> {
  const {
    rows: [begin],
  } = await client.query<{
    run_id: string | null;
    etag: string | null;
    last_modified: string | null;
    retry_at: Date | null;
  }>('select run_id::text, etag, last_modified, retry_at from app_private.spots_sync_begin($1)', [config.url]);
  if (!begin.run_id) return { outcome: 'backing_off', runId: null, nextRunAt: begin.retry_at ?? new Date() };
  const runId = begin.run_id;
  const next = () => new Date(Date.now() + config.intervalSeconds * 1000);
  let inTransaction = false;
  try {
    const headers: Record<string, string> = {};
    if (begin.etag) headers['if-none-match'] = begin.etag;
    if (begin.last_modified) headers['if-modified-since'] = begin.last_modified;
    const { res, body } = await download(config.url, headers, config.timeoutSeconds, config.maxBytes ?? MAX_BODY_BYTES);
    if (res.status === 304) {
      await client.query('select app_private.spots_sync_not_modified($1)', [runId]);
      return { outcome: 'not_modified', runId, nextRunAt: next() };
    }
    const where = new URL(config.url).pathname;
    const items = isJson(res, config.url) ? jsonMeterRows(body, where) : csvMeterRows(body, where);
    await client.query('begin');
    inTransaction = true;
    await client.query(`select set_config('app.sync_run_id', $1, true)`, [runId]);
    const totals = await importMeterRows(
      items,
      async (batch) =>
        (
          await client.query<SqlOutcome>(
            'select row_number, outcome, reason from app_private.spots_sync_batch($1, $2::jsonb)',
            [runId, JSON.stringify(batch)],
          )
        ).rows,
      { batchSize: config.batchSize },
    );
    if (totals.inserted + totals.updated + totals.unchanged === 0) {
      throw new MeterDataError(
        `no usable row among ${totals.rows} (first reject: ${totals.rejects[0]?.reason ?? 'none'})`,
      );
    }
    const {
      rows: [finish],
    } = await client.query<{ removed: number }>(
      'select app_private.spots_sync_finish($1, $2, $3, $4, $5, $6, $7, $8, $9) as removed',
      [
        runId,
        res.headers.get('etag'),
        res.headers.get('last-modified'),
        totals.rows,
        totals.inserted,
        totals.updated,
        totals.unchanged,
        totals.rejected,
        JSON.stringify(totals.rejects),
      ],
    );
    await client.query('commit');
    inTransaction = false;
    log.info(
      `spots sync ${runId}: ${totals.rows} rows, ${totals.inserted} inserted, ${totals.updated} changed, ` +
        `${finish.removed} removed, ${totals.rejected} rejected`,
    );
    return {
      outcome: 'succeeded',
      runId,
      nextRunAt: next(),
      rows: totals.rows,
      inserted: totals.inserted,
      changed: totals.updated,
      unchanged: totals.unchanged,
      removed: finish.removed,
      rejected: totals.rejected,
      maxRowsHeld: totals.maxRowsHeld,
    };
  } catch (err) {
    if (inTransaction) await client.query('rollback');
    const error = failureOf(err);
    const {
      rows: [failed],
    } = await client.query<{ retry_at: Date }>('select app_private.spots_sync_failed($1, $2, $3, $4) as retry_at', [
      runId,
      error,
      config.backoffSeconds,
      config.backoffMaxSeconds,
    ]);
    log.warn(`spots sync ${runId} failed, nothing changed, next try at ${failed.retry_at.toISOString()}: ${error}`);
    return { outcome: 'failed', runId, nextRunAt: failed.retry_at, error };
  }
}

export const spots__sync: Task = async (_payload, helpers) => {
  const config = spotsSyncConfigFromEnv();
  const url = config.url;
  if (!url) return; // SPOTS_SYNC_URL unset: the sync is off (the crontab's tick does nothing).
  await helpers.withPgClient(async (client) => {
    const {
      rows: [lock],
    } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [SYNC_LOCK]);
    if (!lock.ok) return; // another worker is syncing; it queues the next run
    try {
      const result = await syncSpotsOnce(client, { ...config, url }, helpers.logger);
      await client.query('select app_private.spots_sync_schedule($1)', [result.nextRunAt]);
    } finally {
      await client.query('select pg_advisory_unlock($1)', [SYNC_LOCK]);
    }
  });
};
