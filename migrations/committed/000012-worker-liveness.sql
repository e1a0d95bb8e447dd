--! Previous: sha1:aae952e8628bc99e229e135cf8f53411eb560bb9
--! Hash: sha1:f0be96b7e2974567d55e515d1dfb5357603eca72
--! Message: worker liveness

-- Enter migration here
--------------------------------------------------------------------------------
-- Worker liveness: graphile-worker leaves the jobs of a worker process that
-- died (SIGKILL, OOM, power) locked for 4 hours. Each worker process records
-- the worker and pool ids it runs under here and holds a session advisory
-- lock while alive; any other worker process that can take that lock knows the
-- process is gone and unlocks its jobs (worker/liveness.ts).

create table if not exists app_private.worker_processes (
  id         uuid primary key default gen_random_uuid(),
  worker_ids text[] not null default '{}',
  hostname   text not null,
  pid        int not null,
  started_at timestamptz not null default now()
);
alter table app_private.worker_processes enable row level security;
comment on table app_private.worker_processes is
  E'Live worker processes and the graphile-worker ids they lock jobs under; a row whose advisory lock (classid 7366, hashtext(id)) is free belongs to a dead process.';
