// /v1/payment_intents: create (optionally confirm, on or off session), confirm, retrieve,
// update, cancel, list. Confirmation charges the card: succeeded + latest_charge, or 402
// card_error / authentication_required with the PaymentIntent back in requires_payment_method.
import { AUTHENTICATION_REQUIRED, type Decline } from './cards.ts';
import { recordCharge } from './charges.ts';
import { authenticationFailure, cardError, cardErrorDetails } from './declines.ts';
import { invalidRequest, resourceMissing } from './errors.ts';
import type { RequestInfo } from './events.ts';
import {
  applyMetadata,
  bool,
  int,
  methodTypes,
  nullableStr,
  oneOf,
  rejectUnknown,
  rejectUnsupported,
  str,
  type Params,
} from './form.ts';
import { threeDSecureAction } from './next_action.ts';
import { cardState, setCustomer, usablePaymentMethod } from './payment_methods.ts';
import { route, type Core, type Route } from './routing.ts';
import { nowSeconds } from './ids.ts';
import { searchResult } from './search.ts';
import { makePaymentIntent, type PaymentIntent, type PaymentMethod } from './shapes.ts';
import { LIST_PARAMS, paginate } from './store.ts';

const ACCEPTED_BUT_IGNORED = [
  'automatic_payment_methods',
  'payment_method_options',
  'mandate',
  'mandate_data',
  'shipping',
  'transfer_group',
  'on_behalf_of',
  'use_stripe_sdk',
  'payment_method_configuration',
  'excluded_payment_method_types',
  'radar_options',
  'confirmation_token',
  'customer_account',
  'amount_details',
  'payment_details',
  'hooks',
];
const METHOD_TYPES = ['allowed_payment_method_types', 'payment_method_types'];
const UNSUPPORTED = ['payment_method_data', 'application_fee_amount', 'transfer_data'];
const CONFIRM_PARAMS = ['payment_method', 'off_session', 'return_url', 'error_on_requires_action'];
const CONFIRMABLE = ['requires_payment_method', 'requires_confirmation', 'requires_action'];
const CANCELABLE = [
  'requires_payment_method',
  'requires_capture',
  'requires_confirmation',
  'requires_action',
  'processing',
];
// Stripe's least charge per currency in minor units (its "minimum charge amounts"
// table); other currencies: 50.
const MIN_AMOUNTS: Record<string, number> = {
  gbp: 30,
  bgn: 100,
  aed: 200,
  myr: 200,
  pln: 200,
  ron: 200,
  dkk: 250,
  nok: 300,
  sek: 300,
  hkd: 400,
  mxn: 1000,
  thb: 1000,
  czk: 1500,
  huf: 17500,
};
const MAX_AMOUNT = 99_999_999;

export function requirePaymentIntent(core: Core, id: string, param = 'intent', status = 404): PaymentIntent {
  const pi = core.store.paymentIntents.get(id);
  if (!pi) throw resourceMissing('payment_intent', id, param, status);
  return pi;
}

function money(amount: number, currency: string): string {
  const symbol: Record<string, string> = { usd: '$', eur: '€', gbp: '£', cad: '$', aud: '$' };
  const s = symbol[currency];
  return s ? `${s}${(amount / 100).toFixed(2)}` : `${amount} ${currency} minor units`;
}

function readAmount(params: Params, currency: string): number {
  const amount = int(params, 'amount', true);
  const minimum = MIN_AMOUNTS[currency] ?? 50;
  if (amount < minimum) {
    throw invalidRequest(`Amount must be at least ${money(minimum, currency)} ${currency}`, {
      param: 'amount',
      code: 'amount_too_small',
    });
  }
  if (amount > MAX_AMOUNT) {
    throw invalidRequest(`Amount must be no more than ${money(MAX_AMOUNT, currency)}`, {
      param: 'amount',
      code: 'amount_too_large',
    });
  }
  return amount;
}

function readOffSession(params: Params): boolean {
  const v = params.off_session;
  if (v === 'one_off' || v === 'recurring') return true;
  return bool(params, 'off_session') ?? false;
}

type ConfirmOptions = {
  paymentMethod?: string;
  offSession: boolean;
  returnUrl?: string;
  errorOnRequiresAction: boolean;
};

