// A spot's week as a per-day list of time bars: its maintenance blocks and
// reservations, each placed on a 24-hour track, in the spot's time zone (its
// street's clock, which drivers see too), whatever the browser's.
// A list (not a grid of hour cells) so that it reads in order with a screen
// reader and fits a phone; blocks carry their Lift button.
import { useMemo, useState } from 'preact/hooks';
import type { StaffSpot } from '../api/staff.ts';
import { wallClock, zonedInstant } from '../zoned_time.ts';

type Booking = StaffSpot['reservations']['nodes'][number];

/** What no longer holds the spot: lifted blocks are cancelled ones. */
const GONE = new Set(['cancelled', 'expired']);

/** A calendar date as midnight UTC of that date: counted in whole days with no zone in the way. */
type CalendarDay = Date;

const addDays = (day: CalendarDay, n: number): CalendarDay => new Date(day.getTime() + n * 86_400_000);

/** The Monday of the week holding `instant` in the zone. */
export function weekStart(instant: Date, timeZone: string | null): CalendarDay {
  const { year, month, day } = wallClock(instant, timeZone);
  const date = new Date(Date.UTC(year, month - 1, day));
  return addDays(date, -((date.getUTCDay() + 6) % 7));
}

/** When the day begins in the zone: its midnight there. */
function dayBegins(day: CalendarDay, timeZone: string | null): Date {
  const [year, month, date] = [day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate()];
  return zonedInstant({ year, month, day: date, hour: 0, minute: 0 }, timeZone);
}

const dayName = new Intl.DateTimeFormat('en-US', { weekday: 'long', month: 'short', day: 'numeric', timeZone: 'UTC' });

interface Segment {
  booking: Booking;
  from: Date;
  to: Date;
}

/** The part of each booking that falls in [dayStart, dayEnd), earliest first. */
function segments(bookings: Booking[], dayStart: Date, dayEnd: Date): Segment[] {
  return bookings
    .map((booking) => ({
      booking,
      from: new Date(Math.max(Date.parse(booking.startsAt), dayStart.getTime())),
      to: new Date(Math.min(Date.parse(booking.endsAt), dayEnd.getTime())),
    }))
    .filter((s) => s.from < s.to)
    .sort((a, b) => a.from.getTime() - b.from.getTime());
}

function SegmentRow({
  segment,
  dayStart,
  dayEnd,
  clock,
  busy,
  onLift,
}: {
  segment: Segment;
  dayStart: Date;
  dayEnd: Date;
  clock: Intl.DateTimeFormat;
  busy: boolean;
  onLift: (blockId: string) => void;
}) {
  const { booking, from, to } = segment;
  const isBlock = booking.kind === 'block';
  // The day's length, not 24 h: days with a DST change are 23 or 25 hours long.
  const span = dayEnd.getTime() - dayStart.getTime();
  const left = ((from.getTime() - dayStart.getTime()) / span) * 100;
  const width = ((to.getTime() - from.getTime()) / span) * 100;
  const until = to.getTime() === dayEnd.getTime() ? 'midnight' : clock.format(to);
  return (
    <li
      class={`week-item ${isBlock ? 'week-block' : 'week-reservation'}`}
      data-block-id={isBlock ? booking.rowId : undefined}
      data-reservation-id={isBlock ? undefined : booking.rowId}
    >
      <span class="time-track" aria-hidden="true">
        <span class="time-bar" style={{ left: `${left}%`, width: `${Math.max(width, 1)}%` }}></span>
      </span>
      <span class="week-item-text">
        {clock.format(from)} – {until} · {isBlock ? 'Block' : `Reservation #${booking.rowId} (${booking.status})`}
        {isBlock && booking.note ? ` · ${booking.note}` : ''}
      </span>
      {isBlock && (
        <button type="button" disabled={busy} onClick={() => onLift(booking.rowId)}>
          Lift block #{booking.rowId}
        </button>
      )}
    </li>
  );
}

/** The week of a spot whose time zone is `timeZone` (null: the spot has no rate, so the browser's). */
export function SpotWeek({
  bookings,
  timeZone,
  busy,
  onLift,
}: {
  bookings: Booking[];
  timeZone: string | null;
  busy: boolean;
  onLift: (blockId: string) => void;
}) {
  const [monday, setMonday] = useState(() => weekStart(new Date(), timeZone));
  const clock = useMemo(
    () => new Intl.DateTimeFormat('en-US', { hour: 'numeric', minute: '2-digit', timeZone: timeZone ?? undefined }),
    [timeZone],
  );
  const live = bookings.filter((b) => !GONE.has(b.status));
  const days = Array.from({ length: 7 }, (_, i) => {
    const day = addDays(monday, i);
    return { day, start: dayBegins(day, timeZone), end: dayBegins(addDays(day, 1), timeZone) };
  });
  const move = (weeks: number) => setMonday(addDays(monday, 7 * weeks));
  return (
    <section aria-labelledby="week-title" class="spot-week">
      <h2 id="week-title" aria-live="polite">
        Week of {dayName.format(monday)}
      </h2>
      <div class="button-row">
        <button type="button" onClick={() => move(-1)}>
          Previous week
        </button>
        <button type="button" onClick={() => move(1)}>
          Next week
        </button>
      </div>
      <ol class="week-days">
        {days.map(({ day, start, end }) => {
          const daySegments = segments(live, start, end);
          const key = day.toISOString().slice(0, 10);
          return (
            <li key={key} data-day={key} class="week-day">
              <h3>{dayName.format(day)}</h3>
              {daySegments.length === 0 ? (
                <p class="empty">Free all day.</p>
              ) : (
                <ul class="plain">
                  {daySegments.map((s) => (
                    <SegmentRow
                      key={s.booking.rowId}
                      segment={s}
                      dayStart={start}
                      dayEnd={end}
                      clock={clock}
                      busy={busy}
                      onLift={onLift}
                    />
                  ))}
                </ul>
              )}
            </li>
          );
        })}
      </ol>
    </section>
  );
}
