// Rates and spots made directly as the owner, for tests that need inventory.
import type { TestDb } from './db.ts';

export interface RateProps {
  hourlyPrice?: number;
  billingIncrement?: string;
  minimumCharge?: number;
  /** ISO 4217 code; USD by default. */
  currency?: string;
  /** [isodow, opens, closes] rows; none = metered around the clock. */
  hours?: Array<[number, string, string]>;
}

let rateCounter = 0;

export async function createRate(db: Pick<TestDb, 'owner'>, props: RateProps = {}): Promise<number> {
  rateCounter += 1;
  const {
    rows: [rate],
  } = await db.owner.query(
    `insert into app_public.rates (code, name, hourly_price, billing_increment, minimum_charge, currency)
     values ($1, $2, $3, $4, $5, $6) returning id`,
    [
      `test-${process.pid}-${rateCounter}`,
      `Test rate ${rateCounter}`,
      props.hourlyPrice ?? 400,
      props.billingIncrement ?? '1 minute',
      props.minimumCharge ?? 0,
      props.currency ?? 'USD',
    ],
  );
  for (const [isodow, opens, closes] of props.hours ?? []) {
    await db.owner.query('insert into app_public.rate_hours (rate_id, isodow, opens, closes) values ($1, $2, $3, $4)', [
      rate.id,
      isodow,
      opens,
      closes,
    ]);
  }
  return rate.id;
}

export interface SpotProps {
  lat: number;
  lng: number;
  rateId?: number;
  street?: string;
  status?: 'active' | 'out_of_service';
  maxStay?: string;
  borough?: string;
}

export async function createSpot(db: Pick<TestDb, 'owner'>, props: SpotProps): Promise<string> {
  const rateId = props.rateId ?? (await createRate(db));
  const {
    rows: [spot],
  } = await db.owner.query(
    `insert into app_public.spots (location, street, rate_id, status, max_stay, borough)
     values (st_setsrid(st_makepoint($1, $2), 4326)::geography, $3, $4, $5, $6, $7) returning id`,
    [
      props.lng,
      props.lat,
      props.street ?? 'Test Street',
      rateId,
      props.status ?? 'active',
      props.maxStay ?? '4 hours',
      props.borough ?? null,
    ],
  );
  return String(spot.id);
}

/** A point `metres` north of (lat, lng): 1° of latitude is ~111,195 m on PostGIS's sphere. */
export function north(lat: number, metres: number): number {
  return lat + metres / 111_195;
}
