// The worker runs jobs that SQL queues, and the sweep task does its job.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Runner } from 'graphile-worker';
import { createTestDb, createUser, type TestDb } from './helpers/db.ts';
import { startWorker } from '../worker/runner.ts';

let db: TestDb;
let runner: Runner | undefined;

test.before(async () => {
  db = await createTestDb(import.meta.filename);
});

test.after(async () => {
  await runner?.stop();
  await db?.close();
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a job queued from SQL runs: sessions__sweep deletes revoked and idle sessions only', async () => {
  // Setup: one live, one revoked, one idle session.
  const live = await createUser(db);
  const revoked = await createUser(db);
  const idle = await createUser(db);
  await db.owner.query('update app_private.sessions set revoked_at = now() where id = $1', [revoked.sessionId]);
  await db.owner.query(`update app_private.sessions set last_active_at = now() - interval '25 hours' where id = $1`, [
    idle.sessionId,
  ]);

  // Action: queue the job in SQL, then let the worker pick it up.
  await db.owner.query(`select graphile_worker.add_job('sessions__sweep', '{}'::json)`);
  runner = await startWorker({ connectionString: db.urls.owner, crontab: '# none', pollInterval: 200 });
  await waitFor(
    async () =>
      (
        await db.owner.query(
          `select count(*)::int as n from graphile_worker.jobs where task_identifier = 'sessions__sweep'`,
        )
      ).rows[0].n === 0,
  );

  // Assertions
  const { rows } = await db.owner.query('select id from app_private.sessions order by id');
  assert.equal(
    rows.map((r) => r.id),
    [live.sessionId],
  );
});

test('the crontab parses and names only registered tasks', async () => {
  const { readFileSync } = await import('node:fs');
  const { taskList } = await import('../worker/task_list.ts');
  const crontab = readFileSync(new URL('../worker/crontab', import.meta.url), 'utf8');
  const tasks = crontab
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    .map((l) => l.trim().split(/\s+/)[5]);
  assert.ok(tasks.length > 0);
  for (const task of tasks) assert.ok(task in taskList, `${task} is registered`);
});

test('the schedule: due_work__sweep (hold expiries, ends, reminders, emails) every minute, keyed so it never doubles; sessions__sweep at minute 7 of every hour; the spots sync chain restarted every minute', async () => {
  const { readFileSync } = await import('node:fs');
  const { parseCrontab } = await import('graphile-worker');
  const items = parseCrontab(readFileSync(new URL('../worker/crontab', import.meta.url), 'utf8'));
  const byTask = Object.fromEntries(items.map((i) => [i.task, i]));
  assert.equal(Object.keys(byTask).sort(), ['due_work__sweep', 'sessions__sweep', 'spots__sync']);
  // The inventory sync's chain restarter: same key and queue as the job it queues itself.
  assert.equal(
    [byTask.spots__sync.options.jobKey, byTask.spots__sync.options.jobKeyMode, byTask.spots__sync.options.queueName],
    ['spots_sync', 'preserve_run_at', 'spots_sync'],
  );
  assert.equal(
    [byTask.due_work__sweep.options.jobKey, byTask.due_work__sweep.options.jobKeyMode],
    ['due_work_sweep', 'preserve_run_at'],
  );
  const minutesMatched = (task: string) =>
    Array.from({ length: 120 }, (_, k) => k).filter((k) =>
      byTask[task].match({ min: k % 60, hour: Math.floor(k / 60), date: 1, month: 12, dow: 2 }),
    ).length;
  assert.is(minutesMatched('due_work__sweep'), 120, 'every minute of two hours');
  assert.is(minutesMatched('sessions__sweep'), 2, 'once an hour');
  assert.ok(byTask.sessions__sweep.match({ min: 7, hour: 3, date: 1, month: 12, dow: 2 }));
});

test('the due-work sweep runs at every whole second, however rarely the worker polls', async () => {
  // Setup: a worker that would find a job queued for later only after a minute.
  await runner?.stop();
  const { taskList } = await import('../worker/task_list.ts');
  runner = await startWorker({
    connectionString: db.urls.owner,
    crontab: '# none',
    pollInterval: 60_000,
    taskList: { due_work__sweep: taskList.due_work__sweep },
  });
  const nextSweep = async () =>
    (await db.owner.query(`select run_at from graphile_worker.jobs where key = 'due_work_sweep'`)).rows[0]?.run_at as
      | Date
      | undefined;
  // The first sweep runs at start and queues its successor (on a whole second).
  await waitFor(async () => ((await nextSweep())?.getTime() ?? 1) % 1000 === 0);
  const first = (await nextSweep())!.getTime();

  // Action: wait three and a half seconds.
  await new Promise((r) => setTimeout(r, 3500));

  // Assertions: the successor of each run is queued on the next whole second,
  // and the runs happened (polling alone would not have run a second one yet).
  const last = (await nextSweep())!.getTime();
  assert.is(last % 1000, 0, 'queued for a whole second');
  assert.ok(last - first >= 3000, `swept at least three more times (next sweep moved ${last - first} ms)`);
});

test.run();
