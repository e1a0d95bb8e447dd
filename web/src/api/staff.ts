// The staff console's GraphQL: customers, their history and notes, the audit
// log (admins), and the enforcement plate lookup.

export interface CustomerListItem {
  rowId: string;
  email: string;
  name: string | null;
  surname: string | null;
}

export const SEARCH_CUSTOMERS = `query SearchCustomers($q: String!) {
  searchCustomers(query: $q, first: 50) { nodes { rowId email name surname } } }`;
export const RECENT_CUSTOMERS = `query RecentCustomers {
  customers(first: 50, orderBy: [SURNAME_ASC, NAME_ASC]) { totalCount nodes { rowId email name surname } } }`;
export const CREATE_CUSTOMER = `mutation CreateCustomer($email: String!, $name: String!, $surname: String!) {
  createCustomer(input: { email: $email, name: $name, surname: $surname }) { result { rowId } } }`;

export interface CustomerDetail extends CustomerListItem {
  photoUrl: string | null;
  createdAt: string;
  updatedAt: string;
  reservations: {
    nodes: Array<{
      rowId: string;
      spotId: string;
      status: string;
      startsAt: string;
      endsAt: string;
      /** The spot's: times read as its street signs do. */
      timeZone: string | null;
      amount: number;
      currency: string;
    }>;
  };
  payments: {
    nodes: Array<{ reservationId: string; kind: string; amount: number; currency: string; status: string; at: string }>;
  };
  customerNotes: { nodes: Array<{ rowId: string; body: string; createdAt: string }> };
}

export const CUSTOMER = `query Customer($id: BigInt!) { customer(rowId: $id) {
  rowId email name surname photoUrl createdAt updatedAt
  reservations(first: 50) { nodes { rowId spotId status startsAt endsAt timeZone amount currency } }
  payments { nodes { reservationId kind amount currency status at } }
  customerNotes(orderBy: [CREATED_AT_ASC]) { nodes { rowId body createdAt } } } }`;
export const ADD_NOTE = `mutation AddCustomerNote($id: BigInt!, $body: String!) {
  addCustomerNote(input: { customerId: $id, body: $body }) { result { rowId } } }`;
export const CUSTOMER_AUDIT = `query CustomerAudit($id: String!) {
  auditEntries(tableName: "customers", recordId: $id, first: 50) { nodes { at actorRole action oldValues newValues } } }`;

export interface AuditEntry {
  at: string;
  actorRole: string;
  action: string;
  oldValues: Record<string, unknown> | null;
  newValues: Record<string, unknown> | null;
}

export interface EnforcementAnswer {
  plate: string;
  plateState: string | null;
  spotId: string | null;
  valid: boolean;
  validUntil: string | null;
  /** The spot's time zone: validUntil reads on the street's clock. */
  timeZone: string | null;
}

/** The spot by the city's meter number on its sign (an unknown one is SMS04). */
export const ENFORCEMENT_LOOKUP = `mutation EnforcementLookup($plate: String!, $state: String, $meter: String) {
  enforcementLookup(input: { plate: $plate, plateState: $state, meterNumber: $meter }) { result { plate plateState spotId valid validUntil timeZone } } }`;

export interface StaffSpot {
  rowId: string;
  street: string;
  borough: string | null;
  status: string;
  description: string | null;
  maxStay: { days: number | null; hours: number | null; minutes: number | null };
  /** The rate's time zone is the spot's: its week and blocks are read on that clock. */
  rate: {
    rowId: number;
    code: string;
    hourlyPrice: number;
    currency: string;
    timeZone: string;
    /** Every spot a change of the rate's price reaches. */
    spots: { totalCount: number };
  } | null;
  reservations: {
    nodes: Array<{
      rowId: string;
      kind: string;
      status: string;
      startsAt: string;
      endsAt: string;
      note: string | null;
    }>;
  };
}

export const STAFF_SPOT = `query StaffSpot($id: BigInt!) {
  spot(rowId: $id) { rowId street borough status description maxStay { days hours minutes } rate { rowId code hourlyPrice currency timeZone spots { totalCount } }
    reservations(first: 100, orderBy: [PRIMARY_KEY_DESC]) { nodes { rowId kind status startsAt endsAt note } } }
  spotAffectedReservations(spotId: $id) { nodes { rowId status startsAt endsAt } } }`;
export const UPDATE_SPOT = `mutation UpdateSpot($id: BigInt!, $street: String, $maxStay: Int) {
  updateSpot(input: { spotId: $id, street: $street, maxStayMinutes: $maxStay }) { result { rowId } } }`;
export const SET_SPOT_STATUS = `mutation SetSpotStatus($id: BigInt!, $status: String!) {
  setSpotStatus(input: { spotId: $id, status: $status }) { result { rowId status } } }`;
export const UPDATE_RATE = `mutation UpdateRate($id: Int!, $hourlyPrice: Int!) {
  updateRate(input: { rateId: $id, hourlyPrice: $hourlyPrice }) { result { rowId hourlyPrice } } }`;
export const BLOCK_SPOT = `mutation BlockSpot($id: BigInt!, $from: Datetime, $to: Datetime, $reason: String) {
  blockSpot(input: { spotId: $id, startsAt: $from, endsAt: $to, reason: $reason }) { result { rowId } } }`;
export const UNBLOCK_SPOT = `mutation UnblockSpot($id: BigInt!) { unblockSpot(input: { blockId: $id }) { result { rowId status } } }`;
export const REFUND_RESERVATION = `mutation RefundReservation($id: BigInt!, $amount: Int) {
  refundReservation(input: { reservationId: $id, amount: $amount }) { refundId amount currency status refundedTotal } }`;
