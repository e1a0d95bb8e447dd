// Your account: name, email verification, password change, saved vehicles
// (the reserve form offers them), and the devices signed in as you, each of
// which you can sign out. A button that goes away with what it removed (a
// vehicle, a session) leaves the focus on the message saying it is done.
import { useEffect, useState } from 'preact/hooks';
import { mutate, run } from '../api/client.ts';
import type { AppError } from '../api/errors.ts';
import {
  CHANGE_PASSWORD,
  MY_SESSIONS,
  RESEND_VERIFICATION,
  REMOVE_VEHICLE,
  REVOKE_SESSION,
  SAVE_VEHICLE,
  UPDATE_NAME,
  type MySessionsData,
  type SessionInfo,
} from '../api/account.ts';
import { MY_VEHICLES, type MyVehiclesData, type Vehicle } from '../api/reservations.ts';
import { FormError, focusById, Loading, Notice, placeError, SubmitButton, TextField } from '../components/fields.tsx';
import { RequireSignIn } from '../components/require_sign_in.tsx';
import { formatTime } from '../format.ts';
import { zoneName } from '../zoned_time.ts';
import { useLocation } from '../router.tsx';
import { refreshSession, type CurrentUser } from '../session.ts';

function Profile({ user }: { user: CurrentUser }) {
  const [name, setName] = useState(user.name ?? '');
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  const [resent, setResent] = useState<string | null>(null);

  async function save(event: Event) {
    event.preventDefault();
    setBusy(true);
    const r = await mutate(UPDATE_NAME, { id: user.rowId, name });
    setBusy(false);
    setError(r.error);
    setSaved(!r.error);
    if (!r.error) refreshSession();
  }

  async function resend() {
    const r = await mutate<{ resendVerificationEmail: { result: boolean } }>(RESEND_VERIFICATION);
    setResent(r.error ? r.error.message : 'We sent you a new verification link.');
  }

  const placed = placeError(error, { name: ['SMA05'] });
  return (
    <section aria-labelledby="profile-title">
      <h2 id="profile-title">Profile</h2>
      <p>
        Signed in as <strong>{user.email}</strong>
        {user.isVerified ? ' (verified).' : ' (not verified yet).'}
      </p>
      {!user.isVerified && (
        <p>
          <button type="button" onClick={resend}>
            Send the verification email again
          </button>
        </p>
      )}
      {resent && <Notice>{resent}</Notice>}
      <form onSubmit={save} noValidate>
        <TextField
          id="name"
          label="Name"
          autoComplete="name"
          value={name}
          error={placed.field('name')}
          onInput={(e) => {
            setName(e.currentTarget.value);
            setSaved(false);
          }}
        />
        <FormError message={placed.general} />
        {saved && <Notice>Name saved.</Notice>}
        <SubmitButton busy={busy}>Save name</SubmitButton>
      </form>
    </section>
  );
}

function ChangePassword() {
  const [form, setForm] = useState({ old: '', new: '' });
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<AppError | null>(null);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    const r = await mutate(CHANGE_PASSWORD, form);
    setBusy(false);
    setError(r.error);
    setDone(!r.error);
    if (!r.error) setForm({ old: '', new: '' });
  }

  const placed = placeError(error, { oldPassword: ['SMA09'], newPassword: ['SMA04'] });
  return (
    <section aria-labelledby="password-title">
      <h2 id="password-title">Change password</h2>
      <form onSubmit={submit} noValidate>
        <TextField
          id="oldPassword"
          label="Current password"
          type="password"
          autoComplete="current-password"
          value={form.old}
          error={placed.field('oldPassword')}
          onInput={(e) => setForm({ ...form, old: e.currentTarget.value })}
        />
        <TextField
          id="newPassword"
          label="New password"
          type="password"
          autoComplete="new-password"
          value={form.new}
          hint="At least 10 characters, not one character repeated, not your email."
          error={placed.field('newPassword')}
          onInput={(e) => setForm({ ...form, new: e.currentTarget.value })}
        />
        <FormError message={placed.general} />
        {done && <Notice>Password changed. Your other devices were signed out.</Notice>}
        <SubmitButton busy={busy}>Change password</SubmitButton>
      </form>
    </section>
  );
}

const vehicleName = (v: Vehicle) =>
  `${v.label ? `${v.label}: ` : ''}${v.plate}${v.plateState ? ` (${v.plateState})` : ''}`;

