// GraphQL mutations that must call Stripe during the request: card set-up,
// its confirmation, and operator refunds. SQL decides who may do what (the
// app_hidden.payment_* / refund_* functions run as the request's role and
// re-authorise on every call); this file only sequences the Stripe calls
// between short transactions:
//   prepare (rows and idempotency keys committed) → Stripe → record.
// Nothing is held open while Stripe answers, and a retried request re-sends
// the same idempotency keys, so it never makes a second customer, SetupIntent
// or refund.
import { context, sideEffect, type FieldArgs } from 'postgraphile/grafast';
import { extendSchema, gql } from 'postgraphile/utils';
import type Stripe from 'stripe';
import type { StripeConfig } from '../../lib/stripe_client.ts';
import { idOf, isCardError, isTransientStripeError, stripeClient } from '../../lib/stripe_client.ts';
import { CodedError } from '../errors.ts';

export type WithPgClient = <T>(
  pgSettings: Record<string, string | undefined> | null,
  callback: (client: {
    query<R>(q: { text: string; values?: unknown[] }): Promise<{ rows: readonly R[] }>;
  }) => Promise<T>,
) => Promise<T>;

export interface Db {
  withPgClient: WithPgClient;
  pgSettings: Record<string, string | undefined>;
}

/** One SQL function call returning jsonb, in its own transaction, as the request's role. */
async function call<T>(db: Db, fn: string, args: unknown[]): Promise<T> {
  const placeholders = args.map((_, i) => `$${i + 1}`).join(', ');
  return db.withPgClient(db.pgSettings, async (client) => {
    const {
      rows: [row],
    } = await client.query<{ result: T }>({ text: `select ${fn}(${placeholders}) as result`, values: args });
    return row.result;
  });
}

/** Stripe errors a client can act on become documented codes; the rest stay internal. */
function translateStripeError(err: unknown): never {
  if (isCardError(err)) throw new CodedError('SMP08', `The card was refused: ${err.message}`);
  if (isTransientStripeError(err))
    throw new CodedError('SMP04', 'The payment provider could not be reached; try again.');
  throw err;
}

interface SetupState {
  reservationId: string;
  reservationStatus: string;
  email: string;
  userId: string | null;
  customerRowId: string;
  customerKey: string;
  stripeCustomerId: string | null;
  generation: number;
  setupKey: string;
  setupIntentId: string | null;
  clientSecret: string | null;
  setupStatus: string;
  /** Whether the reservation takes a card now (held, or its payment failed: app_hidden.takes_card). */
  takesCard: boolean;
  /** Set up at Stripe but left held because the card has an unpaid failed charge (else its limit held it). */
  cardUnpaid: boolean;
}

function intentJson(si: Stripe.SetupIntent) {
  const pm = si.payment_method;
  return {
    id: si.id,
    client_secret: si.client_secret,
    status: si.status,
    payment_method: idOf(pm),
    // The card's, when the PaymentMethod came expanded (confirmReservationPayment): SQL bounds what one card backs.
    card_fingerprint: typeof pm === 'object' && pm ? (pm.card?.fingerprint ?? null) : null,
  };
}

/**
 * A set-up that succeeded at Stripe on a reservation left held: only the card's
 * rules do that — an unpaid failed charge (card_unpaid), else its limit (card_at_limit).
 */
function refuseIfCardRefused(s: SetupState): void {
  if (s.setupStatus !== 'succeeded' || s.reservationStatus !== 'held') return;
  if (s.cardUnpaid) {
    throw new CodedError(
      'SMP10',
      'This card has an unpaid reservation whose charge failed: give this reservation another card (setupReservationPayment again), or confirm again once that one is paid.',
    );
  }
  throw new CodedError(
    'SMP09',
    'This card already pays for as many upcoming reservations as one card may: give this reservation another card (setupReservationPayment again), or confirm again once one of them is over.',
  );
}

function payload(s: SetupState) {
  return {
    reservationId: s.reservationId,
    reservationStatus: s.reservationStatus,
    setupIntentId: s.setupIntentId,
    setupIntentStatus: s.setupStatus,
    clientSecret: s.clientSecret,
  };
}

