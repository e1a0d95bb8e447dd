// Start ("now" or a chosen time, on the spot's clock: the zone is named next
// to the field) and length of the stay.
import { formatMinutes } from '../format.ts';
import { DURATIONS, nextHourInput, type TimeWindow } from '../window.ts';
import { SelectField, TextField } from './fields.tsx';

interface Props {
  idPrefix: string;
  value: TimeWindow;
  onChange(w: TimeWindow): void;
  /** An error of the window as a whole (its length: next to "For"). */
  error?: string;
  /** An error of the chosen start, next to it (e.g. a start that has passed). */
  startError?: string;
  /** Longest stay offered (the spot's maximum), in minutes. */
  maxMinutes?: number;
  /** The zone a typed start is read in (the spot's); none: the browser's. */
  timeZone?: string | null;
  /** Which clock that is, said next to the start field ("In America/New_York (EST), the spot's time zone."). */
  zoneHint: string;
}

export function WindowFields({ idPrefix, value, onChange, error, startError, maxMinutes, timeZone, zoneHint }: Props) {
  const durations = DURATIONS.filter((m) => maxMinutes === undefined || m <= maxMinutes);
  return (
    <fieldset class="window-fields">
      <legend>When</legend>
      <SelectField
        id={`${idPrefix}-start-mode`}
        label="Start"
        value={value.start === 'now' ? 'now' : 'later'}
        onChange={(e) =>
          onChange({ ...value, start: e.currentTarget.value === 'now' ? 'now' : nextHourInput(timeZone) })
        }
      >
        <option value="now">Now</option>
        <option value="later">At a time I choose</option>
      </SelectField>
      {value.start !== 'now' && (
        <TextField
          id={`${idPrefix}-start`}
          label="Start at"
          type="datetime-local"
          required
          hint={zoneHint}
          error={startError}
          value={value.start}
          onChange={(e) => onChange({ ...value, start: e.currentTarget.value || value.start })}
        />
      )}
      <SelectField
        id={`${idPrefix}-minutes`}
        label="For"
        value={String(value.minutes)}
        error={error}
        onChange={(e) => onChange({ ...value, minutes: Number(e.currentTarget.value) })}
      >
        {durations.map((m) => (
          <option key={m} value={String(m)}>
            {formatMinutes(m)}
          </option>
        ))}
      </SelectField>
    </fieldset>
  );
}
