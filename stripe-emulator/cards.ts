// Stripe's test PaymentMethod ids and how each behaves. Only the last four digits are kept:
// there are no card numbers here, and nothing here is ever logged. A card number typed into
// the emulator's Stripe.js card element (Stripe's published test numbers: 4242 4242 4242 4242,
// 4000 0000 0000 0002, …) behaves as the test card with the same last four digits.

/** What confirming a SetupIntent (or attaching) with the card does. */
export type SetupOutcome = 'succeed' | 'decline' | 'authenticate';
/** What a payment with the card does. */
export type ChargeOutcome = 'succeed' | 'decline' | 'authenticate_always' | 'authenticate_unless_set_up';

export type Decline = { code: string; declineCode: string; message: string };

export type TestCard = {
  brand: string;
  last4: string;
  funding: 'credit' | 'debit';
  country: string;
  setup: SetupOutcome;
  charge: ChargeOutcome;
  decline?: Decline;
};

export const GENERIC_DECLINE: Decline = {
  code: 'card_declined',
  declineCode: 'generic_decline',
  message: 'Your card was declined.',
};
export const AUTHENTICATION_REQUIRED: Decline = {
  code: 'authentication_required',
  declineCode: 'authentication_required',
  message: 'Your card was declined. This transaction requires authentication.',
};

const ok = (brand: string, last4: string, funding: 'credit' | 'debit' = 'credit'): TestCard => ({
  brand,
  last4,
  funding,
  country: 'US',
  setup: 'succeed',
  charge: 'succeed',
});
const declined = (last4: string, decline: Decline): TestCard => ({
  brand: 'visa',
  last4,
  funding: 'credit',
  country: 'US',
  setup: 'decline',
  charge: 'decline',
  decline,
});

export const TEST_CARDS: Record<string, TestCard> = {
  pm_card_visa: ok('visa', '4242'),
  pm_card_visa_debit: ok('visa', '5556', 'debit'),
  pm_card_mastercard: ok('mastercard', '4444'),
  pm_card_amex: ok('amex', '8431'),
  pm_card_chargeDeclined: declined('0002', GENERIC_DECLINE),
  pm_card_visa_chargeDeclined: declined('0002', GENERIC_DECLINE),
  pm_card_visa_chargeDeclinedInsufficientFunds: declined('9995', {
    code: 'card_declined',
    declineCode: 'insufficient_funds',
    message: 'Your card has insufficient funds.',
  }),
  pm_card_visa_chargeDeclinedLostCard: declined('9987', {
    code: 'card_declined',
    declineCode: 'lost_card',
    message: 'Your card was declined.',
  }),
  pm_card_visa_chargeDeclinedStolenCard: declined('9979', {
    code: 'card_declined',
    declineCode: 'stolen_card',
    message: 'Your card was declined.',
  }),
  pm_card_chargeDeclinedExpiredCard: declined('0069', {
    code: 'expired_card',
    declineCode: 'expired_card',
    message: 'Your card has expired.',
  }),
  pm_card_chargeDeclinedIncorrectCvc: declined('0127', {
    code: 'incorrect_cvc',
    declineCode: 'incorrect_cvc',
    message: "Your card's security code is incorrect.",
  }),
  pm_card_chargeDeclinedProcessingError: declined('0119', {
    code: 'processing_error',
    declineCode: 'processing_error',
    message: 'An error occurred while processing your card. Try again in a little bit.',
  }),
  // Attaching / setting up succeeds; every later charge is declined.
  pm_card_chargeCustomerFail: { ...ok('visa', '0341'), charge: 'decline', decline: GENERIC_DECLINE },
  // 3-D Secure on setup and on every payment; off-session payments fail with authentication_required.
  pm_card_authenticationRequired: { ...ok('visa', '3184'), setup: 'authenticate', charge: 'authenticate_always' },
  // 3-D Secure on setup; once set up, off-session payments succeed.
  pm_card_authenticationRequiredOnSetup: {
    ...ok('visa', '3155'),
    setup: 'authenticate',
    charge: 'authenticate_unless_set_up',
  },
};

export function isTestPaymentMethodId(id: string): boolean {
  return id.startsWith('pm_card_');
}

/** Luhn's check digit test, what Stripe applies before anything else. */
function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/**
 * The test card a typed number stands for: 'invalid' when it is not a card number at all,
 * null when it is a well-formed number that is not one of Stripe's test cards.
 */
export function testCardForNumber(number: string): TestCard | 'invalid' | null {
  const digits = number.replace(/[\s-]/g, '');
  if (!/^\d{13,19}$/.test(digits) || !luhnValid(digits)) return 'invalid';
  return Object.values(TEST_CARDS).find((card) => card.last4 === digits.slice(-4)) ?? null;
}
