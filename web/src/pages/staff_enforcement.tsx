// Enforcement officers (phone-sized): does this plate hold a valid
// reservation now (at this spot)? Every lookup is audited by the API. A spot
// number that is not one (digits) is refused next to its field before sending.
import { useState } from 'preact/hooks';
import { mutate } from '../api/client.ts';
import type { AppError } from '../api/errors.ts';
import { ENFORCEMENT_LOOKUP, type EnforcementAnswer } from '../api/staff.ts';
import { FormError, focusById, placeError, SubmitButton, TextField } from '../components/fields.tsx';
import { RequireStaff } from '../components/require_staff.tsx';
import { formatTime } from '../format.ts';

export function StaffEnforcementPage() {
  const [form, setForm] = useState({ plate: '', state: '', spot: '' });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  const [spotError, setSpotError] = useState<string | null>(null);
  const [answer, setAnswer] = useState<EnforcementAnswer | null>(null);
  async function submit(event: Event) {
    event.preventDefault();
    const spot = form.spot.trim();
    if (spot !== '' && !/^\d+$/.test(spot)) {
      setSpotError('Enter the spot number in digits, as on the sign (such as 1042), or leave it empty.');
      setAnswer(null);
      focusById('spot');
      return;
    }
    setSpotError(null);
    setBusy(true);
    const r = await mutate<{ enforcementLookup: { result: EnforcementAnswer } }>(ENFORCEMENT_LOOKUP, {
      plate: form.plate,
      state: form.state.trim() || null,
      spot: spot || null,
    });
    setBusy(false);
    setError(r.error);
    setAnswer(r.data?.enforcementLookup.result ?? null);
  }
  const placed = placeError(error, { plate: ['SME01'] });
  const field = (key: keyof typeof form) => ({
    value: form[key],
    onInput: (e: { currentTarget: HTMLInputElement }) => setForm({ ...form, [key]: e.currentTarget.value }),
  });
  return (
    <RequireStaff title="Plate check" roles={['enforcement', 'admin']} refusal="SME02">
      {() => (
        <div class="page narrow">
          <h1 tabIndex={-1}>Plate check</h1>
          <form onSubmit={submit} noValidate>
            <TextField
              id="plate"
              label="Licence plate"
              autoComplete="off"
              autoCapitalize="characters"
              error={placed.field('plate')}
              {...field('plate')}
            />
            <TextField id="plate-state" label="State (optional)" autoCapitalize="characters" {...field('state')} />
            <TextField
              id="spot"
              label="Spot number (optional)"
              inputMode="numeric"
              error={spotError ?? undefined}
              {...field('spot')}
            />
            <FormError message={placed.general} />
            <div class="button-row">
              <SubmitButton busy={busy}>Check</SubmitButton>
            </div>
          </form>
          {answer && (
            <p role="status" class={answer.valid ? 'notice enforcement-valid' : 'form-error enforcement-invalid'}>
              {answer.valid
                ? `${answer.plate} holds a valid reservation${answer.spotId ? ` at spot ${answer.spotId}` : ''} until ${formatTime(answer.validUntil!, answer.timeZone)}.`
                : `${answer.plate} holds no valid reservation${answer.spotId ? ` at spot ${answer.spotId}` : ''} now.`}
            </p>
          )}
        </div>
      )}
    </RequireStaff>
  );
}
