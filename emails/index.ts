// Every email the product sends, by template name. An unknown template is an
// error (the send_email job fails loudly) rather than a blank message.
import { accountTemplates } from './account.ts';
import { reservationTemplates } from './reservation.ts';
import { type RenderContext, type RenderedEmail, timeFormatOf } from './format.ts';
import { webUrlOf } from '../lib/web_urls.ts';

export type { RenderContext, RenderedEmail } from './format.ts';
export { EmailDataError } from './format.ts';

const TEMPLATES = { ...reservationTemplates, ...accountTemplates };

export const TEMPLATE_NAMES: readonly string[] = Object.keys(TEMPLATES).sort();

export class UnknownTemplateError extends Error {}

export function renderEmail(template: string, data: Record<string, unknown>, ctx: RenderContext): RenderedEmail {
  const render = Object.hasOwn(TEMPLATES, template) ? TEMPLATES[template] : undefined;
  if (!render) throw new UnknownTemplateError(`unknown email template "${template}"`);
  return render(data, ctx);
}

/** APP_TIME_ZONE: the product's home time zone, where its spots are (default New York's). */
export function appTimeZoneOf(env: NodeJS.ProcessEnv = process.env): string {
  const timeZone = env.APP_TIME_ZONE || 'America/New_York';
  try {
    timeFormatOf(timeZone);
  } catch {
    throw new Error(`APP_TIME_ZONE is not an IANA time zone: ${timeZone}`);
  }
  return timeZone;
}

export function renderContextFromEnv(env: NodeJS.ProcessEnv = process.env): RenderContext {
  return { appUrl: webUrlOf(env), productName: 'Secure My Spot', timeZone: appTimeZoneOf(env) };
}
