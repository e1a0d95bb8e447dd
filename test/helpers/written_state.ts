// What a request could have written, for tests that check a refused request changed nothing:
// the rows of every table an API operation writes (their contents where no background work
// touches them, else how many) and how many requests Stripe has had.
import type { StripeEmulator } from '../../stripe-emulator/index.ts';
import type { TestDb } from './db.ts';

export async function writtenState(db: TestDb, emulator: StripeEmulator): Promise<unknown> {
  const {
    rows: [s],
  } = await db.owner.query(`select
    (select coalesce(sum(hashtext(u::text)), 0) from app_public.users u)::bigint::text as users,
    (select coalesce(sum(hashtext(r::text)), 0) from app_public.reservations r)::bigint::text as reservations,
    (select coalesce(sum(hashtext(s::text)), 0) from app_public.spots s)::bigint::text as spots,
    (select count(*) from app_private.sessions where revoked_at is null)::int as live_sessions,
    (select count(*) from app_private.user_tokens)::int as tokens,
    (select count(*) from app_private.user_secrets)::int as secrets,
    (select count(*) from app_private.emails)::int as emails,
    (select count(*) from app_private.reservation_events)::int as events,
    (select count(*) from app_private.setup_intents)::int as setup_intents,
    (select count(*) from app_private.refunds)::int as refunds`);
  return { ...s, stripe: emulator.state().requests };
}
