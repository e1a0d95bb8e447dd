// The 3-D Secure step an intent waits on. On Stripe the browser completes it; here the helper
// `POST /_emulator/{setup,payment}_intents/:id/authenticate` (or a GET of the URL below) does.
import { newId } from './ids.ts';
import type { Core } from './routing.ts';
import type { NextAction } from './shapes.ts';

export function authenticationUrl(core: Core, intentId: string): string {
  return `${core.baseUrl()}/_emulator/authenticate/${intentId}`;
}

export function threeDSecureAction(core: Core, intentId: string, returnUrl: string | undefined): NextAction {
  const url = authenticationUrl(core, intentId);
  if (returnUrl) return { type: 'redirect_to_url', redirect_to_url: { return_url: returnUrl, url } };
  return {
    type: 'use_stripe_sdk',
    use_stripe_sdk: { type: 'three_d_secure_redirect', stripe_js: url, source: newId('src') },
  };
}
