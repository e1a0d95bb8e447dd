// The Stripe.js-compatible script (stripe.js beside this file) as the emulator serves it at
// GET /v3/: with the emulator's own address, as the browser reached it, to send its calls to.
import { readFileSync } from 'node:fs';

const SOURCE = readFileSync(new URL('./stripe.js', import.meta.url), 'utf8');

export function stripeJsSource(apiUrl: string): string {
  // The placeholder with its quotes, whichever the formatter chose, becomes a JSON string literal.
  return SOURCE.replace(/(['"])__STRIPE_EMULATOR_URL__\1/, () => JSON.stringify(apiUrl));
}
