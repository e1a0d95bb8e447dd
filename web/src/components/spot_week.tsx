// A spot's week as a per-day list of time bars: its maintenance blocks and
// reservations, each placed on a 24-hour track, in the browser's time zone.
// A list (not a grid of hour cells) so that it reads in order with a screen
// reader and fits a phone; blocks carry their Lift button.
import { useState } from 'preact/hooks';
import type { StaffSpot } from '../api/staff.ts';
import { toLocalInput } from '../format.ts';

type Booking = StaffSpot['reservations']['nodes'][number];

/** What no longer holds the spot: lifted blocks are cancelled ones. */
const GONE = new Set(['cancelled', 'expired']);

/** Monday 00:00 (local) of the week holding `date`. */
export function weekStart(date: Date): Date {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate() - ((date.getDay() + 6) % 7));
}

const dayName = new Intl.DateTimeFormat('en-US', { weekday: 'long', month: 'short', day: 'numeric' });
const clock = new Intl.DateTimeFormat('en-US', { hour: 'numeric', minute: '2-digit' });

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
  busy,
  onLift,
}: {
  segment: Segment;
  dayStart: Date;
  dayEnd: Date;
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

export function SpotWeek({
  bookings,
  busy,
  onLift,
}: {
  bookings: Booking[];
  busy: boolean;
  onLift: (blockId: string) => void;
}) {
  const [monday, setMonday] = useState(() => weekStart(new Date()));
  const live = bookings.filter((b) => !GONE.has(b.status));
  const days = Array.from({ length: 7 }, (_, i) => {
    const start = new Date(monday.getFullYear(), monday.getMonth(), monday.getDate() + i);
    return { start, end: new Date(start.getFullYear(), start.getMonth(), start.getDate() + 1) };
  });
  const move = (weeks: number) =>
    setMonday(new Date(monday.getFullYear(), monday.getMonth(), monday.getDate() + 7 * weeks));
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
        {days.map(({ start, end }) => {
          const daySegments = segments(live, start, end);
          const key = toLocalInput(start).slice(0, 10);
          return (
            <li key={key} data-day={key} class="week-day">
              <h3>{dayName.format(start)}</h3>
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
