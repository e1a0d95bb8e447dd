// Wall clocks of a time zone: what a clock in a zone reads at an instant, and
// the instant a reading means there. Staff plan a spot's week and its blocks in
// the spot's zone, which need not be the browser's (Date only knows that one).
// No zone (a spot without a rate) means the browser's own.

/** A wall-clock reading: month 1–12, hour 0–23. */
export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

/** The zone a time is shown in: the spot's, else the browser's (its IANA name, e.g. "America/New_York"). */
export function zoneName(timeZone?: string | null): string {
  return timeZone ?? new Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** The zone's name and its short name now: "America/New_York (EST)". */
export function zoneLabel(timeZone?: string | null, at = new Date()): string {
  const short = new Intl.DateTimeFormat('en-US', { timeZone: timeZone ?? undefined, timeZoneName: 'short' })
    .formatToParts(at)
    .find((p) => p.type === 'timeZoneName')?.value;
  return short ? `${zoneName(timeZone)} (${short})` : zoneName(timeZone);
}

const readers = new Map<string, Intl.DateTimeFormat>();

function readerFor(timeZone: string | undefined): Intl.DateTimeFormat {
  const key = timeZone ?? '';
  let reader = readers.get(key);
  if (!reader) {
    reader = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    readers.set(key, reader);
  }
  return reader;
}

/** What a clock in the zone reads at an instant. */
export function wallClock(instant: Date, timeZone?: string | null): WallClock {
  const parts: Record<string, number> = {};
  for (const p of readerFor(timeZone ?? undefined).formatToParts(instant)) parts[p.type] = Number(p.value);
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour!, minute: parts.minute! };
}

/** A reading taken as if it were UTC: for the arithmetic of dates and offsets (Date.UTC rolls day 32 over). */
function asUtc(w: WallClock): number {
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute);
}

/**
 * The instant a clock in the zone reads `w`. The zone's offset is taken near
 * the reading, then again at the instant that gives, so a reading just across
 * a daylight-saving change gets the offset of its own side. A reading met
 * twice (1:30 on a fall-back night) is the first; one the change skips (2:30
 * on a spring-forward night) is read with the offset before the change
 * (3:30 after it), as Date reads the browser's own clock.
 */
export function zonedInstant(w: WallClock, timeZone?: string | null): Date {
  const wanted = asUtc(w);
  const offsetAt = (t: number) => asUtc(wallClock(new Date(t), timeZone)) - Math.floor(t / 60_000) * 60_000;
  const near = wanted - offsetAt(wanted);
  const own = wanted - offsetAt(near);
  if (own === near || offsetAt(own) === offsetAt(near)) return new Date(own);
  return new Date(Math.max(near, own));
}

/** The value of a datetime-local input for an instant, as a clock in the zone reads it. */
export function toLocalInput(instant: Date, timeZone?: string | null): string {
  const w = wallClock(instant, timeZone);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${w.year}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}`;
}

/** The instant a datetime-local input's value means in the zone; null when it is not one. */
export function fromLocalInput(value: string, timeZone?: string | null): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value);
  if (!m) return null;
  const [year, month, day, hour, minute] = m.slice(1).map(Number) as [number, number, number, number, number];
  return zonedInstant({ year, month, day, hour, minute }, timeZone);
}
