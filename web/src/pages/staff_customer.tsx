// Staff: one customer — their name as the heading, photo (upload through POST
// /customers/:id/photo), reservations (each with a link to its spot's staff
// page), charges and refunds, notes, and (admins) the audit trail.
import { useEffect, useState } from 'preact/hooks';
import { csrfHeaders, mutate, run } from '../api/client.ts';
import { errorFromResponse, type AppError } from '../api/errors.ts';
import { ADD_NOTE, type AuditEntry, CUSTOMER, CUSTOMER_AUDIT, type CustomerDetail } from '../api/staff.ts';
import { FormError, Loading, Notice, SubmitButton } from '../components/fields.tsx';
import { RefundCharge } from '../components/refund_charge.tsx';
import { RequireStaff } from '../components/require_staff.tsx';
import { formatMoney, formatTime } from '../format.ts';
import type { CurrentUser } from '../session.ts';
import { Link } from '../router.tsx';
import { STAFF_ROLES } from './staff_customers.tsx';

function Photo({ customer, reload }: { customer: CustomerDetail; reload: () => void }) {
  const [error, setError] = useState<AppError | null>(null);
  const [busy, setBusy] = useState(false);
  async function upload(event: Event) {
    const file = (event.currentTarget as HTMLInputElement).files?.[0];
    if (!file) return;
    setBusy(true);
    const res = await fetch(`/customers/${customer.rowId}/photo`, {
      method: 'POST',
      credentials: 'same-origin',
      body: file,
      headers: { 'content-type': file.type || 'application/octet-stream', ...csrfHeaders() },
    });
    setBusy(false);
    setError(res.ok ? null : await errorFromResponse(res));
    if (res.ok) reload();
  }
  return (
    <section aria-labelledby="photo-title">
      <h2 id="photo-title">Photo</h2>
      {customer.photoUrl ? (
        <img class="customer-photo" src={customer.photoUrl} alt={customer.name ?? customer.email} width={160} />
      ) : (
        <p class="empty">No photo yet.</p>
      )}
      <div class="field">
        <label for="photo-file">Upload a photo (JPEG, PNG or WebP)</label>
        <input
          id="photo-file"
          type="file"
          accept="image/jpeg,image/png,image/webp"
          disabled={busy}
          onChange={upload}
          aria-describedby={error ? 'photo-file-error' : undefined}
          aria-invalid={error ? 'true' : undefined}
        />
        {error && (
          <p class="field-error" id="photo-file-error" role="alert">
            {error.message}
          </p>
        )}
      </div>
    </section>
  );
}

function Notes({ customer, reload }: { customer: CustomerDetail; reload: () => void }) {
  const [body, setBody] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    const r = await mutate(ADD_NOTE, { id: customer.rowId, body });
    setBusy(false);
    setError(r.error);
    if (!r.error) {
      setBody('');
      reload();
    }
  }
  return (
    <section aria-labelledby="notes-title">
      <h2 id="notes-title">Notes</h2>
      <ul class="plain notes">
        {customer.customerNotes.nodes.map((n) => (
          <li key={n.rowId}>
            <p>{n.body}</p>
            <p class="hint">{formatTime(n.createdAt)}</p>
          </li>
        ))}
      </ul>
      <form onSubmit={submit} noValidate>
        <div class="field">
          <label for="note-body">New note</label>
          <textarea id="note-body" value={body} onInput={(e) => setBody(e.currentTarget.value)} rows={3} />
        </div>
        <FormError message={error?.message} />
        <div class="button-row">
          <SubmitButton busy={busy}>Add note</SubmitButton>
        </div>
      </form>
    </section>
  );
}

function Audit({ id }: { id: string }) {
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  useEffect(() => {
    run<{ auditEntries: { nodes: AuditEntry[] } }>(CUSTOMER_AUDIT, { id }).then((r) =>
      setEntries(r.data?.auditEntries.nodes ?? []),
    );
  }, [id]);
  if (!entries) return <Loading what="the audit trail" />;
  return (
    <section aria-labelledby="audit-title">
      <h2 id="audit-title">Audit trail</h2>
      <ul class="plain audit">
        {entries.map((e) => (
          <li key={e.at + e.action}>
            {formatTime(e.at)} · {e.actorRole} · {e.action}: {Object.keys(e.newValues ?? e.oldValues ?? {}).join(', ')}
          </li>
        ))}
      </ul>
    </section>
  );
}

