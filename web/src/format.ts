// How amounts, distances, durations and times read on screen.

export function formatMoney(amount: number, currency: string): string {
  return new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(amount / 100);
}

export type Unit = 'km' | 'mi';

/** A distance given in `unit`: metres or feet below a tenth of the unit. */
export function formatDistance(distance: number, unit: Unit): string {
  if (unit === 'km') return distance < 1 ? `${Math.round(distance * 1000)} m` : `${distance.toFixed(1)} km`;
  return distance < 0.1 ? `${Math.round(distance * 5280)} ft` : `${distance.toFixed(2)} mi`;
}

export function formatMinutes(minutes: number): string {
  const h = Math.floor(minutes / 60);
  const m = Math.round(minutes % 60);
  if (h === 0) return `${m} min`;
  return m === 0 ? `${h} h` : `${h} h ${m} min`;
}

/** PostGraphile's Interval object as minutes. */
export function intervalMinutes(
  i: { days?: number | null; hours?: number | null; minutes?: number | null } | null | undefined,
): number {
  return ((i?.days ?? 0) * 24 + (i?.hours ?? 0)) * 60 + (i?.minutes ?? 0);
}

/** A time in the spot's time zone, with the zone's short name ("Dec 2, 3:00 PM EST"). */
export function formatTime(iso: string, timeZone?: string | null): string {
  return new Intl.DateTimeFormat('en-US', {
    timeZone: timeZone ?? undefined,
    month: 'short',
    day: 'numeric',
    hour: 'numeric',
    minute: '2-digit',
    timeZoneName: 'short',
  }).format(new Date(iso));
}

export function formatWindow(startsAt: string, endsAt: string, timeZone?: string | null): string {
  return `${formatTime(startsAt, timeZone)} – ${formatTime(endsAt, timeZone)}`;
}