/** Stripe's answer when the customer on file no longer exists there. */
function isMissingCustomer(err: unknown): boolean {
  const e = err as { code?: string; param?: string };
  return e?.code === 'resource_missing' && e.param === 'customer';
}

async function setupReservationPayment(
  stripe: Stripe,
  db: Db,
  reservationId: string | null,
  manageToken: string | null,
) {
  let s = await call<SetupState>(db, 'app_hidden.payment_setup_prepare', [reservationId, manageToken]);
  if (s.setupIntentId && s.clientSecret) return payload(s);
  // Twice at most: a customer recorded here but gone at Stripe (deleted there, or the
  // development emulator restarted) is forgotten and made again, once.
  for (let attempt = 1; ; attempt++) {
    try {
      let customerId = s.stripeCustomerId;
      if (!customerId) {
        const customer = await stripe.customers.create(
          {
            email: s.email,
            metadata: s.userId ? { user_id: String(s.userId) } : { guest: 'true' },
          },
          { idempotencyKey: s.customerKey },
        );
        customerId = await call<string>(db, 'app_hidden.payment_customer_record', [
          reservationId,
          manageToken,
          customer.id,
        ]);
      }
      const intent = await stripe.setupIntents.create(
        {
          customer: customerId,
          usage: 'off_session',
          metadata: { reservation_id: String(s.reservationId), generation: String(s.generation) },
        },
        { idempotencyKey: s.setupKey },
      );
      s = await call<SetupState>(db, 'app_hidden.payment_setup_record', [
        reservationId,
        manageToken,
        intentJson(intent),
      ]);
      return payload(s);
    } catch (err) {
      if (attempt === 1 && isMissingCustomer(err) && s.stripeCustomerId) {
        s = await call<SetupState>(db, 'app_hidden.payment_customer_forget', [
          reservationId,
          manageToken,
          s.stripeCustomerId,
        ]);
        continue;
      }
      translateStripeError(err);
    }
  }
}

async function confirmReservationPayment(
  stripe: Stripe,
  db: Db,
  reservationId: string | null,
  manageToken: string | null,
) {
  const s = await call<SetupState>(db, 'app_hidden.payment_setup_lookup', [reservationId, manageToken]);
  if (s.setupStatus === 'succeeded') {
    refuseIfCardRefused(s);
    return payload(s);
  }
  let intent: Stripe.SetupIntent;
  try {
    intent = await stripe.setupIntents.retrieve(s.setupIntentId!, { expand: ['payment_method'] });
  } catch (err) {
    translateStripeError(err);
  }
  const after = await call<SetupState>(db, 'app_hidden.payment_setup_record', [
    reservationId,
    manageToken,
    intentJson(intent),
  ]);
  if (after.setupStatus !== 'succeeded') {
    // Finishing it would change nothing on a reservation that takes no card any more (expired, cancelled, …).
    if (!after.takesCard) {
      throw new CodedError(
        'SMP02',
        `Reservation ${reservationId} is ${after.reservationStatus}: only a held reservation, or one whose payment failed, takes a card.`,
      );
    }
    // A card the bank declined leaves the set-up waiting for another card, with the reason.
    const declined = intent.status === 'requires_payment_method' ? intent.last_setup_error : null;
    if (declined) throw new CodedError('SMP08', `The card was refused: ${declined.message ?? declined.code}`);
    throw new CodedError('SMP03', `The card set-up is not finished (Stripe says ${intent.status}).`);
  }
  refuseIfCardRefused(after);
  return payload(after);
}

interface RefundState {
  refundId: string;
  amount: number;
  currency: string;
  idempotencyKey: string;
  paymentIntentId: string;
}

async function refundReservation(stripe: Stripe, db: Db, reservationId: string | null, amount: number | null) {
  const r = await call<RefundState>(db, 'app_hidden.refund_prepare', [reservationId, amount]);
  let refund: Stripe.Refund;
  try {
    refund = await stripe.refunds.create(
      {
        payment_intent: r.paymentIntentId,
        amount: r.amount,
        metadata: { reservation_id: String(reservationId), refund_id: String(r.refundId) },
      },
      { idempotencyKey: r.idempotencyKey },
    );
  } catch (err) {
    if (err instanceof Error && !isTransientStripeError(err) && (err as { statusCode?: number }).statusCode === 400) {
      // Stripe refused it for good (e.g. already refunded there): record that, then say so.
      await call(db, 'app_hidden.refund_record', [r.refundId, null, 'failed', err.message]);
      throw new CodedError('SMP06', `Stripe refused the refund: ${err.message}`);
    }
    translateStripeError(err);
  }
  return call<Record<string, unknown>>(db, 'app_hidden.refund_record', [r.refundId, refund.id, refund.status, null]);
}

