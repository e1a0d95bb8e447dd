// Every email the product sends, by template name. An unknown template is an
// error (the send_email job fails loudly) rather than a blank message.
import { accountTemplates } from './account.ts';
import { reservationTemplates } from './reservation.ts';
import type { RenderContext, RenderedEmail } from './format.ts';

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

export function renderContextFromEnv(env: NodeJS.ProcessEnv = process.env): RenderContext {
  const appUrl = (env.APP_URL ?? env.PUBLIC_URL ?? `http://127.0.0.1:${env.PORT ?? 5678}`).replace(/\/+$/, '');
  return { appUrl, productName: 'Secure My Spot' };
}
