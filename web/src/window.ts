// The time window a driver searches and books: a start ("now" or a
// datetime-local reading) and a length in minutes. A reading is on the spot's
// clock (its rate's time zone), as street signs and drivers read it, not the
// browser's: the zone is given wherever a reading becomes an instant.
import { fromLocalInput, toLocalInput, wallClock, zonedInstant } from './zoned_time.ts';

export interface TimeWindow {
  /** 'now' or a datetime-local value, read on the spot's clock. */
  start: string;
  minutes: number;
}

export const DURATIONS = [15, 30, 60, 90, 120, 180, 240, 360, 480, 720];

export const DEFAULT_WINDOW: TimeWindow = { start: 'now', minutes: 60 };

/** The instants of a window whose start is read in `timeZone` (none: the browser's). */
export function windowRange(
  w: TimeWindow,
  timeZone?: string | null,
  now = new Date(),
): { startsAt: Date; endsAt: Date } {
  const startsAt = w.start === 'now' ? now : (fromLocalInput(w.start, timeZone) ?? now);
  return { startsAt, endsAt: new Date(startsAt.getTime() + w.minutes * 60_000) };
}

export function windowFromParams(params: URLSearchParams): TimeWindow {
  const start = params.get('start');
  const minutes = Number(params.get('minutes'));
  return {
    start: start && fromLocalInput(start) ? start.slice(0, 16) : 'now',
    minutes: DURATIONS.includes(minutes) ? minutes : DEFAULT_WINDOW.minutes,
  };
}

export function windowParams(w: TimeWindow): Record<string, string> {
  return { ...(w.start === 'now' ? {} : { start: w.start }), minutes: String(w.minutes) };
}

/** A sensible first value when the driver switches from "now" to a later start: the next full hour on the zone's clock. */
export function nextHourInput(timeZone?: string | null, now = new Date()): string {
  const w = wallClock(now, timeZone);
  return toLocalInput(zonedInstant({ ...w, hour: w.hour + 1, minute: 0 }, timeZone), timeZone);
}

/** A reading on one zone's clock as another zone's clock reads the same instant. */
export function convertReading(start: string, from?: string | null, to?: string | null): string {
  if (start === 'now' || (from ?? null) === (to ?? null)) return start;
  const instant = fromLocalInput(start, from);
  return instant ? toLocalInput(instant, to) : start;
}
