// Staff: find customers (typo-tolerant search, or the first 50 by surname)
// and create one.
import { useEffect, useState } from 'preact/hooks';
import { mutate, run } from '../api/client.ts';
import type { AppError } from '../api/errors.ts';
import { CREATE_CUSTOMER, type CustomerListItem, RECENT_CUSTOMERS, SEARCH_CUSTOMERS } from '../api/staff.ts';
import { FormError, Loading, placeError, SubmitButton, TextField } from '../components/fields.tsx';
import { RequireStaff } from '../components/require_staff.tsx';
import { Link, navigate, useLocation } from '../router.tsx';

export const STAFF_ROLES = ['operator', 'admin'];

const fullName = (c: CustomerListItem) => [c.name, c.surname].filter(Boolean).join(' ') || '(no name)';

function Results({ q }: { q: string }) {
  const [items, setItems] = useState<CustomerListItem[] | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  useEffect(() => {
    setItems(null);
    const request = q
      ? run<{ searchCustomers: { nodes: CustomerListItem[] } }>(SEARCH_CUSTOMERS, { q }).then((r) => ({
          ...r,
          items: r.data?.searchCustomers.nodes,
        }))
      : run<{ customers: { nodes: CustomerListItem[] } }>(RECENT_CUSTOMERS).then((r) => ({
          ...r,
          items: r.data?.customers.nodes,
        }));
    request.then((r) => {
      setItems(r.items ?? []);
      setError(r.error);
    });
  }, [q]);
  if (error) return <FormError message={error.message} />;
  if (!items) return <Loading what="customers" />;
  if (items.length === 0) return <p class="empty">No customer matches.</p>;
  return (
    <ul class="plain customers">
      {items.map((c) => (
        <li key={c.rowId} data-customer-id={c.rowId}>
          <Link href={`/staff/customers/${c.rowId}`}>{fullName(c)}</Link> <span class="email">{c.email}</span>
        </li>
      ))}
    </ul>
  );
}

function CreateCustomer() {
  const [form, setForm] = useState({ email: '', name: '', surname: '' });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    const r = await mutate<{ createCustomer: { result: { rowId: string } } }>(CREATE_CUSTOMER, form);
    setBusy(false);
    setError(r.error);
    if (r.data) navigate(`/staff/customers/${r.data.createCustomer.result.rowId}`);
  }
  const placed = placeError(error, { 'new-email': ['SMA03', 'SMC02'], 'new-surname': ['SMC04'] });
  const field = (key: keyof typeof form) => ({
    value: form[key],
    onInput: (e: { currentTarget: HTMLInputElement }) => setForm({ ...form, [key]: e.currentTarget.value }),
  });
  return (
    <section aria-labelledby="new-customer">
      <h2 id="new-customer">New customer</h2>
      <form onSubmit={submit} noValidate>
        <TextField id="new-email" label="Email" type="email" error={placed.field('new-email')} {...field('email')} />
        <TextField id="new-name" label="Name" {...field('name')} />
        <TextField id="new-surname" label="Surname" error={placed.field('new-surname')} {...field('surname')} />
        <FormError message={placed.general} />
        <div class="button-row">
          <SubmitButton busy={busy}>Create customer</SubmitButton>
        </div>
      </form>
    </section>
  );
}

export function StaffCustomersPage() {
  const url = useLocation();
  const q = url.searchParams.get('q') ?? '';
  const [text, setText] = useState(q);
  return (
    <RequireStaff title="Customers" roles={STAFF_ROLES} refusal="SMC01">
      {() => (
        <div class="page narrow">
          <h1 tabIndex={-1}>Customers</h1>
          <search>
            <form
              onSubmit={(e) => {
                e.preventDefault();
                navigate(`/staff/customers${text.trim() ? `?q=${encodeURIComponent(text.trim())}` : ''}`);
              }}
            >
              <TextField
                id="customer-search"
                label="Name, surname or email"
                type="search"
                value={text}
                onInput={(e) => setText(e.currentTarget.value)}
              />
              <div class="button-row">
                <button type="submit" class="primary">
                  Search
                </button>
              </div>
            </form>
          </search>
          <Results q={q} />
          <CreateCustomer />
        </div>
      )}
    </RequireStaff>
  );
}
