// Charges: created by PaymentIntent confirmation (succeeded or failed), read by /v1/charges.
import type { Decline } from './cards.ts';
import { resourceMissing } from './errors.ts';
import { applyMetadata, nullableStr, rejectUnknown, str } from './form.ts';
import { route, type Core, type Route } from './routing.ts';
import { makeCharge, type Charge, type PaymentIntent, type PaymentMethod } from './shapes.ts';
import { LIST_PARAMS, paginate } from './store.ts';

export function recordCharge(core: Core, pi: PaymentIntent, pm: PaymentMethod, failure: Decline | null): Charge {
  // Indexed by customer and by PaymentIntent id (the keys' prefixes cannot collide).
  return core.store.charges.add(makeCharge(pi, pm, failure), pi.customer, pi.id);
}

export function requireCharge(core: Core, id: string, param = 'id', status = 404): Charge {
  const ch = core.store.charges.get(id);
  if (!ch) throw resourceMissing('charge', id, param, status);
  return ch;
}

export const chargeRoutes: Route[] = [
  route('GET', '/v1/charges/:id', (core, { params, ids: [id] }) => {
    rejectUnknown(params, ['expand']);
    return { body: requireCharge(core, id!) };
  }),

  route('POST', '/v1/charges/:id', (core, { params, ids: [id] }) => {
    rejectUnknown(params, [
      'metadata',
      'description',
      'receipt_email',
      'expand',
      'fraud_details',
      'shipping',
      'transfer_group',
    ]);
    const ch = requireCharge(core, id!);
    ch.metadata = applyMetadata(params, ch.metadata);
    const description = nullableStr(params, 'description');
    if (description !== undefined) ch.description = description;
    const receiptEmail = nullableStr(params, 'receipt_email');
    if (receiptEmail !== undefined) ch.receipt_email = receiptEmail;
    return { body: ch };
  }),

  route('GET', '/v1/charges', (core, { params }) => {
    rejectUnknown(params, [...LIST_PARAMS, 'customer', 'payment_intent', 'transfer_group']);
    const pi = str(params, 'payment_intent');
    const customer = str(params, 'customer');
    const scope = pi ? core.store.charges.scope(pi) : core.store.charges.scope(customer);
    return {
      body: paginate(scope, params, '/v1/charges', pi && customer ? (ch) => ch.customer === customer : undefined),
    };
  }),
];
