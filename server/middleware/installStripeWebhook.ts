// POST /webhooks/stripe: Stripe's signed events. Mounted before anything that
// parses bodies, because the signature covers the exact bytes sent.
// 200 once the event is recorded (or was already: replays are no-ops),
// 400 for a missing/bad signature (logged without the secret or the body),
// 500 when recording failed, so Stripe delivers the event again.
import express, { type Express } from 'express';
import type Stripe from 'stripe';
import type { ServerConfig } from '../config.ts';
import { stripeClient } from '../../lib/stripe_client.ts';
import { ownerPoolOf } from './installDatabasePools.ts';
import { clientAddress } from './installRequestSettings.ts';
import { CodedError } from '../errors.ts';
import { currentRequest } from '../request_context.ts';

export const STRIPE_WEBHOOK_PATH = '/webhooks/stripe';

/**
 * The card behind a set-up that succeeded (Stripe's fingerprint of its
 * PaymentMethod), which SQL needs to bound what one card backs; the event
 * names the PaymentMethod only. A failed look-up fails the delivery (500), so
 * Stripe sends the event again.
 */
async function cardFingerprintOf(stripe: Stripe, event: Stripe.Event): Promise<string | null> {
  if (event.type !== 'setup_intent.succeeded') return null;
  const pm = event.data.object.payment_method;
  if (!pm) return null;
  const method = typeof pm === 'string' ? await stripe.paymentMethods.retrieve(pm) : pm;
  return method.card?.fingerprint ?? null;
}

export function installStripeWebhook(app: Express, config: ServerConfig): void {
  const stripe = stripeClient(config.stripe);
  app.post(STRIPE_WEBHOOK_PATH, express.raw({ type: () => true, limit: '512kb' }), async (req, res) => {
    const signature = req.get('stripe-signature');
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    let event: Stripe.Event;
    try {
      if (!signature) throw new Error('no Stripe-Signature header');
      event = stripe.webhooks.constructEvent(body, signature, config.stripe.webhookSecret);
    } catch (err) {
      currentRequest()?.log.warn(
        { ip: clientAddress(req.app, req), bytes: body.length },
        `stripe webhook rejected: ${(err as Error).message.split('\n')[0]}`,
      );
      throw new CodedError('BAD_SIGNATURE', 'Webhook signature verification failed');
    }
    const {
      rows: [row],
    } = await ownerPoolOf(app).query<{ fresh: boolean }>(
      'select app_private.stripe_webhook_receive($1::jsonb, $2, $3) as fresh',
      [JSON.stringify(event), await cardFingerprintOf(stripe, event), config.cardUpcomingMax],
    );
    res.json({ received: true, duplicate: !row.fresh });
  });
}
