// The Stripe objects the emulator serves, with the fields Stripe returns (API 2026-10-28 shapes).
// Fields the emulator never sets are present with Stripe's null/empty defaults, so code written
// against these responses works unchanged against the real API.
import type { TestCard } from './cards.ts';
import type { Metadata } from './form.ts';
import { clientSecret, fingerprint, newId, nowSeconds } from './ids.ts';

type Nullable<T> = T | null;

/**
 * A copy of a served object as it is now (an event's data.object, an error's
 * payment_method): the object later changes in the store, the copy must not.
 * A JSON round trip, as the object is only ever served as JSON; about twice as
 * fast as structuredClone, and a PaymentIntent's events take three copies.
 */
export function snapshot<T>(object: T): T {
  return JSON.parse(JSON.stringify(object)) as T;
}

export type Customer = {
  id: string;
  object: 'customer';
  address: null;
  balance: number;
  created: number;
  currency: null;
  customer_account: null;
  default_source: null;
  delinquent: boolean;
  description: Nullable<string>;
  discount: null;
  email: Nullable<string>;
  invoice_prefix: string;
  invoice_settings: {
    custom_fields: null;
    default_payment_method: Nullable<string>;
    footer: null;
    rendering_options: null;
  };
  livemode: false;
  metadata: Metadata;
  name: Nullable<string>;
  next_invoice_sequence: number;
  phone: Nullable<string>;
  preferred_locales: string[];
  shipping: null;
  tax_exempt: 'none';
  test_clock: null;
};
export type DeletedCustomer = { id: string; object: 'customer'; deleted: true };

export type CardDetails = {
  brand: string;
  checks: { address_line1_check: null; address_postal_code_check: null; cvc_check: 'pass' };
  country: string;
  display_brand: string;
  exp_month: number;
  exp_year: number;
  fingerprint: string;
  funding: string;
  generated_from: null;
  last4: string;
  networks: { available: string[]; preferred: null };
  regulated_status: 'unregulated';
  three_d_secure_usage: { supported: true };
  wallet: null;
};

export type PaymentMethod = {
  id: string;
  object: 'payment_method';
  allow_redisplay: 'unspecified';
  billing_details: {
    address: { city: null; country: null; line1: null; line2: null; postal_code: null; state: null };
    email: Nullable<string>;
    name: Nullable<string>;
    phone: Nullable<string>;
    tax_id: null;
  };
  card: CardDetails;
  created: number;
  customer: Nullable<string>;
  customer_account: null;
  livemode: false;
  metadata: Metadata;
  type: 'card';
};

export type NextAction =
  | { type: 'use_stripe_sdk'; use_stripe_sdk: { type: 'three_d_secure_redirect'; stripe_js: string; source: string } }
  | { type: 'redirect_to_url'; redirect_to_url: { return_url: string; url: string } };

export type IntentError = {
  charge?: string;
  code: string;
  decline_code?: string;
  doc_url: string;
  message: string;
  payment_method?: PaymentMethod;
  payment_method_type?: 'card';
  type: 'card_error' | 'invalid_request_error';
};

export type SetupIntentStatus =
  | 'requires_payment_method'
  | 'requires_confirmation'
  | 'requires_action'
  | 'processing'
  | 'canceled'
  | 'succeeded';
export type SetupIntent = {
  id: string;
  object: 'setup_intent';
  allowed_payment_method_types: Nullable<string[]>;
  application: null;
  automatic_payment_methods: null;
  cancellation_reason: Nullable<string>;
  client_secret: string;
  created: number;
  customer: Nullable<string>;
  customer_account: null;
  description: Nullable<string>;
  excluded_payment_method_types: null;
  flow_directions: null;
  last_setup_error: Nullable<IntentError>;
  latest_attempt: null;
  livemode: false;
  mandate: null;
  metadata: Metadata;
  next_action: Nullable<NextAction>;
  on_behalf_of: null;
  payment_method: Nullable<string>;
  payment_method_configuration_details: null;
  payment_method_options: { card: { mandate_options: null; network: null; request_three_d_secure: 'automatic' } };
  payment_method_types: string[];
  single_use_mandate: null;
  status: SetupIntentStatus;
  usage: string;
};

