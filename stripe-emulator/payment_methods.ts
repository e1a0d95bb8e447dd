// /v1/payment_methods: test ids (`pm_card_visa`, …) become concrete `pm_…` objects when used,
// like on Stripe; create from a typed test card number (what Stripe.js's card element does),
// retrieve, list per customer, attach, detach, update.
import { TEST_CARDS, isTestPaymentMethodId, testCardForNumber } from './cards.ts';
import { cardErrorDetails, cardError } from './declines.ts';
import { ApiError, docUrl, invalidRequest, resourceMissing } from './errors.ts';
import { applyMetadata, hash, nullableStr, oneOf, rejectUnknown, str, type Params } from './form.ts';
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
    throw invalidRequest('The payment method you provided has already been attached to a customer.', {
      param,
      code: 'payment_method_unexpected_state',
    });
  }
  const state = cardState(core, pm);
  if (state.card.setup === 'decline') throw cardError(cardErrorDetails(state.card.decline!, pm));
  setCustomer(core, pm, customer.id);
  return pm;
}

/** A 402 card_error about the typed card itself, worded like Stripe's. */
function typedCardError(code: string, message: string, param: string): ApiError {
  return new ApiError(402, { type: 'card_error', code, doc_url: docUrl(code), message, param });
}

/** The card of `POST /v1/payment_methods`: number, expiry and CVC checked as Stripe checks them. */
function typedCard(card: Params) {
  const number = str(card, 'number', true);
  const found = testCardForNumber(number);
  if (found === 'invalid') throw typedCardError('incorrect_number', 'Your card number is incorrect.', 'card[number]');
  const month = Number(str(card, 'exp_month', true));
  if (!Number.isInteger(month) || month < 1 || month > 12) {
    throw typedCardError('invalid_expiry_month', "Your card's expiration month is invalid.", 'card[exp_month]');
  }
  let year = Number(str(card, 'exp_year', true));
  if (year < 100) year += 2000;
  const now = new Date();
  if (
    !Number.isInteger(year) ||
    year < now.getUTCFullYear() ||
    (year === now.getUTCFullYear() && month < now.getUTCMonth() + 1)
  ) {
    throw typedCardError('invalid_expiry_year', "Your card's expiration year is invalid.", 'card[exp_year]');
  }
  const cvc = str(card, 'cvc');
  if (cvc !== undefined && !/^\d{3,4}$/.test(cvc))
    throw typedCardError('invalid_cvc', "Your card's security code is invalid.", 'card[cvc]');
  if (found === null) {
    throw typedCardError(
      'card_declined',
      'Your card was declined. Your request was in test mode, but used a non test card. For a list of valid test cards, visit: https://stripe.com/docs/testing.',
      'card[number]',
    );
  }
  return { card: found, month, year };
}

export const paymentMethodRoutes: Route[] = [
  route('POST', '/v1/payment_methods', (core, { params }) => {
    rejectUnknown(params, ['type', 'card', 'billing_details', 'metadata', 'allow_redisplay', 'expand']);
    if (oneOf(params, 'type', ['card'] as const) === undefined)
      throw invalidRequest('Missing required param: type.', { param: 'type', code: 'parameter_missing' });
    const card = hash(params, 'card');
    if (!card) throw invalidRequest('Missing required param: card.', { param: 'card', code: 'parameter_missing' });
    const typed = typedCard(card);
    const pm = makePaymentMethod(typed.card);
    pm.card.exp_month = typed.month;
    pm.card.exp_year = typed.year;
    pm.metadata = applyMetadata(params);
    const billing = hash(params, 'billing_details');
    for (const f of ['email', 'name', 'phone'] as const) {
      const v = billing ? nullableStr(billing, f) : undefined;
      if (v !== undefined) pm.billing_details[f] = v;
    }
    core.store.paymentMethods.add(pm);
    core.store.cardStates.set(pm.id, { card: typed.card, setUp: false });
    return { body: pm };
  }),

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
    if (!isTestPaymentMethodId(id!) && !core.store.paymentMethods.get(id!))
      throw resourceMissing('PaymentMethod', id!, 'id');
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
