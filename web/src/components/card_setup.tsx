// Adds a card to a reservation: setupReservationPayment gives the SetupIntent's
// client secret, Stripe.js's card element collects the card and confirms the
// set-up in the browser, then confirmReservationPayment tells the API (the
// webhook would too). A refused card's message appears under the card field,
// and so does an empty or incomplete card (checked before sending, and when
// Stripe answers a validation or card-parameter error): only Stripe being out
// of reach is said to be that. The card field takes the focus with its error.
// A card that is set up but refused by the card's rules (SMP09, SMP10) leaves
// the hold waiting: the form asks for another card on a new set-up.
import { useEffect, useRef, useState } from 'preact/hooks';
import { mutate } from '../api/client.ts';
import { makeError, type AppError } from '../api/errors.ts';
import { CONFIRM_PAYMENT, SETUP_PAYMENT, type SetupPaymentData } from '../api/reservations.ts';
import { loadStripe, type CardElement, type StripeClient } from '../stripe.ts';
import { FormError, Loading, SubmitButton } from './fields.tsx';

const INCOMPLETE = "Enter the card's number, expiry date (MM / YY) and security code.";

interface Props {
  reservationId: string;
  manageToken: string | null;
  /** After the card is set up: the page re-reads the reservation. */
  onDone(): void;
  submitLabel: string;
  /** When the card is charged, said above it (at the end of a stay; at once on the pay page). */
  note: string;
}

export function CardSetup({ reservationId, manageToken, onDone, submitLabel, note }: Props) {
  const mount = useRef<HTMLDivElement>(null);
  const stripe = useRef<StripeClient | null>(null);
  const card = useRef<CardElement | null>(null);
  const [clientSecret, setClientSecret] = useState<string | null>(null);
  const [ready, setReady] = useState(false);
  const [busy, setBusy] = useState(false);
  const [cardError, setCardError] = useState<string | null>(null);
  const complete = useRef(false);
  const [error, setError] = useState<AppError | null>(null);

  /** A fresh, empty card element in the form (again after the card's rules refused the last card). */
  function mountCard() {
    if (!stripe.current || !mount.current) return;
    card.current?.destroy();
    complete.current = false;
    card.current = stripe.current.elements().create('card');
    card.current.mount(mount.current);
    card.current.on('change', (e) => {
      complete.current = e.complete;
      setCardError(e.error?.message ?? null);
    });
  }

  useEffect(() => {
    let live = true;
    (async () => {
      const setup = await mutate<SetupPaymentData>(SETUP_PAYMENT, { id: reservationId, token: manageToken });
      if (!live) return;
      if (setup.error) {
        setError(setup.error);
        return;
      }
      try {
        stripe.current = await loadStripe();
      } catch (err) {
        if (live) setError(err as AppError);
        return;
      }
      if (!live || !mount.current) return;
      setClientSecret(setup.data.setupReservationPayment?.clientSecret ?? null);
      mountCard();
      setReady(true);
    })();
    return () => {
      live = false;
      card.current?.destroy();
      card.current = null;
    };
  }, [reservationId, manageToken]);

  /** The card field takes the focus with its error: the element's own focus() where Stripe.js has it, else its first input. */
  function focusCard() {
    if (card.current?.focus) card.current.focus();
    else mount.current?.querySelector<HTMLElement>('input, iframe')?.focus();
  }

  /** One error at a time: a card's under the card field (which takes the focus), else one for the whole form. */
  function showCardError(message: string) {
    setError(null);
    setCardError(message);
    focusCard();
  }
  function showError(e: AppError) {
    setCardError(null);
    setError(e);
  }

  async function submit(event: Event) {
    event.preventDefault();
    if (!stripe.current || !card.current || !clientSecret) return;
    if (!complete.current) {
      showCardError(INCOMPLETE);
      return;
    }
    setBusy(true);
    setCardError(null);
    setError(null);
    const result = await stripe.current.confirmCardSetup(clientSecret, { payment_method: { card: card.current } });
    if (result.error) {
      setBusy(false);
      // Stripe's own message says what is wrong with the card ("Your card was declined.").
      const e = result.error;
      if (e.type === 'card_error' || e.type === 'validation_error')
        showCardError(e.message ?? makeError('SMP08').message);
      else if (
        e.type === 'invalid_request_error' &&
        (e.param?.startsWith('card') || /^incomplete|^invalid_/.test(e.code ?? ''))
      )
        showCardError(INCOMPLETE);
      else if (e.type === 'invalid_request_error')
        showError({ code: 'STRIPE', message: e.message ?? makeError('SMP08').message });
      else showError(makeError('SMP04'));
      return;
    }
    const confirmed = await mutate(CONFIRM_PAYMENT, { id: reservationId, token: manageToken });
    // The card was set up, but its rules (SMP09: as many reservations as one card may back; SMP10: an
    // unpaid one) left the reservation held: it takes another card, on a new set-up.
    if (confirmed.error && (confirmed.error.code === 'SMP09' || confirmed.error.code === 'SMP10')) {
      const refusal = confirmed.error;
      const setup = await mutate<SetupPaymentData>(SETUP_PAYMENT, { id: reservationId, token: manageToken });
      setBusy(false);
      const secret = setup.data?.setupReservationPayment?.clientSecret;
      if (!secret) {
        showError(setup.error ?? refusal);
        return;
      }
      setClientSecret(secret);
      mountCard();
      showCardError(refusal.message);
      return;
    }
    setBusy(false);
    // Not finished yet (SMP03) is fine: the webhook confirms it and the page is watching.
    if (confirmed.error && confirmed.error.code !== 'SMP03') {
      showError(confirmed.error);
      return;
    }
    onDone();
  }

  return (
    <form class="card-setup" onSubmit={submit} noValidate aria-labelledby="card-title">
      <h2 id="card-title">Card</h2>
      <p class="card-note">{note}</p>
      {!ready && !error && <Loading what="the payment form" />}
      <fieldset class="card-fieldset" hidden={!ready} aria-describedby={cardError ? 'card-error' : undefined}>
        <legend>Card details</legend>
        <div id="card-element" class="card-element" ref={mount} />
        {cardError && (
          <p class="field-error" id="card-error" role="alert">
            {cardError}
          </p>
        )}
      </fieldset>
      <FormError message={error?.message} />
      {ready && <SubmitButton busy={busy}>{busy ? 'Checking the card…' : submitLabel}</SubmitButton>}
    </form>
  );
}
