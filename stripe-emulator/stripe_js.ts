// The Stripe.js-compatible script (stripe.js beside this file) as the emulator serves it at
// GET /v3/: with the emulator's own address, as the browser reached it, to send its calls to.
import { readFileSync } from 'node:fs';

const SOURCE = readFileSync(new URL('./stripe.js', import.meta.url), 'utf8');

export function stripeJsSource(apiUrl: string): string {
  return SOURCE.replace('"__STRIPE_EMULATOR_URL__"', JSON.stringify(apiUrl));
}
