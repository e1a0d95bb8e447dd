// Start ("now" or a chosen time) and length of the stay.
import { formatMinutes } from '../format.ts';
import { DURATIONS, nextHourInput, type TimeWindow } from '../window.ts';
import { SelectField, TextField } from './fields.tsx';

interface Props {
  idPrefix: string;
  value: TimeWindow;
  onChange(w: TimeWindow): void;
  error?: string;
  /** Longest stay offered (the spot's maximum), in minutes. */
  maxMinutes?: number;
}

export function WindowFields({ idPrefix, value, onChange, error, maxMinutes }: Props) {
  const durations = DURATIONS.filter((m) => maxMinutes === undefined || m <= maxMinutes);
  return (
    <fieldset class="window-fields">
      <legend>When</legend>
      <SelectField
        id={`${idPrefix}-start-mode`}
        label="Start"
        value={value.start === 'now' ? 'now' : 'later'}
        onChange={(e) => onChange({ ...value, start: e.currentTarget.value === 'now' ? 'now' : nextHourInput() })}
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
