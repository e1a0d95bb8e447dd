// How amounts, distances, durations and times read on screen.

// Amounts from the API are in the currency's minor units as Stripe counts them:
// most currencies have 2 decimals (cents), Stripe's zero-decimal ones none (600
// JPY is ¥600), its three-decimal ones 3. HUF, ISK and TWD are 2 for the API
// although they are shown without decimals elsewhere.
const ZERO_DECIMAL = new Set('BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF'.split(' '));
const THREE_DECIMAL = new Set('BHD JOD KWD OMR TND'.split(' '));

/** How many decimals a currency's amounts have: minor units are amount / 10^digits. */
export function currencyDigits(currency: string): number {
  const code = currency.toUpperCase();
  if (ZERO_DECIMAL.has(code)) return 0;
  if (THREE_DECIMAL.has(code)) return 3;
  return 2;
}

export function formatMoney(amount: number, currency: string): string {
  const digits = currencyDigits(currency);
  return new Intl.NumberFormat('en-US', {
    style: 'currency',
    currency,
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(amount / 10 ** digits);
}

/** Minor units as a person types the amount: 1250 USD is "12.50", 600 JPY is "600". */
export function moneyInput(amount: number, currency: string): string {
  const digits = currencyDigits(currency);
  return (amount / 10 ** digits).toFixed(digits);
}

/**
 * What a person typed as an amount of the currency, in minor units; or the
 * sentence saying why it is not one (shown next to the field). Spaces and the
 * currency's symbol or code are allowed, and commas only as thousands
 * separators in groups of three (1,250.00); any other comma (a decimal comma
 * such as 4,50) is refused rather than dropped (4,50 is not 450), and so are a
 * sign, an exponent or more decimals than the currency has.
 */
export function parseMoney(text: string, currency: string): { amount: number } | { error: string } {
  const digits = currencyDigits(currency);
  const symbol =
    new Intl.NumberFormat('en-US', { style: 'currency', currency }).formatToParts(0).find((p) => p.type === 'currency')
      ?.value ?? currency;
  const plain = text.replaceAll(symbol, '').replace(new RegExp(currency, 'gi'), '').replace(/\s/g, '');
  const example = moneyInput(1250 * 10 ** Math.max(0, digits - 2), currency);
  if (plain === '') return { error: `Enter an amount, such as ${example}.` };
  if (plain.includes(',') && !/^\d{1,3}(?:,\d{3})+(?:\.\d*)?$/.test(plain))
    return {
      error: `Use a point for decimals; a comma only between thousands, such as ${digits ? `1,250.${'0'.repeat(digits)}` : '1,250'}.`,
    };
  const m = /^(\d+)(?:\.(\d*))?$/.exec(plain.replaceAll(',', ''));
  if (!m) return { error: `Enter an amount as a plain number, such as ${example}.` };
  const fraction = m[2] ?? '';
  if (fraction.length > digits)
    return {
      error:
        digits === 0
          ? `${currency} amounts have no decimals: enter a whole number, such as ${example}.`
          : `${currency} amounts have at most ${digits} decimals, such as ${example}.`,
    };
  const amount = Number(m[1]!) * 10 ** digits + Number(fraction.padEnd(digits, '0') || '0');
  if (!Number.isSafeInteger(amount)) return { error: 'That amount is too large.' };
  return { amount };
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
