// Search documents: spots free for a window near a point, one spot, a quote.
import type { Unit } from '../format.ts';

export interface Interval {
  days?: number | null;
  hours?: number | null;
  minutes?: number | null;
}

export interface Spot {
  rowId: string;
  lat: number;
  lng: number;
  description: string | null;
  street: string;
  /** The city's meter number, the only number on the meter's sign; null for a spot made by hand. */
  externalId: string | null;
  borough: string | null;
  maxStay: Interval;
  meterHours: string | null;
  isAccessible: boolean;
  hasEvCharger: boolean;
  status: string;
  rate: { name: string; hourlyPrice: number; currency: string; timeZone: string } | null;
}

export interface Price {
  amount: number;
  currency: string;
}

export interface SpotMatch {
  distance: number;
  price: Price | null;
  spot: Spot;
}

const SPOT_FIELDS = `rowId lat lng description street externalId borough maxStay { days hours minutes } meterHours isAccessible hasEvCharger status
  rate { name hourlyPrice currency timeZone }`;

export const SPOTS_NEAR = `query SpotsNear($lat: Float!, $lng: Float!, $radius: Float!, $unit: DistanceUnit!, $startsAt: Datetime!, $endsAt: Datetime!) {
  spotsNear(lat: $lat, lng: $lng, radius: $radius, unit: $unit, startsAt: $startsAt, endsAt: $endsAt, first: 100) {
    totalCount
    nodes { distance price { amount currency } spot { ${SPOT_FIELDS} } }
  }
}`;

export interface SpotsNearVars {
  lat: number;
  lng: number;
  radius: number;
  unit: Unit;
  startsAt: string;
  endsAt: string;
}
export interface SpotsNearData {
  spotsNear: { totalCount: number; nodes: SpotMatch[] } | null;
}

/** Which spots of a search are still free: a light query for polling. */
export const SPOTS_NEAR_IDS = `query SpotsNearIds($lat: Float!, $lng: Float!, $radius: Float!, $unit: DistanceUnit!, $startsAt: Datetime!, $endsAt: Datetime!) {
  spotsNear(lat: $lat, lng: $lng, radius: $radius, unit: $unit, startsAt: $startsAt, endsAt: $endsAt, first: 100) {
    nodes { spot { rowId } }
  }
}`;
export interface SpotsNearIdsData {
  spotsNear: { nodes: Array<{ spot: { rowId: string } }> } | null;
}

export const SPOT = `query Spot($id: BigInt!) { spot(rowId: $id) { ${SPOT_FIELDS} } }`;
export interface SpotData {
  spot: Spot | null;
}

export const QUOTE = `query Quote($id: BigInt!, $startsAt: Datetime!, $endsAt: Datetime!) {
  quote(spotId: $id, startsAt: $startsAt, endsAt: $endsAt) { amount currency }
}`;
export interface QuoteData {
  quote: Price | null;
}

export function spotTitle(spot: Pick<Spot, 'description' | 'street'>): string {
  return spot.description ?? spot.street;
}

/**
 * The spot as a driver names it: its title, then the meter number on the sign when it has one
 * (every meter of a block face shares the title). Map markers keep the bare title.
 */
export function spotName(spot: Pick<Spot, 'description' | 'street' | 'externalId'>): string {
  return spot.externalId ? `${spotTitle(spot)} · Meter ${spot.externalId}` : spotTitle(spot);
}
