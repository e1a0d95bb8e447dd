// The web app's wall clocks of a time zone (web/src/zoned_time.ts), which put
// a spot's week and its blocks on the spot's clock whatever the browser's:
// ordinary days, both daylight-saving changes, and zones east and west.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fromLocalInput, toLocalInput, wallClock, zonedInstant } from '../web/src/zoned_time.ts';

const NY = 'America/New_York';
const at = (year: number, month: number, day: number, hour = 0, minute = 0) => ({ year, month, day, hour, minute });
const iso = (d: Date | null) => d?.toISOString() ?? null;

test('a reading in a zone is the instant its clock shows it, whatever the process zone', () => {
  assert.is(iso(zonedInstant(at(2026, 12, 3, 17), NY)), '2026-12-03T22:00:00.000Z');
  assert.is(iso(zonedInstant(at(2026, 7, 3, 17), NY)), '2026-07-03T21:00:00.000Z');
  assert.is(iso(zonedInstant(at(2026, 12, 3, 17), 'Asia/Kolkata')), '2026-12-03T11:30:00.000Z');
  assert.is(iso(zonedInstant(at(2026, 12, 32), NY)), '2027-01-01T05:00:00.000Z', 'day 32 rolls over');
  assert.equal(wallClock(new Date('2026-12-03T04:30:00Z'), NY), at(2026, 12, 2, 23, 30));
});

test('daylight-saving days: 23 and 25 hours; a skipped reading comes after the gap, a repeated one is the first', () => {
  const hours = (m: number, d: number) =>
    (zonedInstant(at(2026, m, d + 1), NY).getTime() - zonedInstant(at(2026, m, d), NY).getTime()) / 3600e3;
  assert.is(hours(3, 8), 23);
  assert.is(hours(11, 1), 25);
  assert.is(iso(zonedInstant(at(2026, 3, 8, 2, 30), NY)), '2026-03-08T07:30:00.000Z', '3:30 EDT');
  assert.is(iso(zonedInstant(at(2026, 11, 1, 1, 30), NY)), '2026-11-01T05:30:00.000Z', '1:30 EDT');
  assert.is(iso(zonedInstant(at(2026, 11, 1, 3), NY)), '2026-11-01T08:00:00.000Z');
});

test('datetime-local values go both ways on the zone given; a value that is not one is null', () => {
  const instant = new Date('2026-12-03T22:00:00Z');
  assert.is(toLocalInput(instant, NY), '2026-12-03T17:00');
  assert.is(toLocalInput(instant, 'Europe/Paris'), '2026-12-03T23:00');
  assert.is(iso(fromLocalInput('2026-12-03T17:00', NY)), instant.toISOString());
  assert.is(iso(fromLocalInput(toLocalInput(instant, 'Asia/Tokyo'), 'Asia/Tokyo')), instant.toISOString());
  assert.is(fromLocalInput('', NY), null);
  assert.is(fromLocalInput('2026-12-03', NY), null);
});

test.run();