export type PaymentIntentStatus =
  | 'requires_payment_method'
  | 'requires_confirmation'
  | 'requires_action'
  | 'processing'
  | 'requires_capture'
  | 'canceled'
  | 'succeeded';
export type PaymentIntent = {
  id: string;
  object: 'payment_intent';
  allowed_payment_method_types: Nullable<string[]>;
  amount: number;
  amount_capturable: number;
  amount_details: { tip: Record<string, never> };
  amount_received: number;
  application: null;
  application_fee_amount: null;
  automatic_payment_methods: null;
  canceled_at: Nullable<number>;
  cancellation_reason: Nullable<string>;
  capture_method: 'automatic' | 'automatic_async';
  client_secret: string;
  confirmation_method: 'automatic' | 'manual';
  created: number;
  currency: string;
  customer: Nullable<string>;
  customer_account: null;
  description: Nullable<string>;
  excluded_payment_method_types: null;
  last_payment_error: Nullable<IntentError>;
  latest_charge: Nullable<string>;
  livemode: false;
  managed_payments: null;
  metadata: Metadata;
  next_action: Nullable<NextAction>;
  on_behalf_of: null;
  payment_method: Nullable<string>;
  payment_method_configuration_details: null;
  payment_method_options: {
    card: { installments: null; mandate_options: null; network: null; request_three_d_secure: 'automatic' };
  };
  payment_method_types: string[];
  payment_record: null;
  processing: null;
  receipt_email: Nullable<string>;
  review: null;
  setup_future_usage: Nullable<string>;
  shipping: null;
  source: null;
  statement_descriptor: Nullable<string>;
  statement_descriptor_suffix: Nullable<string>;
  status: PaymentIntentStatus;
  transfer_data: null;
  transfer_group: null;
};

export type Charge = {
  id: string;
  object: 'charge';
  amount: number;
  amount_captured: number;
  amount_refunded: number;
  application: null;
  application_fee: null;
  application_fee_amount: null;
  balance_transaction: Nullable<string>;
  billing_details: PaymentMethod['billing_details'];
  calculated_statement_descriptor: string;
  captured: boolean;
  created: number;
  currency: string;
  customer: Nullable<string>;
  description: Nullable<string>;
  destination: null;
  dispute: null;
  disputed: false;
  failure_balance_transaction: null;
  failure_code: Nullable<string>;
  failure_message: Nullable<string>;
  fraud_details: Record<string, never>;
  livemode: false;
  metadata: Metadata;
  on_behalf_of: null;
  outcome: {
    network_status: string;
    reason: Nullable<string>;
    risk_level: 'normal';
    risk_score: number;
    seller_message: string;
    type: string;
  };
  paid: boolean;
  payment_intent: string;
  payment_method: string;
  payment_method_details: { card: Record<string, unknown>; type: 'card' };
  receipt_email: Nullable<string>;
  receipt_number: null;
  receipt_url: null;
  refunded: boolean;
  review: null;
  shipping: null;
  source: null;
  source_transfer: null;
  statement_descriptor: Nullable<string>;
  statement_descriptor_suffix: Nullable<string>;
  status: 'succeeded' | 'failed';
  transfer_data: null;
  transfer_group: null;
};

export type Refund = {
  id: string;
  object: 'refund';
  amount: number;
  balance_transaction: string;
  charge: string;
  created: number;
  currency: string;
  customer: Nullable<string>;
  customer_account: null;
  destination_details: {
    card: { reference_status: 'pending'; reference_type: 'acquirer_reference_number'; type: 'refund' };
    type: 'card';
  };
  metadata: Metadata;
  payment_intent: string;
  payment_method: string;
  reason: Nullable<string>;
  receipt_number: null;
  source_transfer_reversal: null;
  status: 'succeeded';
  transfer_reversal: null;
};

export type StripeEvent = {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  data: { object: unknown; previous_attributes?: Record<string, unknown> };
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
};

