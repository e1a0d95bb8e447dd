// Query.paymentConfig: what a client needs to set up a card in the browser, so the same web
// code runs against the local Stripe emulator and against real Stripe — load Stripe.js from
// stripeJsUrl, call Stripe(publishableKey), then stripe.confirmCardSetup(clientSecret, …)
// with the clientSecret that setupReservationPayment returns. Configuration only
// (lib/stripe_client.ts: STRIPE_PUBLISHABLE_KEY, STRIPE_JS_URL); nothing secret.
import { constant } from 'postgraphile/grafast';
import { extendSchema, gql } from 'postgraphile/utils';
import type { StripeConfig } from '../../lib/stripe_client.ts';

export function makePaymentConfigPlugin(config: Pick<StripeConfig, 'publishableKey' | 'jsUrl'>): GraphileConfig.Plugin {
  const answer = {
    provider: 'stripe',
    publishableKey: config.publishableKey,
    stripeJsUrl: config.jsUrl,
    testMode: config.publishableKey.startsWith('pk_test_'),
  };
  return extendSchema(() => ({
    typeDefs: gql`
      """
      How a client sets up a card: load Stripe.js from stripeJsUrl, call Stripe(publishableKey),
      then confirmCardSetup(clientSecret, { payment_method: … }) with the clientSecret of
      setupReservationPayment, and confirmReservationPayment (or wait for the webhook).
      """
      type PaymentConfig {
        "Always stripe."
        provider: String!
        "Stripe's publishable key (pk_test_… or pk_live_…): safe to show, made for browsers."
        publishableKey: String!
        "Where to load Stripe.js: https://js.stripe.com/v3/, or the local emulator's /v3/."
        stripeJsUrl: String!
        "True with test keys: test cards such as pm_card_visa or 4242 4242 4242 4242 work, nothing is really charged."
        testMode: Boolean!
      }
      extend type Query {
        "The payment provider's browser-side settings for card set-up."
        paymentConfig: PaymentConfig!
      }
    `,
    objects: {
      Query: {
        plans: {
          paymentConfig() {
            return constant(answer);
          },
        },
      },
    },
  }));
}
