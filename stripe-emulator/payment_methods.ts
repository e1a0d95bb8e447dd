// /v1/payment_methods: test ids (`pm_card_visa`, …) become concrete `pm_…` objects when used,
// like on Stripe; retrieve, list per customer, attach, detach, update.
import { TEST_CARDS, isTestPaymentMethodId } from './cards.ts';
import { cardErrorDetails, cardError } from './declines.ts';
import { invalidRequest, resourceMissing } from './errors.ts';
import { applyMetadata, hash, nullableStr, oneOf, rejectUnknown, str } from './form.ts';
import { route, type Core, type Route } from './routing.ts';
import { makePaymentMethod, type Customer, type PaymentMethod } from './shapes.ts';
import { LIST_PARAMS, paginate, type CardState } from './store.ts';

/**
 * The PaymentMethod a parameter names. A test id creates a fresh unattached `pm_…` each time
 * (as Stripe does); an unknown id is a 400 (or `status`) resource_missing on `param`.
 */
export function findPaymentMethod(core: Core, id: string, param: string, status = 400): PaymentMethod {
  if (isTestPaymentMethodId(id)) {
    const card = TEST_CARDS[id];
    if (!card) throw resourceMissing('PaymentMethod', id, param, status);
    const pm = makePaymentMethod(card);
    core.store.paymentMethods.add(pm);
    core.store.cardStates.set(pm.id, { card, setUp: false });
    return pm;
  }
  const pm = core.store.paymentMethods.get(id);
  if (!pm) throw resourceMissing('PaymentMethod', id, param, status);
  return pm;
}

export function cardState(core: Core, pm: PaymentMethod): CardState {
  return core.store.cardStates.get(pm.id)!;
}

export function setCustomer(core: Core, pm: PaymentMethod, customer: string | null): void {
  if (pm.customer === customer) return;
  if (pm.customer) core.store.paymentMethods.unindex(pm, pm.customer);
  pm.customer = customer;
  if (customer) core.store.paymentMethods.index(pm, customer);
}

/** A PaymentMethod that may be used for `customer` (not attached to someone else). */
export function usablePaymentMethod(core: Core, id: string, customer: string | null, param: string): PaymentMethod {
  const pm = findPaymentMethod(core, id, param);
  if (pm.customer && pm.customer !== customer) {
    throw invalidRequest(
      customer
        ? `The provided PaymentMethod ${pm.id} belongs to a different Customer than the one provided (${customer}).`
        : `The provided PaymentMethod ${pm.id} is attached to a Customer. Provide its Customer ID to use it.`,
      { param, code: 'payment_method_invalid_parameter' },
    );
  }
  return pm;
}

/** Attach (what `paymentMethods.attach` and `customers.create({ payment_method })` do). */
export function attachPaymentMethod(core: Core, id: string, customer: Customer, param: string): PaymentMethod {
  const pm = findPaymentMethod(core, id, param);
  if (pm.customer === customer.id) return pm;
  if (pm.customer) {
    throw invalidRequest('The payment method you provided has already been attached to a customer.', { param, code: 'payment_method_unexpected_state' });
  }
  const state = cardState(core, pm);
  if (state.card.setup === 'decline') throw cardError(cardErrorDetails(state.card.decline!, pm));
  setCustomer(core, pm, customer.id);
  return pm;
}

export const paymentMethodRoutes: Route[] = [
  route('GET', '/v1/payment_methods/:id', (core, { ids: [id] }) => ({ body: findPaymentMethod(core, id!, 'id', 404) })),

  route('GET', '/v1/payment_methods', (core, { params }) => {
    rejectUnknown(params, [...LIST_PARAMS, 'customer', 'type']);
    const customer = str(params, 'customer');
    const type = oneOf(params, 'type', ['card'] as const);
    void type;
    if (customer && !core.store.customers.get(customer)) throw resourceMissing('customer', customer, 'customer', 400);
    return { body: paginate(core.store.paymentMethods.scope(customer), params, '/v1/payment_methods') };
  }),

  route('GET', '/v1/customers/:id/payment_methods', (core, { params, ids: [id] }) => {
    rejectUnknown(params, [...LIST_PARAMS, 'type', 'allow_redisplay']);
    if (!core.store.customers.get(id!)) throw resourceMissing('customer', id!, 'customer');
    return { body: paginate(core.store.paymentMethods.scope(id!), params, `/v1/customers/${id}/payment_methods`) };
  }),

  route('POST', '/v1/payment_methods/:id/attach', (core, { params, ids: [id] }) => {
    rejectUnknown(params, ['customer', 'expand']);
    const customerId = str(params, 'customer', true);
    const customer = core.store.customers.get(customerId);
    if (!customer) throw resourceMissing('customer', customerId, 'customer', 400);
    if (!isTestPaymentMethodId(id!) && !core.store.paymentMethods.get(id!)) throw resourceMissing('PaymentMethod', id!, 'id');
    return { body: attachPaymentMethod(core, id!, customer, 'id') };
  }),

  route('POST', '/v1/payment_methods/:id/detach', (core, { params, ids: [id] }) => {
    rejectUnknown(params, ['expand']);
    const pm = findPaymentMethod(core, id!, 'id', 404);
    if (!pm.customer) {
      throw invalidRequest(`The payment method ${pm.id} is not attached to a customer so detachment is impossible.`, {
        code: 'payment_method_unexpected_state',
      });
    }
    setCustomer(core, pm, null);
    return { body: pm };
  }),

  route('POST', '/v1/payment_methods/:id', (core, { params, ids: [id] }) => {
    rejectUnknown(params, ['metadata', 'billing_details', 'allow_redisplay', 'card', 'expand']);
    const pm = findPaymentMethod(core, id!, 'id', 404);
    pm.metadata = applyMetadata(params, pm.metadata);
    const billing = hash(params, 'billing_details');
    if (billing) {
      for (const f of ['email', 'name', 'phone'] as const) {
        const v = nullableStr(billing, f);
        if (v !== undefined) pm.billing_details[f] = v;
      }
    }
    return { body: pm };
  }),
];
