// Runs accounts SQL for the auth routes: one owner-pool transaction, with the
// request's settings (client address, web app origin) set locally as
// PostGraphile would set them for a GraphQL request.
import type pg from 'pg';

export async function ownerTx<T>(pool: pg.Pool, settings: Record<string, string>, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    for (const [key, value] of Object.entries(settings)) {
      await client.query('select set_config($1, $2, true)', [key, value]);
    }
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
