// Enforcement officers (phone-sized): does this plate hold a valid
// reservation now (at this meter)? The officer types the number on the
// meter's sign, the city's meter number (our spot ids are on no sign); an
// unknown one is said next to its field. Every lookup is audited by the API.
import { useState } from 'preact/hooks';
import { mutate } from '../api/client.ts';
import type { AppError } from '../api/errors.ts';
import { ENFORCEMENT_LOOKUP, type EnforcementAnswer } from '../api/staff.ts';
import { FormError, placeError, SubmitButton, TextField } from '../components/fields.tsx';
import { RequireStaff } from '../components/require_staff.tsx';
import { METER_UNKNOWN } from '../error_messages.ts';
import { formatTime } from '../format.ts';

export function StaffEnforcementPage() {
  const [form, setForm] = useState({ plate: '', state: '', meter: '' });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  // The answer, with the meter it was asked for.
  const [answer, setAnswer] = useState<{ result: EnforcementAnswer; meter: string } | null>(null);
  async function submit(event: Event) {
    event.preventDefault();
    const meter = form.meter.trim();
    setBusy(true);
    const r = await mutate<{ enforcementLookup: { result: EnforcementAnswer } }>(ENFORCEMENT_LOOKUP, {
      plate: form.plate,
      state: form.state.trim() || null,
      meter: meter || null,
    });
    setBusy(false);
    setError(r.error);
    const result = r.data?.enforcementLookup.result;
    setAnswer(result ? { result, meter } : null);
  }
  const placed = placeError(error, { plate: ['SME01'], meter: ['SMS04'] });
  const field = (key: keyof typeof form) => ({
    value: form[key],
    onInput: (e: { currentTarget: HTMLInputElement }) => setForm({ ...form, [key]: e.currentTarget.value }),
  });
  const where = (meter: string) => (meter ? ` at meter ${meter}` : '');
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
              id="meter"
              label="Meter number (optional)"
              hint="The number on the meter's sign, such as 1027293. Leave it empty to check the plate anywhere."
              autoComplete="off"
              inputMode="numeric"
              // The shared SMS04 sentence is a driver's; the officer typed a meter number.
              error={placed.field('meter') && METER_UNKNOWN}
              {...field('meter')}
            />
            <FormError message={placed.general} />
            <div class="button-row">
              <SubmitButton busy={busy}>Check</SubmitButton>
            </div>
          </form>
          {answer && (
            <p
              role="status"
              class={answer.result.valid ? 'notice enforcement-valid' : 'form-error enforcement-invalid'}
            >
              {answer.result.valid
                ? `${answer.result.plate} holds a valid reservation${where(answer.meter)} until ${formatTime(answer.result.validUntil!, answer.result.timeZone)}.`
                : `${answer.result.plate} holds no valid reservation${where(answer.meter)} now.`}
            </p>
          )}
        </div>
      )}
    </RequireStaff>
  );
}
