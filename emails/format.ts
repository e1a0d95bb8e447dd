// Small helpers every email template uses: escaping, times in a time zone,
// amounts in a currency, and the plain-text + HTML frame.

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

export interface RenderContext {
  /** Where links in emails point (the SPA), without a trailing slash. */
  appUrl: string;
  productName: string;
  /** The product's home time zone (IANA), for emails about no spot in particular (accounts). */
  timeZone: string;
}

export class EmailDataError extends Error {}

export function escapeHtml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

export function required<T>(data: Record<string, unknown>, key: string): T {
  const value = data[key];
  if (value === undefined || value === null || value === '') {
    throw new EmailDataError(`email data lacks ${key}`);
  }
  return value as T;
}

// Formatters are made once per time zone and per currency: making one costs
// about twenty times what formatting with it does, and a burst of ends sends
// two emails a reservation. Both sets are bounded (IANA zones, ISO currencies):
// a name Intl refuses throws and is not kept.
const timeFormats = new Map<string, Intl.DateTimeFormat>();
const amountFormats = new Map<string, { format: Intl.NumberFormat; digits: number }>();

/** The time formatter of an IANA time zone; throws a RangeError for a name that is not one. */
export function timeFormatOf(timeZone: string): Intl.DateTimeFormat {
  let format = timeFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      year: 'numeric',
      month: 'short',
      day: 'numeric',
      hour: 'numeric',
      minute: '2-digit',
      timeZoneName: 'short',
    });
    timeFormats.set(timeZone, format);
  }
  return format;
}

/** "Mon, 23 Nov 2026, 14:30 EST" in the given IANA time zone. */
export function formatTime(iso: string, timeZone: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) throw new EmailDataError(`not a time: ${iso}`);
  return timeFormatOf(timeZone).format(date);
}

/** Minor units to "$12.50" (the currency's own number of decimals: JPY has none). */
export function formatAmount(minor: number, currency: string): string {
  const code = currency.toUpperCase();
  let amount = amountFormats.get(code);
  if (!amount) {
    const format = new Intl.NumberFormat('en-US', { style: 'currency', currency: code });
    amount = { format, digits: format.resolvedOptions().maximumFractionDigits ?? 2 };
    amountFormats.set(code, amount);
  }
  return amount.format.format(Number(minor) / 10 ** amount.digits);
}

export interface Paragraphs {
  subject: string;
  /** Lines of the message; each becomes a paragraph in HTML. */
  lines: string[];
  /** A call to action: label and URL. */
  action?: { label: string; url: string };
}

export function frame(ctx: RenderContext, p: Paragraphs): RenderedEmail {
  const text =
    [...p.lines, ...(p.action ? [`${p.action.label}: ${p.action.url}`] : []), '', `— ${ctx.productName}`]
      .join('\n\n')
      .replace(/\n{3,}/g, '\n\n') + '\n';
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">',
    ...p.lines.map((l) => `<p>${escapeHtml(l).replace(/\n/g, '<br>')}</p>`),
    ...(p.action ? [`<p><a href="${escapeHtml(p.action.url)}">${escapeHtml(p.action.label)}</a></p>`] : []),
    `<p style="color:#666">— ${escapeHtml(ctx.productName)}</p>`,
    '</body></html>',
  ].join('\n');
  return { subject: p.subject, text, html };
}