/** The vehicles the reserve form offers: listed, added (state and label checked first), removed. */
function Vehicles() {
  const [vehicles, setVehicles] = useState<Vehicle[] | null>(null);
  const [form, setForm] = useState({ plate: '', plateState: '', label: '' });
  const [typed, setTyped] = useState<{ plate?: string; plateState?: string; label?: string }>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const load = () =>
    run<MyVehiclesData>(MY_VEHICLES).then((r) => {
      if (r.error) setError(r.error);
      setVehicles(r.data?.vehicles?.nodes ?? []);
    });
  useEffect(() => {
    load();
  }, []);

  async function add(event: Event) {
    event.preventDefault();
    const [plate, plateState, label] = [form.plate.trim(), form.plateState.trim(), form.label.trim()];
    const found = {
      plate: plate === '' ? 'Enter the licence plate, such as ABC 1234.' : undefined,
      plateState:
        plateState !== '' && !/^[A-Za-z]{2,3}$/.test(plateState)
          ? "Enter the plate's state as its 2 or 3 letter code, such as NY."
          : undefined,
      label: label.length > 50 ? `A label is at most 50 characters (this one is ${label.length}).` : undefined,
    };
    setTyped(found);
    setDone(null);
    setError(null);
    const first = (['plate', 'plateState', 'label'] as const).find((k) => found[k]);
    if (first) {
      document
        .getElementById({ plate: 'vehicle-plate', plateState: 'vehicle-state', label: 'vehicle-label' }[first])
        ?.focus();
      return;
    }
    setBusy(true);
    const r = await mutate(SAVE_VEHICLE, { plate, plateState: plateState || null, label: label || null });
    setBusy(false);
    setError(r.error);
    if (r.error) return;
    setForm({ plate: '', plateState: '', label: '' });
    setDone('Vehicle saved.');
    load();
  }

  async function remove(v: Vehicle) {
    setDone(null);
    const r = await mutate(REMOVE_VEHICLE, { id: v.rowId });
    setError(r.error);
    if (!r.error) setDone(`Removed ${v.plate}.`);
    await load();
    // Its Remove button is gone with it.
    if (!r.error) focusById('vehicles-notice');
  }

  // The API's SME01 (a plate it does not take) belongs next to the plate: state and label are checked before sending.
  const placed = placeError(error, { plate: ['SME01'] });
  return (
    <section aria-labelledby="vehicles-title">
      <h2 id="vehicles-title">Vehicles</h2>
      <p class="hint">The reserve form offers these, so that enforcement's plate check finds your reservations.</p>
      {vehicles === null ? (
        <Loading what="your vehicles" />
      ) : vehicles.length === 0 ? (
        <p class="empty">No saved vehicle yet.</p>
      ) : (
        <ul class="plain vehicles">
          {vehicles.map((v) => (
            <li key={v.rowId} data-vehicle-id={v.rowId}>
              {vehicleName(v)}{' '}
              <button type="button" class="danger" onClick={() => remove(v)}>
                Remove<span class="visually-hidden"> {v.plate}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={add} noValidate>
        <TextField
          id="vehicle-plate"
          label="Licence plate"
          autoComplete="off"
          autoCapitalize="characters"
          value={form.plate}
          error={typed.plate ?? placed.field('plate')}
          onInput={(e) => setForm({ ...form, plate: e.currentTarget.value })}
        />
        <TextField
          id="vehicle-state"
          label="State or province (optional, e.g. NY)"
          autoComplete="off"
          autoCapitalize="characters"
          maxLength={3}
          value={form.plateState}
          error={typed.plateState}
          onInput={(e) => setForm({ ...form, plateState: e.currentTarget.value })}
        />
        <TextField
          id="vehicle-label"
          label="Label (optional, e.g. Van)"
          value={form.label}
          error={typed.label}
          onInput={(e) => setForm({ ...form, label: e.currentTarget.value })}
        />
        <FormError message={placed.general} />
        {done && <Notice id="vehicles-notice">{done}</Notice>}
        <SubmitButton busy={busy}>Add vehicle</SubmitButton>
      </form>
    </section>
  );
}

function Sessions() {
  const [sessions, setSessions] = useState<SessionInfo[] | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const load = () =>
    run<MySessionsData>(MY_SESSIONS).then((r) => {
      setError(r.error);
      setSessions(r.data?.mySessions?.nodes ?? []);
    });
  useEffect(() => {
    load();
  }, []);

  async function revoke(s: SessionInfo) {
    setDone(null);
    const r = await mutate(REVOKE_SESSION, { id: s.rowId });
    setError(r.error);
    if (!r.error) setDone(`Signed out the session started ${formatTime(s.createdAt)}.`);
    await load();
    // Its button is gone with it: the focus goes to the message saying so (or to the refusal).
    focusById(r.error ? 'sessions-error' : 'sessions-notice');
  }

  return (
    <section aria-labelledby="sessions-title">
      <h2 id="sessions-title">Where you are signed in</h2>
      <p class="hint">Times in {zoneName()}, this browser's time zone.</p>
      {sessions === null ? (
        <Loading what="your sessions" />
      ) : (
        <ul class="plain sessions">
          {sessions.map((s) => (
            <li key={s.rowId} data-session-id={s.rowId}>
              <strong>{s.isCurrent ? 'This browser' : `Signed in with ${s.method ?? 'password'}`}</strong>
              <span class="spot-facts">
                {' '}
                · since {formatTime(s.createdAt)}
                {s.lastActiveAt ? `, last active ${formatTime(s.lastActiveAt)}` : ''}
              </span>
              {!s.isCurrent && (
                <div>
                  <button type="button" class="danger" onClick={() => revoke(s)}>
                    Sign out this session<span class="visually-hidden"> started {formatTime(s.createdAt)}</span>
                  </button>
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
      {done && <Notice id="sessions-notice">{done}</Notice>}
      <FormError message={error?.message} id="sessions-error" />
    </section>
  );
}

export function AccountPage() {
  const welcome = useLocation().searchParams.get('welcome');
  return (
    <RequireSignIn title="Your account">
      {(user) => (
        <div class="page narrow">
          <h1 tabIndex={-1}>Your account</h1>
          {welcome && <Notice>Welcome, {user.name}! We emailed you a link to verify your address.</Notice>}
          <Profile user={user} />
          <ChangePassword />
          <Vehicles />
          <Sessions />
        </div>
      )}
    </RequireSignIn>
  );
}
