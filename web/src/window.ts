// The time window a driver searches and books: a start ("now" or a local
// date-time from an input) and a length in minutes.
import { toLocalInput } from './zoned_time.ts';

export interface TimeWindow {
  /** 'now' or a datetime-local value in the browser's zone. */
  start: string;
  minutes: number;
}

export const DURATIONS = [15, 30, 60, 90, 120, 180, 240, 360, 480, 720];

export const DEFAULT_WINDOW: TimeWindow = { start: 'now', minutes: 60 };

export function windowRange(w: TimeWindow, now = new Date()): { startsAt: Date; endsAt: Date } {
  const startsAt = w.start === 'now' ? now : new Date(w.start);
  return { startsAt, endsAt: new Date(startsAt.getTime() + w.minutes * 60_000) };
}

export function windowFromParams(params: URLSearchParams): TimeWindow {
  const start = params.get('start');
  const minutes = Number(params.get('minutes'));
  return {
    start: start && !Number.isNaN(new Date(start).getTime()) ? start : 'now',
    minutes: DURATIONS.includes(minutes) ? minutes : DEFAULT_WINDOW.minutes,
  };
}

export function windowParams(w: TimeWindow): Record<string, string> {
  return { ...(w.start === 'now' ? {} : { start: w.start }), minutes: String(w.minutes) };
}

/** A sensible first value when the driver switches from "now" to a later start: the next full hour. */
export function nextHourInput(now = new Date()): string {
  const d = new Date(now);
  d.setMinutes(0, 0, 0);
  d.setHours(d.getHours() + 1);
  return toLocalInput(d);
}
