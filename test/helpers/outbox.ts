// The link an outbox email (app_private.emails) will carry, as tests read it: the outbox
// row keeps only the token and ids, and the worker's templates (emails/) make the link
// against WEB_URL, so tests render the row the same way.
import { renderEmail } from '../../emails/index.ts';

/** The WEB_URL the tests give the API, the worker and the CLI. */
export const TEST_WEB_URL = 'https://app.example.test';

/** The first link into the web app in the email's text (its call to action), or undefined. */
export function emailedLink(
  mail: { template: string; data: Record<string, unknown> },
  webUrl: string = TEST_WEB_URL,
): string | undefined {
  const { text } = renderEmail(mail.template, mail.data, { appUrl: webUrl, productName: 'Test', timeZone: 'UTC' });
  const start = text.indexOf(`${webUrl}/`);
  return start < 0 ? undefined : text.slice(start).split(/\s/)[0];
}
