// Reservation documents: reserve, read (signed in or with a guest's manage
// token), change the end, end now, cancel, and card set-up.
import type { Interval, Price } from './search.ts';

export type ReservationStatus = 'held' | 'confirmed' | 'completed' | 'cancelled' | 'expired' | 'payment_failed';

export interface Reservation {
  rowId: string;
  status: ReservationStatus;
  amount: number;
  /** How much of the charge was refunded (0: nothing). */
  refunded: number;
  currency: string;
  startsAt: string;
  endsAt: string;
  timeZone: string | null;
  holdExpiresAt: string | null;
  /** Its last change: for one expired, when the hold ended (endsAt keeps the end it was booked with). */
  updatedAt: string;
  email: string;
  spot: {
    rowId: string;
    description: string | null;
    street: string;
    externalId: string | null;
    maxStay: Interval;
  } | null;
}

const RESERVATION_FIELDS = `rowId status amount refunded currency startsAt endsAt timeZone holdExpiresAt updatedAt email
  spot { rowId description street externalId maxStay { days hours minutes } }`;

export const MY_RESERVATION = `query MyReservation($id: BigInt!) { myReservation(reservationId: $id) { ${RESERVATION_FIELDS} } }`;
export interface MyReservationData {
  myReservation: Reservation | null;
}

export const GUEST_RESERVATION = `query GuestReservation($id: BigInt!, $token: String!) {
  guestReservation(reservationId: $id, manageToken: $token) { ${RESERVATION_FIELDS} }
}`;
export interface GuestReservationData {
  guestReservation: Reservation | null;
}

export const MY_RESERVATIONS = `query MyReservations {
  myReservations(first: 50) { nodes { ${RESERVATION_FIELDS} } }
  myPastReservations(first: 50) { nodes { ${RESERVATION_FIELDS} } }
}`;
export interface MyReservationsData {
  myReservations: { nodes: Reservation[] } | null;
  myPastReservations: { nodes: Reservation[] } | null;
}

/** Every reservation mutation answers the same shape. */
export interface ReservationResult {
  result: { reservation: Reservation | null; manageToken: string | null } | null;
}

export const RESERVE = `mutation Reserve($spotId: BigInt!, $startsAt: Datetime, $minutes: Int!, $email: String, $plate: String, $plateState: String) {
  reserve(input: { spotId: $spotId, startsAt: $startsAt, durationMinutes: $minutes, email: $email, plate: $plate, plateState: $plateState }) {
    result { reservation { ${RESERVATION_FIELDS} } manageToken }
  }
}`;
export type ReserveData = { reserve: ReservationResult | null };

/** A signed-in driver's saved vehicles, offered on the reserve form. */
export const MY_VEHICLES = `query MyVehicles { vehicles(first: 20) { nodes { rowId plate plateState label } } }`;
export interface Vehicle {
  rowId: string;
  plate: string;
  plateState: string | null;
  label: string | null;
}
export interface MyVehiclesData {
  vehicles: { nodes: Vehicle[] } | null;
}

export const CHANGE_END = `mutation ChangeEnd($id: BigInt!, $endsAt: Datetime!, $token: String) {
  changeReservationEnd(input: { reservationId: $id, endsAt: $endsAt, manageToken: $token }) { result { reservation { ${RESERVATION_FIELDS} } } }
}`;
export const END_NOW = `mutation EndNow($id: BigInt!, $token: String) {
  endReservation(input: { reservationId: $id, manageToken: $token }) { result { reservation { ${RESERVATION_FIELDS} } } }
}`;
/** What the reservation would cost ending at endsAt (left out: now), at the rate it was booked under (what ending or moving it charges). */
export const END_QUOTE = `query EndQuote($id: BigInt!, $token: String, $endsAt: Datetime) {
  reservationEndQuote(reservationId: $id, manageToken: $token, endsAt: $endsAt) { amount }
}`;
export interface EndQuoteData {
  reservationEndQuote: { amount: number } | null;
}

export const CANCEL = `mutation Cancel($id: BigInt!, $token: String) {
  cancelReservation(input: { reservationId: $id, manageToken: $token }) { result { reservation { ${RESERVATION_FIELDS} } } }
}`;

export const SETUP_PAYMENT = `mutation SetupPayment($id: BigInt!, $token: String) {
  setupReservationPayment(input: { reservationId: $id, manageToken: $token }) { reservationStatus setupIntentStatus clientSecret }
}`;
export interface SetupPaymentData {
  setupReservationPayment: { reservationStatus: string; setupIntentStatus: string; clientSecret: string | null } | null;
}

export const CONFIRM_PAYMENT = `mutation ConfirmPayment($id: BigInt!, $token: String) {
  confirmReservationPayment(input: { reservationId: $id, manageToken: $token }) { reservationStatus setupIntentStatus }
}`;

export const SEND_MANAGE_LINK = `mutation SendManageLink($id: BigInt!, $email: String!) {
  sendManageLink(input: { reservationId: $id, email: $email }) { result }
}`;

export const PAYMENT_CONFIG = `query PaymentConfig { paymentConfig { publishableKey stripeJsUrl testMode } }`;
export interface PaymentConfigData {
  paymentConfig: { publishableKey: string; stripeJsUrl: string; testMode: boolean };
}

export type { Price };

/** Where a guest's manage token is kept in this browser, per reservation. */
const tokenKey = (id: string) => `sms.manageToken.${id}`;

export function rememberManageToken(id: string, token: string): void {
  try {
    localStorage.setItem(tokenKey(id), token);
  } catch {
    /* private mode: the link still works */
  }
}

/** Drops `token` if it is the one kept for `id` (a newer one kept meanwhile stays). */
export function forgetManageToken(id: string, token: string): void {
  try {
    if (localStorage.getItem(tokenKey(id)) === token) localStorage.removeItem(tokenKey(id));
  } catch {
    /* private mode: nothing was kept */
  }
}

export function rememberedManageToken(id: string): string | null {
  try {
    return localStorage.getItem(tokenKey(id));
  } catch {
    return null;
  }
}

export const STATUS_TEXT: Record<ReservationStatus, string> = {
  held: 'Held: add a card to confirm',
  confirmed: 'Confirmed',
  completed: 'Completed',
  cancelled: 'Cancelled',
  // A hold ends without a card when its time runs out or when the driver ends it: nothing is charged either way.
  expired: 'Ended before a card was added: nothing is charged',
  payment_failed: 'Payment failed',
};