type Payment = CustomerDetail['payments']['nodes'][number];

/** Per reservation with a successful charge, what is still refundable (refunds that did not fail count against it). */
function refundable(payments: Payment[]): Map<string, number> {
  const left = new Map<string, number>();
  for (const p of payments) if (p.kind === 'charge' && p.status === 'succeeded') left.set(p.reservationId, p.amount);
  for (const p of payments)
    if (p.kind === 'refund' && p.status !== 'failed' && left.has(p.reservationId))
      left.set(p.reservationId, left.get(p.reservationId)! - p.amount);
  return left;
}

function Payments({ payments, reload }: { payments: Payment[]; reload: () => void }) {
  const [done, setDone] = useState<string | null>(null);
  if (payments.length === 0) return <p class="empty">None.</p>;
  const left = refundable(payments);
  return (
    <>
      {done && <Notice>{done}</Notice>}
      <ul class="plain payments">
        {payments.map((p) => (
          <li key={p.kind + p.at} data-kind={p.kind} data-reservation-id={p.reservationId}>
            {p.kind} · #{p.reservationId} · {formatMoney(p.amount, p.currency)} · {p.status}
            {p.kind === 'charge' && p.status === 'succeeded' && (left.get(p.reservationId) ?? 0) > 0 && (
              <RefundCharge
                reservationId={p.reservationId}
                remaining={left.get(p.reservationId)!}
                currency={p.currency}
                onRefunded={(message) => {
                  setDone(message);
                  reload();
                }}
              />
            )}
          </li>
        ))}
      </ul>
    </>
  );
}

/** "John Smith"; the email when the customer has no name. */
function customerName(c: CustomerDetail): string {
  return [c.name, c.surname].filter(Boolean).join(' ') || c.email;
}

function Customer({ id, user }: { id: string; user: CurrentUser }) {
  const [customer, setCustomer] = useState<CustomerDetail | null | undefined>(undefined);
  const [error, setError] = useState<AppError | null>(null);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    run<{ customer: CustomerDetail | null }>(CUSTOMER, { id }).then((r) => {
      setCustomer(r.data?.customer ?? null);
      setError(r.error);
    });
  }, [id, version]);
  const reload = () => setVersion((v) => v + 1);
  const heading = <h1 tabIndex={-1}>{customer ? customerName(customer) : `Customer #${id}`}</h1>;
  if (error)
    return (
      <>
        {heading}
        <FormError message={error.message} />
      </>
    );
  if (customer === undefined)
    return (
      <>
        {heading}
        <Loading what="the customer" />
      </>
    );
  if (customer === null)
    return (
      <>
        {heading}
        <p role="alert">There is no such customer.</p>
      </>
    );
  return (
    <>
      {heading}
      <p class="customer-id">
        Customer #{customer.rowId} · <span class="email">{customer.email}</span>
      </p>
      <Photo customer={customer} reload={reload} />
      <section aria-labelledby="reservations-title">
        <h2 id="reservations-title">Reservations</h2>
        {customer.reservations.nodes.length === 0 ? (
          <p class="empty">No reservations.</p>
        ) : (
          <ul class="plain">
            {customer.reservations.nodes.map((r) => (
              <li key={r.rowId}>
                #{r.rowId} · {r.status} · {formatTime(r.startsAt, r.timeZone)} · {formatMoney(r.amount, r.currency)} ·{' '}
                <Link href={`/staff/spots/${r.spotId}`}>Spot #{r.spotId}</Link>
              </li>
            ))}
          </ul>
        )}
        <h3>Charges and refunds</h3>
        <Payments payments={customer.payments.nodes} reload={reload} />
      </section>
      <Notes customer={customer} reload={reload} />
      {user.role === 'admin' && <Audit id={id} />}
    </>
  );
}

export function StaffCustomerPage({ params }: { params: Record<string, string> }) {
  return (
    <RequireStaff title="Customer" roles={STAFF_ROLES} refusal="SMC01">
      {(user) => (
        <div class="page narrow">
          <p>
            <Link href="/staff/customers">All customers</Link>
          </p>
          <Customer id={params.id!} user={user} />
        </div>
      )}
    </RequireStaff>
  );
}