function confirmOptions(params: Params): ConfirmOptions {
  return {
    paymentMethod: str(params, 'payment_method'),
    offSession: readOffSession(params),
    returnUrl: str(params, 'return_url'),
    errorOnRequiresAction: bool(params, 'error_on_requires_action') ?? false,
  };
}

function confirmPaymentIntent(
  core: Core,
  pi: PaymentIntent,
  opts: ConfirmOptions,
  request: RequestInfo,
): PaymentIntent {
  if (!CONFIRMABLE.includes(pi.status)) {
    throw invalidRequest(
      `You cannot confirm this PaymentIntent because it has a status of ${pi.status}. ` +
        'Only a PaymentIntent with one of the following statuses may be confirmed: requires_confirmation, requires_action, requires_payment_method.',
      { code: 'payment_intent_unexpected_state' },
    );
  }
  const pmId = opts.paymentMethod ?? pi.payment_method;
  if (!pmId) {
    throw invalidRequest(
      "You cannot confirm this PaymentIntent because it's missing a payment method. " +
        'Update the PaymentIntent with a payment method and then confirm it again.',
      { code: 'payment_intent_unexpected_state' },
    );
  }
  const pm = usablePaymentMethod(core, pmId, pi.customer, 'payment_method');
  const state = cardState(core, pm);
  pi.payment_method = pm.id;
  pi.last_payment_error = null;
  pi.next_action = null;

  let outcome: 'succeed' | 'decline' | 'action';
  switch (state.card.charge) {
    case 'succeed':
      outcome = 'succeed';
      break;
    case 'decline':
      outcome = 'decline';
      break;
    case 'authenticate_always':
      outcome = 'action';
      break;
    case 'authenticate_unless_set_up':
      outcome = opts.offSession && state.setUp ? 'succeed' : 'action';
      break;
  }
  if (outcome === 'succeed') return succeedPayment(core, pi, pm, request);
  if (outcome === 'decline') return failPayment(core, pi, pm, state.card.decline!, request);
  // 3-D Secure needed: an off-session payment (or error_on_requires_action) cannot do it.
  if (opts.offSession || opts.errorOnRequiresAction) return failPayment(core, pi, pm, AUTHENTICATION_REQUIRED, request);
  pi.status = 'requires_action';
  pi.next_action = threeDSecureAction(core, pi.id, opts.returnUrl);
  core.events.emit('payment_intent.requires_action', pi, request);
  return pi;
}

function succeedPayment(core: Core, pi: PaymentIntent, pm: PaymentMethod, request: RequestInfo | null): PaymentIntent {
  const charge = recordCharge(core, pi, pm, null);
  pi.status = 'succeeded';
  pi.amount_received = pi.amount;
  pi.latest_charge = charge.id;
  pi.payment_method = pm.id;
  pi.next_action = null;
  pi.last_payment_error = null;
  if (pi.setup_future_usage && pi.customer) {
    setCustomer(core, pm, pi.customer);
    if (pi.setup_future_usage === 'off_session') cardState(core, pm).setUp = true;
  }
  core.events.emit('payment_intent.succeeded', pi, request);
  return pi;
}

function failPayment(
  core: Core,
  pi: PaymentIntent,
  pm: PaymentMethod,
  decline: Decline,
  request: RequestInfo | null,
): never {
  const charge = recordCharge(core, pi, pm, decline);
  pi.status = 'requires_payment_method';
  pi.payment_method = null;
  pi.next_action = null;
  pi.latest_charge = charge.id;
  pi.last_payment_error = cardErrorDetails(decline, pm, charge.id);
  core.events.emit('payment_intent.payment_failed', pi, request);
  throw cardError(pi.last_payment_error, { payment_intent: pi });
}

/** Completes (or fails) the 3-D Secure step of a PaymentIntent in requires_action. */
export function authenticatePaymentIntent(core: Core, pi: PaymentIntent, succeed: boolean): PaymentIntent {
  if (pi.status !== 'requires_action') {
    throw invalidRequest(
      `PaymentIntent ${pi.id} has status ${pi.status}; only one in requires_action can be authenticated.`,
      {
        code: 'payment_intent_unexpected_state',
      },
    );
  }
  const pm = core.store.paymentMethods.get(pi.payment_method!)!;
  if (succeed) return succeedPayment(core, pi, pm, null);
  pi.status = 'requires_payment_method';
  pi.payment_method = null;
  pi.next_action = null;
  pi.last_payment_error = authenticationFailure('payment_intent', pm);
  core.events.emit('payment_intent.payment_failed', pi, null);
  return pi;
}

