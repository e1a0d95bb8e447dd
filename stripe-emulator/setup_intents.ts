// /v1/setup_intents: requires_payment_method → (requires_confirmation) → confirm →
// succeeded | requires_action (3-D Secure) | requires_payment_method + last_setup_error (402).
import { authenticationFailure, cardError, cardErrorDetails } from './declines.ts';
import { invalidRequest, resourceMissing } from './errors.ts';
import type { RequestInfo } from './events.ts';
import {
  applyMetadata,
  bool,
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
import { makeSetupIntent, type IntentError, type PaymentMethod, type SetupIntent } from './shapes.ts';
import { LIST_PARAMS, paginate } from './store.ts';

const ACCEPTED_BUT_IGNORED = [
  'automatic_payment_methods',
  'payment_method_options',
  'mandate_data',
  'on_behalf_of',
  'flow_directions',
  'attach_to_self',
  'use_stripe_sdk',
  'single_use',
  'payment_method_configuration',
  'excluded_payment_method_types',
  'confirmation_token',
  'customer_account',
];
const METHOD_TYPES = ['allowed_payment_method_types', 'payment_method_types'];
const UNSUPPORTED = ['payment_method_data'];

/** Only return_url travels from create to confirm (payment_method is already resolved). */
export function pickReturnUrl(params: Params): Params {
  return params.return_url === undefined ? {} : { return_url: params.return_url };
}

export function requireSetupIntent(core: Core, id: string): SetupIntent {
  const si = core.store.setupIntents.get(id);
  if (!si) throw resourceMissing('setupintent', id, 'intent');
  return si;
}

function confirmSetupIntent(core: Core, si: SetupIntent, params: Params, request: RequestInfo): SetupIntent {
  if (!['requires_payment_method', 'requires_confirmation', 'requires_action'].includes(si.status)) {
    throw invalidRequest(
      `You cannot confirm this SetupIntent because it has a status of ${si.status}. ` +
        'Only a SetupIntent with one of the following statuses may be confirmed: requires_payment_method, requires_confirmation, requires_action.',
      { code: 'setup_intent_unexpected_state' },
    );
  }
  const pmId = str(params, 'payment_method') ?? si.payment_method;
  if (!pmId) {
    throw invalidRequest(
      "You cannot confirm this SetupIntent because it's missing a payment method. Update the SetupIntent with a payment method and then confirm it again.",
      { code: 'setup_intent_unexpected_state' },
    );
  }
  const pm = usablePaymentMethod(core, pmId, si.customer, 'payment_method');
  const { card } = cardState(core, pm);
  si.payment_method = pm.id;
  si.last_setup_error = null;
  si.next_action = null;
  if (card.setup === 'succeed') return succeedSetup(core, si, pm, request);
  if (card.setup === 'authenticate') {
    si.status = 'requires_action';
    si.next_action = threeDSecureAction(core, si.id, str(params, 'return_url'));
    core.events.emit('setup_intent.requires_action', si, request);
    return si;
  }
  failSetup(core, si, cardErrorDetails(card.decline!, pm), request);
  throw cardError(si.last_setup_error!, { setup_intent: si });
}

function succeedSetup(core: Core, si: SetupIntent, pm: PaymentMethod, request: RequestInfo | null): SetupIntent {
  si.status = 'succeeded';
  si.payment_method = pm.id;
  si.next_action = null;
  si.last_setup_error = null;
  if (si.customer) setCustomer(core, pm, si.customer);
  if (si.usage === 'off_session') cardState(core, pm).setUp = true;
  core.events.emit('setup_intent.succeeded', si, request);
  return si;
}

function failSetup(core: Core, si: SetupIntent, error: IntentError, request: RequestInfo | null): void {
  si.status = 'requires_payment_method';
  si.payment_method = null;
  si.next_action = null;
  si.last_setup_error = error;
  core.events.emit('setup_intent.setup_failed', si, request);
}

/** Completes (or fails) the 3-D Secure step of a SetupIntent in requires_action. */
export function authenticateSetupIntent(core: Core, si: SetupIntent, succeed: boolean): SetupIntent {
  if (si.status !== 'requires_action') {
    throw invalidRequest(
      `SetupIntent ${si.id} has status ${si.status}; only one in requires_action can be authenticated.`,
      {
        code: 'setup_intent_unexpected_state',
      },
    );
  }
  const pm = core.store.paymentMethods.get(si.payment_method!)!;
  if (succeed) return succeedSetup(core, si, pm, null);
  failSetup(core, si, authenticationFailure('setup_intent', pm), null);
  return si;
}

export const setupIntentRoutes: Route[] = [
  route('POST', '/v1/setup_intents', (core, { params, request }) => {
    rejectUnknown(params, [
      'customer',
      'usage',
      ...METHOD_TYPES,
      'metadata',
      'payment_method',
      'confirm',
      'description',
      'return_url',
      'expand',
      ...ACCEPTED_BUT_IGNORED,
      ...UNSUPPORTED,
    ]);
    rejectUnsupported(params, UNSUPPORTED);
    const customer = str(params, 'customer');
    if (customer && !core.store.customers.get(customer)) throw resourceMissing('customer', customer, 'customer', 400);
    const confirm = bool(params, 'confirm') ?? false;
    const pmId = str(params, 'payment_method');
    if (str(params, 'return_url') && !confirm) {
      throw invalidRequest('You may only specify a return_url when confirm=true.', { param: 'return_url' });
    }
    if (confirm && !pmId)
      throw invalidRequest('A payment_method is required when confirm=true.', {
        param: 'payment_method',
        code: 'parameter_missing',
      });
    const pm = pmId ? usablePaymentMethod(core, pmId, customer ?? null, 'payment_method') : null;
    const si = makeSetupIntent({
      customer: customer ?? null,
      usage: oneOf(params, 'usage', ['off_session', 'on_session'] as const) ?? 'off_session',
      methodTypes: methodTypes(params) ?? { allowed: null, types: ['card'] },
      metadata: applyMetadata(params),
      description: str(params, 'description') ?? null,
      paymentMethod: pm?.id ?? null,
    });
    core.store.setupIntents.add(si, si.customer);
    if (confirm) confirmSetupIntent(core, si, pickReturnUrl(params), request);
    return { body: si };
  }),

  route('GET', '/v1/setup_intents/:id', (core, { params, ids: [id] }) => {
    rejectUnknown(params, ['client_secret', 'expand']);
    return { body: requireSetupIntent(core, id!) };
  }),

  route('POST', '/v1/setup_intents/:id', (core, { params, ids: [id] }) => {
    rejectUnknown(params, [
      'metadata',
      'description',
      'payment_method',
      ...METHOD_TYPES,
      'customer',
      'customer_account',
      'expand',
      'payment_method_options',
      'attach_to_self',
      'flow_directions',
      'excluded_payment_method_types',
      'payment_method_configuration',
      ...UNSUPPORTED,
    ]);
    rejectUnsupported(params, UNSUPPORTED);
    const si = requireSetupIntent(core, id!);
    if (si.status === 'succeeded' || si.status === 'canceled') {
      if (params.payment_method !== undefined || params.customer !== undefined) {
        throw invalidRequest(`You cannot update this SetupIntent because it has a status of ${si.status}.`, {
          code: 'setup_intent_unexpected_state',
        });
      }
    }
    const customer = str(params, 'customer');
    if (customer) {
      if (!core.store.customers.get(customer)) throw resourceMissing('customer', customer, 'customer', 400);
      if (si.customer && si.customer !== customer)
        throw invalidRequest('The customer of a SetupIntent cannot be changed.', { param: 'customer' });
      if (!si.customer) core.store.setupIntents.index(si, customer);
      si.customer = customer;
    }
    const pmId = str(params, 'payment_method');
    if (pmId) {
      si.payment_method = usablePaymentMethod(core, pmId, si.customer, 'payment_method').id;
      if (si.status === 'requires_payment_method') si.status = 'requires_confirmation';
    }
    const description = nullableStr(params, 'description');
    if (description !== undefined) si.description = description;
    si.metadata = applyMetadata(params, si.metadata);
    const types = methodTypes(params);
    if (types) {
      si.allowed_payment_method_types = types.allowed;
      si.payment_method_types = types.types;
    }
    return { body: si };
  }),

  route('POST', '/v1/setup_intents/:id/confirm', (core, { params, ids: [id], request }) => {
    rejectUnknown(params, [
      'payment_method',
      'return_url',
      'expand',
      'mandate_data',
      'payment_method_options',
      'use_stripe_sdk',
      'confirmation_token',
      'client_secret',
      'allowed_payment_method_types',
      ...UNSUPPORTED,
    ]);
    rejectUnsupported(params, UNSUPPORTED);
    return { body: confirmSetupIntent(core, requireSetupIntent(core, id!), params, request) };
  }),

  route('POST', '/v1/setup_intents/:id/cancel', (core, { params, ids: [id], request }) => {
    rejectUnknown(params, ['cancellation_reason', 'expand']);
    const si = requireSetupIntent(core, id!);
    if (!['requires_payment_method', 'requires_confirmation', 'requires_action'].includes(si.status)) {
      throw invalidRequest(
        `You cannot cancel this SetupIntent because it has a status of ${si.status}. ` +
          'Only a SetupIntent with one of the following statuses may be canceled: requires_payment_method, requires_confirmation, requires_action.',
        { code: 'setup_intent_unexpected_state' },
      );
    }
    si.status = 'canceled';
    si.next_action = null;
    si.cancellation_reason =
      oneOf(params, 'cancellation_reason', ['abandoned', 'requested_by_customer', 'duplicate'] as const) ?? null;
    core.events.emit('setup_intent.canceled', si, request);
    return { body: si };
  }),

  route('GET', '/v1/setup_intents', (core, { params }) => {
    rejectUnknown(params, [...LIST_PARAMS, 'customer', 'payment_method', 'attach_to_self']);
    const pm = str(params, 'payment_method');
    return {
      body: paginate(
        core.store.setupIntents.scope(str(params, 'customer')),
        params,
        '/v1/setup_intents',
        pm ? (si) => si.payment_method === pm : undefined,
      ),
    };
  }),
];
