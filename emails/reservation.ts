// Reservation emails. Booking queues reservation_* with
// app_hidden.reservation_email_data: {reservationId, spot, meterNumber?, startsAt, endsAt
// (ISO), timeZone, amount, currency, status, holdExpiresAt?, isGuest} plus
// reason (cancelled; expired when ended by the driver or an operator) or previousEndsAt / previousAmount (changed), and
// manageToken (reservation_link: a guest's new manage token). Payments queues
// receipt and payment_failed with the same fields and a few more, and refund
// with refundAmount, refunded (all refunds so far) and charged. Links are
// made here (lib/web_urls.ts), against the worker's WEB_URL.
import { formatAmount, formatTime, frame, required, type RenderContext, type RenderedEmail } from './format.ts';
import { webLink, webPaths } from '../lib/web_urls.ts';

type Data = Record<string, unknown>;

interface Facts {
  id: string;
  spot: string;
  window: string;
  amount: string;
  manageLink: string;
}

function facts(data: Data, ctx: RenderContext): Facts {
  const id = String(required(data, 'reservationId'));
  const timeZone = required<string>(data, 'timeZone');
  const starts = formatTime(required<string>(data, 'startsAt'), timeZone);
  const ends = formatTime(required<string>(data, 'endsAt'), timeZone);
  return {
    id,
    spot: data.meterNumber
      ? `${required<string>(data, 'spot')} — meter ${data.meterNumber}`
      : required<string>(data, 'spot'),
    window: `${starts} – ${ends}`,
    amount: formatAmount(Number(required(data, 'amount') ?? 0), required<string>(data, 'currency')),
    // Drivers see their reservation when signed in; a guest's page asks for the manage token
    // unless the link carries one (reservation_link).
    manageLink: webLink(
      ctx.appUrl,
      data.isGuest
        ? webPaths.manageReservation(id, data.manageToken ? String(data.manageToken) : undefined)
        : webPaths.reservation(id),
    ),
  };
}

function summary(f: Facts): string {
  return `Spot: ${f.spot}\nWhen: ${f.window}`;
}

/** Guests manage with a token they may lose: the manage page sends a new link (sendManageLink). */
function guestWayBack(data: Data): string[] {
  return data.isGuest
    ? ['Lost your manage code? Open the link below and ask for a new one: we email it to this address.']
    : [];
}

