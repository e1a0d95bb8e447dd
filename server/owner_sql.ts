// One owner-pool transaction with request settings set locally, as PostGraphile
// sets them for a GraphQL request: the auth routes run accounts SQL this way,
// and payments tests stand in for PostGraphile with it.
import type pg from 'pg';

export async function ownerTx<T>(
  pool: pg.Pool,
  settings: Record<string, string>,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
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