/** The mutations' bodies, for tests that act as a role without an HTTP session. */
export const paymentOperations = { setupReservationPayment, confirmReservationPayment, refundReservation };

/** What each mutation body receives besides the Stripe client and the request's database access. */
type PaymentOperation<A> = (stripe: Stripe, db: Db, reservationId: string | null, arg: A | null) => Promise<unknown>;

export function makePaymentsPlugin(stripeConfig: StripeConfig): GraphileConfig.Plugin {
  /**
   * The plan of a mutation whose whole body is `operation`: it runs once, as a
   * side effect, with the request's withPgClient and pgSettings (so SQL sees the
   * request's role), the input's reservationId and one more input field.
   */
  const plan =
    <A>(operation: PaymentOperation<A>, argName: string) =>
    (_: unknown, fieldArgs: FieldArgs) => {
      const $context = context();
      return sideEffect(
        [
          fieldArgs.getRaw(['input', 'reservationId']),
          fieldArgs.getRaw(['input', argName]),
          $context.get('withPgClient'),
          $context.get('pgSettings'),
        ],
        ([reservationId, arg, withPgClient, pgSettings]) =>
          operation(
            stripeClient(stripeConfig),
            { withPgClient: withPgClient as WithPgClient, pgSettings: pgSettings as Db['pgSettings'] },
            reservationId == null ? null : String(reservationId),
            (arg as A | null | undefined) ?? null,
          ),
      );
    };
  return extendSchema(() => ({
    typeDefs: gql`
      input SetupReservationPaymentInput {
        "Left out: SMB06, as for every reservation operation."
        reservationId: BigInt
        "A guest's manage token (signed-in drivers and staff leave it out)."
        manageToken: String
      }
      input ConfirmReservationPaymentInput {
        reservationId: BigInt
        manageToken: String
      }
      input RefundReservationInput {
        reservationId: BigInt
        "Minor units; leave out for everything still refundable."
        amount: Int
      }
      """
      A reservation's card set-up: pass clientSecret to Stripe.js (confirmCardSetup) in the browser.
      """
      type ReservationPaymentPayload {
        reservationId: BigInt!
        "held until the card is set up, then confirmed."
        reservationStatus: String!
        setupIntentId: String
        "Stripe's SetupIntent status: requires_payment_method, requires_action, succeeded, …"
        setupIntentStatus: String!
        clientSecret: String
      }
      type RefundReservationPayload {
        refundId: BigInt!
        reservationId: BigInt!
        amount: Int!
        currency: String!
        "succeeded or failed."
        status: String!
        "Everything refunded on this reservation so far, in minor units."
        refundedTotal: Int!
      }
      extend type Mutation {
        """
        Creates (or returns) the Stripe customer and SetupIntent (usage off_session) of a held
        reservation, or of one whose payment failed (a new card). Idempotent.
        """
        setupReservationPayment(input: SetupReservationPaymentInput!): ReservationPaymentPayload
        """
        Re-reads the reservation's SetupIntent from Stripe and confirms the reservation once it
        succeeded (for clients that cannot wait for the webhook). Idempotent.
        """
        confirmReservationPayment(input: ConfirmReservationPaymentInput!): ReservationPaymentPayload
        "Operators: refund a charged reservation, in full or in part."
        refundReservation(input: RefundReservationInput!): RefundReservationPayload
      }
    `,
    objects: {
      Mutation: {
        plans: {
          setupReservationPayment: plan(setupReservationPayment, 'manageToken'),
          confirmReservationPayment: plan(confirmReservationPayment, 'manageToken'),
          refundReservation: plan(refundReservation, 'amount'),
        },
      },
    },
  }));
}
