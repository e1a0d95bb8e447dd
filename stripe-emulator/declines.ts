// The error objects of a failed card operation: `last_setup_error` / `last_payment_error` on the
// intent, and the 402 `{ error: { type: 'card_error', … } }` answer carrying the intent.
import type { Decline } from './cards.ts';
import { ApiError, docUrl } from './errors.ts';
import { type IntentError, type PaymentMethod, snapshot } from './shapes.ts';

export function cardErrorDetails(decline: Decline, pm: PaymentMethod, chargeId?: string): IntentError {
  const e: IntentError = {
    code: decline.code,
    decline_code: decline.declineCode,
    doc_url: docUrl(decline.code),
    message: decline.message,
    payment_method: snapshot(pm),
    payment_method_type: 'card',
    type: 'card_error',
  };
  return chargeId ? { charge: chargeId, ...e } : e;
}

export function authenticationFailure(kind: 'setup_intent' | 'payment_intent', pm: PaymentMethod): IntentError {
  const code = `${kind}_authentication_failure`;
  return {
    code,
    doc_url: docUrl(code),
    message:
      'We are unable to authenticate your payment method. Please choose a different payment method and try again.',
    payment_method: snapshot(pm),
    payment_method_type: 'card',
    type: 'invalid_request_error',
  };
}

/** The 402 answer: the intent's error plus the intent itself under `setup_intent` / `payment_intent`. */
export function cardError(details: IntentError, extra: Record<string, unknown> = {}): ApiError {
  return new ApiError(402, { ...details, ...extra, type: details.type });
}