/** `allowed_payment_method_types` as given (null if not), and the resulting `payment_method_types`. */
export type MethodTypes = { allowed: string[] | null; types: string[] };

// ---- constructors -------------------------------------------------------------------------

export function makeCustomer(f: {
  email?: string | null;
  name?: string | null;
  phone?: string | null;
  description?: string | null;
  metadata: Metadata;
}): Customer {
  return {
    id: newId('cus'),
    object: 'customer',
    address: null,
    balance: 0,
    created: nowSeconds(),
    currency: null,
    customer_account: null,
    default_source: null,
    delinquent: false,
    description: f.description ?? null,
    discount: null,
    email: f.email ?? null,
    invoice_prefix: newId('x').slice(2, 10).toUpperCase(),
    invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
    livemode: false,
    metadata: f.metadata,
    name: f.name ?? null,
    next_invoice_sequence: 1,
    phone: f.phone ?? null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: null,
  };
}

export function makePaymentMethod(card: TestCard, customer: string | null = null): PaymentMethod {
  const exp = new Date();
  return {
    id: newId('pm'),
    object: 'payment_method',
    allow_redisplay: 'unspecified',
    billing_details: {
      address: { city: null, country: null, line1: null, line2: null, postal_code: null, state: null },
      email: null,
      name: null,
      phone: null,
      tax_id: null,
    },
    card: {
      brand: card.brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'pass' },
      country: card.country,
      display_brand: card.brand,
      exp_month: exp.getUTCMonth() + 1,
      exp_year: exp.getUTCFullYear() + 1,
      fingerprint: fingerprint(`${card.brand}:${card.last4}`),
      funding: card.funding,
      generated_from: null,
      last4: card.last4,
      networks: { available: [card.brand], preferred: null },
      regulated_status: 'unregulated',
      three_d_secure_usage: { supported: true },
      wallet: null,
    },
    created: nowSeconds(),
    customer,
    customer_account: null,
    livemode: false,
    metadata: {},
    type: 'card',
  };
}

export function makeSetupIntent(f: {
  customer: string | null;
  usage: string;
  methodTypes: MethodTypes;
  metadata: Metadata;
  description: string | null;
  paymentMethod: string | null;
}): SetupIntent {
  const id = newId('seti');
  return {
    id,
    object: 'setup_intent',
    allowed_payment_method_types: f.methodTypes.allowed,
    application: null,
    automatic_payment_methods: null,
    cancellation_reason: null,
    client_secret: clientSecret(id),
    created: nowSeconds(),
    customer: f.customer,
    customer_account: null,
    description: f.description,
    excluded_payment_method_types: null,
    flow_directions: null,
    last_setup_error: null,
    latest_attempt: null,
    livemode: false,
    mandate: null,
    metadata: f.metadata,
    next_action: null,
    on_behalf_of: null,
    payment_method: f.paymentMethod,
    payment_method_configuration_details: null,
    payment_method_options: { card: { mandate_options: null, network: null, request_three_d_secure: 'automatic' } },
    payment_method_types: f.methodTypes.types,
    single_use_mandate: null,
    status: f.paymentMethod ? 'requires_confirmation' : 'requires_payment_method',
    usage: f.usage,
  };
}

