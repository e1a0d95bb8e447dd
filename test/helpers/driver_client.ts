// A driver's calls to an API over HTTP, as the web app makes them, for tests
// that run many clients against API processes: guest reserve, card set-up
// (the browser's half through the emulator with pm_card_visa), confirm,
// change end, end, cancel. Each answers the GraphQL body; transport errors
// (an API down) come back as { errors: [{ extensions: { code: 'TRANSPORT' } }] }.
import type { StripeEmulator } from '../../stripe-emulator/index.ts';
import { browserConfirmsSetup } from './payments.ts';

export interface Answer<T = any> {
  data?: T;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

export const RESULT = 'result { reservation { rowId status amount startsAt endsAt } manageToken }';

/** One GraphQL request; never throws, never waits longer than timeoutMs. */
export async function gqlAt<T = any>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
  timeoutMs = 15_000,
): Promise<Answer<T>> {
  try {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return (await res.json()) as Answer<T>;
  } catch (err) {
    return { errors: [{ message: (err as Error).message, extensions: { code: 'TRANSPORT' } }] };
  }
}

export const codeOf = (a: Answer): string | null => a.errors?.[0]?.extensions?.code ?? (a.errors ? 'UNKNOWN' : null);

export function reserveGuest(url: string, spotId: string, startsAt: Date, minutes: number, email: string) {
  return gqlAt(
    url,
    `mutation ($spotId: BigInt!, $startsAt: Datetime, $minutes: Int!, $email: String) {
    reserve(input: { spotId: $spotId, startsAt: $startsAt, durationMinutes: $minutes, email: $email }) { ${RESULT} } }`,
    { spotId, startsAt: startsAt.toISOString(), minutes, email },
  );
}

export function changeEnd(url: string, id: string, token: string, endsAt: Date) {
  return gqlAt(
    url,
    `mutation ($id: BigInt!, $endsAt: Datetime!, $token: String) {
    changeReservationEnd(input: { reservationId: $id, endsAt: $endsAt, manageToken: $token }) { ${RESULT} } }`,
    { id, endsAt: endsAt.toISOString(), token },
  );
}

export function endNow(url: string, id: string, token: string) {
  return gqlAt(
    url,
    `mutation ($id: BigInt!, $token: String) {
    endReservation(input: { reservationId: $id, manageToken: $token }) { ${RESULT} } }`,
    { id, token },
  );
}

export function cancel(url: string, id: string, token: string) {
  return gqlAt(
    url,
    `mutation ($id: BigInt!, $token: String) {
    cancelReservation(input: { reservationId: $id, manageToken: $token }) { ${RESULT} } }`,
    { id, token },
  );
}

/** Card set-up, the browser's confirmation (pm_card_visa) and confirmReservationPayment. */
export async function setUpCard(
  url: string,
  emulator: Pick<StripeEmulator, 'stripeConfig'>,
  id: string,
  token: string,
): Promise<Answer> {
  const setup = await gqlAt(
    url,
    `mutation ($id: BigInt!, $token: String) {
    setupReservationPayment(input: { reservationId: $id, manageToken: $token }) { clientSecret setupIntentStatus } }`,
    { id, token },
  );
  if (setup.errors) return setup;
  const secret: string = setup.data.setupReservationPayment.clientSecret;
  const confirmed = await browserConfirmsSetup(emulator, secret.split('_secret_')[0]!, 'pm_card_visa');
  if (confirmed instanceof Error) return { errors: [{ message: confirmed.message, extensions: { code: 'BROWSER' } }] };
  return gqlAt(
    url,
    `mutation ($id: BigInt!, $token: String) {
    confirmReservationPayment(input: { reservationId: $id, manageToken: $token }) { reservationStatus setupIntentStatus } }`,
    { id, token },
  );
}
