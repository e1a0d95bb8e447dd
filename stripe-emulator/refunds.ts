// /v1/refunds: full or partial refunds of a PaymentIntent's (or a charge's) successful charge;
// never more than what remains unrefunded. Refunds succeed at once.
import { requireCharge } from './charges.ts';
import { invalidRequest, resourceMissing } from './errors.ts';
import { applyMetadata, int, oneOf, rejectUnknown, str } from './form.ts';
import { requirePaymentIntent } from './payment_intents.ts';
import { route, type Route } from './routing.ts';
import { makeRefund, type Charge, type Refund } from './shapes.ts';
import { LIST_PARAMS, paginate } from './store.ts';

function format(amount: number, currency: string): string {
  return currency === 'usd'
    ? `$${(amount / 100).toFixed(2)}`
    : `${(amount / 100).toFixed(2)} ${currency.toUpperCase()}`;
}

export const refundRoutes: Route[] = [
  route('POST', '/v1/refunds', (core, { params, request }) => {
    rejectUnknown(params, [
      'payment_intent',
      'charge',
      'amount',
      'reason',
      'metadata',
      'expand',
      'currency',
      'customer',
      'instructions_email',
      'origin',
      'refund_application_fee',
      'reverse_transfer',
    ]);
    const piId = str(params, 'payment_intent');
    const chId = str(params, 'charge');
    if (!piId && !chId)
      throw invalidRequest(
        'One of the following params should be provided for this request: payment_intent or charge.',
        { code: 'parameter_missing' },
      );
    let charge: Charge;
    if (piId) {
      const pi = requirePaymentIntent(core, piId, 'payment_intent', 400);
      if (pi.status !== 'succeeded' || !pi.latest_charge) {
        throw invalidRequest(`This PaymentIntent (${pi.id}) does not have a successful charge to refund.`, {
          param: 'payment_intent',
        });
      }
      charge = requireCharge(core, pi.latest_charge, 'payment_intent', 400);
      if (chId && chId !== charge.id)
        throw invalidRequest('The charge does not belong to this PaymentIntent.', { param: 'charge' });
    } else {
      charge = requireCharge(core, chId!, 'charge', 400);
      if (charge.status !== 'succeeded')
        throw invalidRequest(`Charge ${charge.id} has not succeeded and cannot be refunded.`, { param: 'charge' });
    }
    const remaining = charge.amount_captured - charge.amount_refunded;
    if (remaining <= 0) {
      throw invalidRequest(`Charge ${charge.id} has already been refunded.`, { code: 'charge_already_refunded' });
    }
    const amount = int(params, 'amount') ?? remaining;
    if (amount <= 0)
      throw invalidRequest('Refund amount must be a positive integer.', {
        param: 'amount',
        code: 'parameter_invalid_integer',
      });
    if (amount > remaining) {
      throw invalidRequest(
        `Refund amount (${format(amount, charge.currency)}) is greater than unrefunded amount on charge (${format(remaining, charge.currency)})`,
        { param: 'amount', code: 'amount_too_large' },
      );
    }
    const reason = oneOf(params, 'reason', ['duplicate', 'fraudulent', 'requested_by_customer'] as const) ?? null;
    const refund = makeRefund(charge, amount, reason, applyMetadata(params));
    core.store.refunds.add(refund, charge.id, charge.payment_intent);
    const previous = { amount_refunded: charge.amount_refunded, refunded: charge.refunded };
    charge.amount_refunded += amount;
    charge.refunded = charge.amount_refunded === charge.amount_captured;
    core.events.emit('refund.created', refund, request);
    core.events.emit('charge.refunded', charge, request, previous);
    return { body: refund };
  }),

  route('GET', '/v1/refunds/:id', (core, { params, ids: [id] }) => {
    rejectUnknown(params, ['expand']);
    const refund = core.store.refunds.get(id!);
    if (!refund) throw resourceMissing('refund', id!, 'id');
    return { body: refund };
  }),

  route('POST', '/v1/refunds/:id', (core, { params, ids: [id] }) => {
    rejectUnknown(params, ['metadata', 'expand']);
    const refund: Refund | undefined = core.store.refunds.get(id!);
    if (!refund) throw resourceMissing('refund', id!, 'id');
    refund.metadata = applyMetadata(params, refund.metadata);
    return { body: refund };
  }),

  route('GET', '/v1/refunds', (core, { params }) => {
    rejectUnknown(params, [...LIST_PARAMS, 'charge', 'payment_intent']);
    const key = str(params, 'charge') ?? str(params, 'payment_intent');
    return { body: paginate(core.store.refunds.scope(key), params, '/v1/refunds') };
  }),
];