export function makePaymentIntent(f: {
  amount: number;
  currency: string;
  customer: string | null;
  paymentMethod: string | null;
  metadata: Metadata;
  description: string | null;
  receiptEmail: string | null;
  setupFutureUsage: string | null;
  methodTypes: MethodTypes;
  statementDescriptor: string | null;
  statementDescriptorSuffix: string | null;
  captureMethod: 'automatic' | 'automatic_async';
  confirmationMethod: 'automatic' | 'manual';
}): PaymentIntent {
  const id = newId('pi');
  return {
    id,
    object: 'payment_intent',
    allowed_payment_method_types: f.methodTypes.allowed,
    amount: f.amount,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: null,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: f.captureMethod,
    client_secret: clientSecret(id),
    confirmation_method: f.confirmationMethod,
    created: nowSeconds(),
    currency: f.currency,
    customer: f.customer,
    customer_account: null,
    description: f.description,
    excluded_payment_method_types: null,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    managed_payments: null,
    metadata: f.metadata,
    next_action: null,
    on_behalf_of: null,
    payment_method: f.paymentMethod,
    payment_method_configuration_details: null,
    payment_method_options: {
      card: { installments: null, mandate_options: null, network: null, request_three_d_secure: 'automatic' },
    },
    payment_method_types: f.methodTypes.types,
    payment_record: null,
    processing: null,
    receipt_email: f.receiptEmail,
    review: null,
    setup_future_usage: f.setupFutureUsage,
    shipping: null,
    source: null,
    statement_descriptor: f.statementDescriptor,
    statement_descriptor_suffix: f.statementDescriptorSuffix,
    status: f.paymentMethod ? 'requires_confirmation' : 'requires_payment_method',
    transfer_data: null,
    transfer_group: null,
  };
}

export function makeCharge(
  pi: PaymentIntent,
  pm: PaymentMethod,
  failure: { code: string; declineCode: string; message: string } | null,
): Charge {
  const ok = failure === null;
  const c = pm.card;
  return {
    id: newId('ch'),
    object: 'charge',
    amount: pi.amount,
    amount_captured: ok ? pi.amount : 0,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: ok ? newId('txn') : null,
    billing_details: snapshot(pm.billing_details),
    calculated_statement_descriptor: pi.statement_descriptor ?? 'SECURE MY SPOT',
    captured: ok,
    created: nowSeconds(),
    currency: pi.currency,
    customer: pi.customer,
    description: pi.description,
    destination: null,
    dispute: null,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: failure?.code ?? null,
    failure_message: failure?.message ?? null,
    fraud_details: {},
    livemode: false,
    metadata: { ...pi.metadata },
    on_behalf_of: null,
    outcome: ok
      ? {
          network_status: 'approved_by_network',
          reason: null,
          risk_level: 'normal',
          risk_score: 20,
          seller_message: 'Payment complete.',
          type: 'authorized',
        }
      : {
          network_status: 'declined_by_network',
          reason: failure.declineCode,
          risk_level: 'normal',
          risk_score: 20,
          seller_message: 'The bank did not return any further details with this decline.',
          type: 'issuer_declined',
        },
    paid: ok,
    payment_intent: pi.id,
    payment_method: pm.id,
    payment_method_details: {
      card: {
        amount_authorized: ok ? pi.amount : null,
        brand: c.brand,
        checks: { ...c.checks },
        country: c.country,
        exp_month: c.exp_month,
        exp_year: c.exp_year,
        fingerprint: c.fingerprint,
        funding: c.funding,
        installments: null,
        last4: c.last4,
        mandate: null,
        network: c.brand,
        network_token: { used: false },
        three_d_secure: null,
        wallet: null,
      },
      type: 'card',
    },
    receipt_email: pi.receipt_email,
    receipt_number: null,
    receipt_url: null,
    refunded: false,
    review: null,
    shipping: null,
    source: null,
    source_transfer: null,
    statement_descriptor: pi.statement_descriptor,
    statement_descriptor_suffix: pi.statement_descriptor_suffix,
    status: ok ? 'succeeded' : 'failed',
    transfer_data: null,
    transfer_group: null,
  };
}

export function makeRefund(charge: Charge, amount: number, reason: string | null, metadata: Metadata): Refund {
  return {
    id: newId('re'),
    object: 'refund',
    amount,
    balance_transaction: newId('txn'),
    charge: charge.id,
    created: nowSeconds(),
    currency: charge.currency,
    customer: charge.customer,
    customer_account: null,
    destination_details: {
      card: { reference_status: 'pending', reference_type: 'acquirer_reference_number', type: 'refund' },
      type: 'card',
    },
    metadata,
    payment_intent: charge.payment_intent,
    payment_method: charge.payment_method,
    reason,
    receipt_number: null,
    source_transfer_reversal: null,
    status: 'succeeded',
    transfer_reversal: null,
  };
}
