// Stripe.js, loaded from where the API says (paymentConfig.stripeJsUrl: real
// Stripe.js, or the local emulator's compatible script) and used exactly as
// Stripe documents it: Stripe(publishableKey), elements().create('card'),
// confirmCardSetup(clientSecret, { payment_method: { card } }).
import { run } from './api/client.ts';
import { PAYMENT_CONFIG, type PaymentConfigData } from './api/reservations.ts';
import type { AppError } from './api/errors.ts';

export interface StripeError {
  type?: string;
  code?: string;
  decline_code?: string;
  /** The parameter at fault (card[number]…), for invalid_request_error. */
  param?: string;
  message?: string;
}
export interface CardElement {
  mount(target: HTMLElement | string): void;
  destroy(): void;
  /** Real Stripe.js has it (the card number takes the focus); the emulator may not. */
  focus?(): void;
  on(event: 'change', handler: (e: { complete: boolean; error?: StripeError }) => void): void;
}
export interface StripeClient {
  elements(): { create(type: 'card', options?: Record<string, unknown>): CardElement };
  confirmCardSetup(
    clientSecret: string,
    data: { payment_method: { card: CardElement } },
  ): Promise<{ setupIntent?: { status: string }; error?: StripeError }>;
}

declare global {
  interface Window {
    Stripe?: (publishableKey: string) => StripeClient;
  }
}

let loading: Promise<StripeClient> | null = null;

function loadScript(src: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.appendChild(script);
  });
}

/** The Stripe client, loaded once; rejects with an AppError the page can show. */
export function loadStripe(): Promise<StripeClient> {
  loading ??= (async () => {
    const config = await run<PaymentConfigData>(PAYMENT_CONFIG);
    if (config.error) throw config.error;
    if (!window.Stripe) await loadScript(config.data.paymentConfig.stripeJsUrl);
    return window.Stripe!(config.data.paymentConfig.publishableKey);
  })().catch((err: unknown) => {
    loading = null;
    throw (err as AppError).code
      ? err
      : ({
          code: 'SMP04',
          message: 'The payment form could not be loaded. Check your connection and try again.',
        } satisfies AppError);
  });
  return loading;
}
