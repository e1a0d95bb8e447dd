// What a publishable key (`pk_test_…`) may do, as on Stripe: the calls Stripe.js makes in a
// browser. It may create a card PaymentMethod, and read or confirm the one SetupIntent or
// PaymentIntent whose client_secret it presents; nothing else. Stripe.js sends the key as the
// `key` parameter (no Authorization header, so no CORS preflight).
import { type ApiError, invalidRequest, resourceMissing } from './errors.ts';
import { str, type Params } from './form.ts';
import type { Core } from './routing.ts';

const INTENT_PATH = /^\/v1\/(setup_intents|payment_intents)\/([^/]+)(\/confirm)?$/;

function notWithPublishableKey(): ApiError {
  return invalidRequest(
    'This API call cannot be made with a publishable API key. Please use a secret API key. You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys.',
    { status: 401 },
  );
}

/** Null when a publishable-key request may go on; else the error to answer. */
export function publishableKeyRefusal(core: Core, method: string, path: string, params: Params): ApiError | null {
  if (method === 'POST' && path === '/v1/payment_methods') return null;
  const m = INTENT_PATH.exec(path);
  const readOrConfirm = m && ((method === 'GET' && !m[3]) || (method === 'POST' && m[3]));
  if (!m || !readOrConfirm) return notWithPublishableKey();
  const kind = m[1] === 'setup_intents' ? 'SetupIntent' : 'PaymentIntent';
  const id = decodeURIComponent(m[2]!);
  const intent = m[1] === 'setup_intents' ? core.store.setupIntents.get(id) : core.store.paymentIntents.get(id);
  if (!intent) return resourceMissing(m[1] === 'setup_intents' ? 'setupintent' : 'payment_intent', id, 'intent');
  const secret = str(params, 'client_secret');
  if (!secret)
    return invalidRequest(`A client_secret is required to use a ${kind} with a publishable key.`, {
      param: 'client_secret',
      code: 'parameter_missing',
    });
  if (secret !== intent.client_secret) {
    return invalidRequest(`The client_secret provided does not match any associated ${kind} on this account.`, {
      param: 'client_secret',
    });
  }
  return null;
}