export const reservationTemplates: Record<string, (data: Data, ctx: RenderContext) => RenderedEmail> = {
  reservation_held(data, ctx) {
    const f = facts(data, ctx);
    return frame(ctx, {
      subject: `Reservation #${f.id} held — add a card to confirm`,
      lines: [
        'We are holding this spot for you. Add a card to confirm the reservation; you are charged when it ends.',
        summary(f),
        `Quoted price: ${f.amount}`,
        ...(data.holdExpiresAt
          ? [
              `The hold lapses at ${formatTime(String(data.holdExpiresAt), required<string>(data, 'timeZone'))} unless a card is added.`,
            ]
          : []),
        ...guestWayBack(data),
      ],
      action: { label: 'Add a card', url: f.manageLink },
    });
  },
  reservation_confirmed(data, ctx) {
    const f = facts(data, ctx);
    return frame(ctx, {
      subject: `Reservation #${f.id} confirmed`,
      lines: [
        'Your reservation is confirmed.',
        summary(f),
        `Price: ${f.amount}, charged to your card when the reservation ends.`,
        ...guestWayBack(data),
      ],
      action: { label: 'Manage your reservation', url: f.manageLink },
    });
  },
  reservation_changed(data, ctx) {
    const f = facts(data, ctx);
    return frame(ctx, {
      subject: `Reservation #${f.id} changed`,
      lines: [
        'Your reservation was changed. It now reads:',
        summary(f),
        `New price: ${f.amount}`,
        ...(data.previousEndsAt
          ? [
              `Before the change it ended ${formatTime(String(data.previousEndsAt), required<string>(data, 'timeZone'))}` +
                (data.previousAmount != null
                  ? ` and cost ${formatAmount(Number(data.previousAmount), required<string>(data, 'currency'))}.`
                  : '.'),
            ]
          : []),
      ],
      action: { label: 'Manage your reservation', url: f.manageLink },
    });
  },
  reservation_cancelled(data, ctx) {
    const f = facts(data, ctx);
    return frame(ctx, {
      subject: `Reservation #${f.id} cancelled`,
      lines: [
        data.reason === 'cancelled_by_operator'
          ? 'An operator cancelled your reservation.'
          : 'Your reservation was cancelled.',
        'The spot is released and nothing will be charged for it.',
        summary(f),
      ],
    });
  },
  reservation_expired(data, ctx) {
    const f = facts(data, ctx);
    // Ended in a request (endReservation) or lapsed by itself at its deadline.
    const ended = data.reason === 'ended' || data.reason === 'ended_by_operator';
    return frame(ctx, {
      subject: `Hold on reservation #${f.id} ${ended ? 'ended' : 'expired'}`,
      lines: [
        data.reason === 'ended'
          ? 'You ended the hold before a card was added: the reservation was not made.'
          : data.reason === 'ended_by_operator'
            ? 'An operator ended the hold before a card was added: the reservation was not made.'
            : 'No card was added, so the hold on this spot lapsed: the reservation was not made.',
        'The spot is released and nothing will be charged for it.',
        summary(f),
      ],
      action: { label: 'Find a spot', url: ctx.appUrl },
    });
  },
  reservation_link(data, ctx) {
    const f = facts(data, ctx);
    return frame(ctx, {
      subject: `Your link to manage reservation #${f.id}`,
      lines: [
        'Here is a new link to manage your reservation (someone asked for it with this email address).',
        'Earlier links and manage codes for this reservation no longer work.',
        summary(f),
      ],
      action: { label: 'Manage your reservation', url: f.manageLink },
    });
  },
  reservation_ended(data, ctx) {
    const f = facts(data, ctx);
    return frame(ctx, {
      subject: `Reservation #${f.id} ended`,
      lines: [
        'Your reservation has ended and the spot is released.',
        summary(f),
        `Amount due: ${f.amount}. A receipt follows once your card is charged.`,
      ],
    });
  },
  reservation_reminder(data, ctx) {
    const f = facts(data, ctx);
    return frame(ctx, {
      subject: `Reservation #${f.id} ends soon`,
      lines: [
        `Your reservation ends at ${formatTime(required<string>(data, 'endsAt'), required<string>(data, 'timeZone'))}.`,
        summary(f),
        'Need more time? Extend it before it ends.',
        ...guestWayBack(data),
      ],
      action: { label: 'Extend your reservation', url: f.manageLink },
    });
  },
  receipt(data, ctx) {
    const f = facts(data, ctx);
    const reference = data.paymentIntent ? `Payment reference: ${String(data.paymentIntent)}` : 'Nothing was charged.';
    return frame(ctx, {
      subject: `Receipt for reservation #${f.id}: ${f.amount}`,
      lines: ['Thank you for parking with us. Here is your receipt.', summary(f), `Charged: ${f.amount}`, reference],
      action: { label: 'View the reservation', url: f.manageLink },
    });
  },
  refund(data, ctx) {
    const f = facts(data, ctx);
    const currency = required<string>(data, 'currency');
    const money = (key: string) => formatAmount(Number(required(data, key)), currency);
    return frame(ctx, {
      subject: `Refund for reservation #${f.id}: ${money('refundAmount')}`,
      lines: [
        `We refunded ${money('refundAmount')} to the card you paid with. Your bank may take a few days to show it.`,
        summary(f),
        `Charged: ${money('charged')}. Refunded in all: ${money('refunded')}.`,
      ],
      action: { label: 'View the reservation', url: f.manageLink },
    });
  },
  payment_failed(data, ctx) {
    const f = facts(data, ctx);
    const timeZone = required<string>(data, 'timeZone');
    const retry = data.nextRetryAt
      ? `We will try your card again on ${formatTime(String(data.nextRetryAt), timeZone)}.`
      : 'We will not try your card again automatically.';
    const reason = data.providerRefused
      ? 'The payment provider refused the charge.'
      : data.failureCode === 'authentication_required'
        ? 'Your bank asked you to confirm the payment yourself.'
        : 'Your card was declined.';
    return frame(ctx, {
      subject: `Payment failed for reservation #${f.id}: ${f.amount} due`,
      lines: [
        `We could not charge ${f.amount} for your reservation. ${reason}`,
        summary(f),
        `${retry} To settle it now, add or confirm a card with the link below.`,
      ],
      action: {
        label: 'Pay now',
        url: webLink(ctx.appUrl, webPaths.payReservation(f.id)),
      },
    });
  },
};