export const paymentIntentRoutes: Route[] = [
  // Before `/:id`, which would take "search" for an id.
  route('GET', '/v1/payment_intents/search', (core, { params }) => ({
    body: searchResult(core.store.paymentIntents.all, params, '/v1/payment_intents/search', [
      'amount',
      'currency',
      'customer',
      'status',
    ]),
  })),

  route('POST', '/v1/payment_intents', (core, { params, request }) => {
    rejectUnknown(params, [
      'amount',
      'currency',
      'customer',
      'confirm',
      'metadata',
      'description',
      'receipt_email',
      'setup_future_usage',
      'statement_descriptor',
      'statement_descriptor_suffix',
      'capture_method',
      'confirmation_method',
      ...METHOD_TYPES,
      'expand',
      ...CONFIRM_PARAMS,
      ...ACCEPTED_BUT_IGNORED,
      ...UNSUPPORTED,
    ]);
    rejectUnsupported(params, UNSUPPORTED);
    const currencyRaw = str(params, 'currency', true);
    if (!/^[a-zA-Z]{3}$/.test(currencyRaw))
      throw invalidRequest(`Invalid currency: ${currencyRaw}`, { param: 'currency' });
    const currency = currencyRaw.toLowerCase();
    const amount = readAmount(params, currency);
    const customer = str(params, 'customer');
    if (customer && !core.store.customers.get(customer)) throw resourceMissing('customer', customer, 'customer', 400);
    const confirm = bool(params, 'confirm') ?? false;
    if (!confirm) {
      for (const p of ['off_session', 'return_url', 'error_on_requires_action']) {
        if (params[p] !== undefined) throw invalidRequest(`You can only pass ${p} when confirm=true.`, { param: p });
      }
    }
    const captureMethod =
      oneOf(params, 'capture_method', ['automatic', 'automatic_async', 'manual'] as const) ?? 'automatic_async';
    if (captureMethod === 'manual') {
      throw invalidRequest('capture_method=manual is not supported by the Stripe emulator.', {
        param: 'capture_method',
      });
    }
    const opts = confirmOptions(params);
    if (confirm && !opts.paymentMethod) {
      throw invalidRequest('A payment_method is required when confirm=true.', {
        param: 'payment_method',
        code: 'parameter_missing',
      });
    }
    const pm = opts.paymentMethod
      ? usablePaymentMethod(core, opts.paymentMethod, customer ?? null, 'payment_method')
      : null;
    const pi = makePaymentIntent({
      amount,
      currency,
      customer: customer ?? null,
      paymentMethod: pm?.id ?? null,
      metadata: applyMetadata(params),
      description: str(params, 'description') ?? null,
      receiptEmail: str(params, 'receipt_email') ?? null,
      setupFutureUsage: oneOf(params, 'setup_future_usage', ['off_session', 'on_session'] as const) ?? null,
      methodTypes: methodTypes(params) ?? { allowed: null, types: ['card'] },
      statementDescriptor: str(params, 'statement_descriptor') ?? null,
      statementDescriptorSuffix: str(params, 'statement_descriptor_suffix') ?? null,
      captureMethod,
      confirmationMethod: oneOf(params, 'confirmation_method', ['automatic', 'manual'] as const) ?? 'automatic',
    });
    core.store.paymentIntents.add(pi, pi.customer);
    if (confirm) confirmPaymentIntent(core, pi, { ...opts, paymentMethod: undefined }, request);
    return { body: pi };
  }),

  route('GET', '/v1/payment_intents/:id', (core, { params, ids: [id] }) => {
    rejectUnknown(params, ['client_secret', 'expand']);
    return { body: requirePaymentIntent(core, id!) };
  }),

  route('POST', '/v1/payment_intents/:id', (core, { params, ids: [id] }) => {
    rejectUnknown(params, [
      'amount',
      'currency',
      'customer',
      'metadata',
      'description',
      'receipt_email',
      'payment_method',
      'setup_future_usage',
      'statement_descriptor',
      'statement_descriptor_suffix',
      ...METHOD_TYPES,
      'expand',
      ...ACCEPTED_BUT_IGNORED,
      ...UNSUPPORTED,
    ]);
    rejectUnsupported(params, UNSUPPORTED);
    const pi = requirePaymentIntent(core, id!);
    const onlyMetadataLike = Object.keys(params).every((k) =>
      ['metadata', 'description', 'receipt_email', 'expand'].includes(k),
    );
    if (!CONFIRMABLE.includes(pi.status) && !onlyMetadataLike) {
      throw invalidRequest(
        `This PaymentIntent could not be updated because it has a status of ${pi.status}. ` +
          'You may only update a PaymentIntent with one of the following statuses: requires_payment_method, requires_confirmation, requires_action.',
        { code: 'payment_intent_unexpected_state' },
      );
    }
    const currency = str(params, 'currency');
    if (currency) pi.currency = currency.toLowerCase();
    if (params.amount !== undefined) pi.amount = readAmount(params, pi.currency);
    const customer = str(params, 'customer');
    if (customer) {
      if (!core.store.customers.get(customer)) throw resourceMissing('customer', customer, 'customer', 400);
      if (pi.customer && pi.customer !== customer)
        throw invalidRequest('The customer of a PaymentIntent cannot be changed.', { param: 'customer' });
      if (!pi.customer) core.store.paymentIntents.index(pi, customer);
      pi.customer = customer;
    }
    const pmId = str(params, 'payment_method');
    if (pmId) {
      pi.payment_method = usablePaymentMethod(core, pmId, pi.customer, 'payment_method').id;
      if (pi.status === 'requires_payment_method') pi.status = 'requires_confirmation';
    }
    for (const f of ['description', 'receipt_email', 'statement_descriptor', 'statement_descriptor_suffix'] as const) {
      const v = nullableStr(params, f);
      if (v !== undefined) pi[f] = v;
    }
    const sfu = oneOf(params, 'setup_future_usage', ['off_session', 'on_session'] as const);
    if (sfu) pi.setup_future_usage = sfu;
    const types = methodTypes(params);
    if (types) {
      pi.allowed_payment_method_types = types.allowed;
      pi.payment_method_types = types.types;
    }
    pi.metadata = applyMetadata(params, pi.metadata);
    return { body: pi };
  }),

  route('POST', '/v1/payment_intents/:id/confirm', (core, { params, ids: [id], request }) => {
    rejectUnknown(params, [
      ...CONFIRM_PARAMS,
      'expand',
      'client_secret',
      'mandate',
      'mandate_data',
      'payment_method_options',
      'use_stripe_sdk',
      'setup_future_usage',
      'receipt_email',
      'shipping',
      'confirmation_token',
      'radar_options',
      'allowed_payment_method_types',
      'excluded_payment_method_types',
      'amount_details',
      'amount_to_confirm',
      'capture_method',
      'hooks',
      'payment_details',
      'payment_method_data',
    ]);
    rejectUnsupported(params, ['payment_method_data']);
    if (params.capture_method === 'manual')
      throw invalidRequest('capture_method=manual is not supported by the Stripe emulator.', {
        param: 'capture_method',
      });
    return { body: confirmPaymentIntent(core, requirePaymentIntent(core, id!), confirmOptions(params), request) };
  }),

  route('POST', '/v1/payment_intents/:id/cancel', (core, { params, ids: [id], request }) => {
    rejectUnknown(params, ['cancellation_reason', 'expand']);
    const pi = requirePaymentIntent(core, id!);
    if (!CANCELABLE.includes(pi.status)) {
      throw invalidRequest(
        `You cannot cancel this PaymentIntent because it has a status of ${pi.status}. ` +
          `Only a PaymentIntent with one of the following statuses may be canceled: ${CANCELABLE.join(', ')}.`,
        { code: 'payment_intent_unexpected_state' },
      );
    }
    pi.status = 'canceled';
    pi.canceled_at = nowSeconds();
    pi.next_action = null;
    pi.cancellation_reason =
      oneOf(params, 'cancellation_reason', [
        'duplicate',
        'fraudulent',
        'requested_by_customer',
        'abandoned',
      ] as const) ?? null;
    core.events.emit('payment_intent.canceled', pi, request);
    return { body: pi };
  }),

  route('GET', '/v1/payment_intents', (core, { params }) => {
    rejectUnknown(params, [...LIST_PARAMS, 'customer', 'customer_account']);
    return { body: paginate(core.store.paymentIntents.scope(str(params, 'customer')), params, '/v1/payment_intents') };
  }),
];
