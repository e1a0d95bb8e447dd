// The staff console's GraphQL: customers, their history and notes, the audit
// log (admins), and the enforcement plate lookup.

export interface CustomerListItem { rowId: string; email: string; name: string | null; surname: string | null }

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
  reservations: { nodes: Array<{ rowId: string; status: string; startsAt: string; endsAt: string; amount: number; currency: string }> };
  payments: { nodes: Array<{ reservationId: string; kind: string; amount: number; currency: string; status: string; at: string }> };
  customerNotes: { nodes: Array<{ rowId: string; body: string; createdAt: string }> };
}

export const CUSTOMER = `query Customer($id: BigInt!) { customer(rowId: $id) {
  rowId email name surname photoUrl createdAt updatedAt
  reservations(first: 50) { nodes { rowId status startsAt endsAt amount currency } }
  payments { nodes { reservationId kind amount currency status at } }
  customerNotes(orderBy: [CREATED_AT_ASC]) { nodes { rowId body createdAt } } } }`;
export const ADD_NOTE = `mutation AddCustomerNote($id: BigInt!, $body: String!) {
  addCustomerNote(input: { customerId: $id, body: $body }) { result { rowId } } }`;
export const CUSTOMER_AUDIT = `query CustomerAudit($id: String!) {
  auditEntries(tableName: "customers", recordId: $id, first: 50) { nodes { at actorRole action oldValues newValues } } }`;

export interface AuditEntry { at: string; actorRole: string; action: string; oldValues: Record<string, unknown> | null; newValues: Record<string, unknown> | null }

export interface EnforcementAnswer { plate: string; plateState: string | null; spotId: string | null; valid: boolean; validUntil: string | null }

export const ENFORCEMENT_LOOKUP = `mutation EnforcementLookup($plate: String!, $state: String, $spot: BigInt) {
  enforcementLookup(input: { plate: $plate, plateState: $state, spotId: $spot }) { result { plate plateState spotId valid validUntil } } }`;
