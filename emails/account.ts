// Account emails, queued by the accounts SQL with {name, token, expiresAt?}
// (staff_invite adds role and invitedBy; password_changed has only name; account_secured has name and provider).
// The link is made here from the token (lib/web_urls.ts), against the worker's WEB_URL.
import { formatTime, frame, required, type RenderContext, type RenderedEmail } from './format.ts';
import { webLink, webPaths } from '../lib/web_urls.ts';

type Data = Record<string, unknown>;

function greeting(data: Data): string {
  return data.name ? `Hello ${String(data.name)},` : 'Hello,';
}

/**
 * "The link works until …", written like every other email's times: account emails concern no
 * spot, so they use the product's home time zone (RenderContext.timeZone, APP_TIME_ZONE).
 */
/** The emailed one-time link: the page that takes the token (webPaths), in the web app. */
function tokenLink(data: Data, ctx: RenderContext, page: (token: string) => string): string {
  return webLink(ctx.appUrl, page(required<string>(data, 'token')));
}

function expiry(data: Data, ctx: RenderContext): string[] {
  if (!data.expiresAt) return [];
  const at = new Date(String(data.expiresAt));
  if (Number.isNaN(at.getTime())) return [];
  return [`The link works until ${formatTime(at.toISOString(), ctx.timeZone)}.`];
}

export const accountTemplates: Record<string, (data: Data, ctx: RenderContext) => RenderedEmail> = {
  verify_email(data, ctx) {
    return frame(ctx, {
      subject: `Verify your email for ${ctx.productName}`,
      lines: [
        greeting(data),
        'Please confirm that this address is yours. If you did not sign up, ignore this email.',
        ...expiry(data, ctx),
      ],
      action: { label: 'Verify my email', url: tokenLink(data, ctx, webPaths.verifyEmail) },
    });
  },
  password_reset(data, ctx) {
    return frame(ctx, {
      subject: `Reset your ${ctx.productName} password`,
      lines: [
        greeting(data),
        'Someone asked to reset your password. If it was not you, ignore this email: your password stays as it is.',
        ...expiry(data, ctx),
      ],
      action: { label: 'Choose a new password', url: tokenLink(data, ctx, webPaths.resetPassword) },
    });
  },
  staff_invite(data, ctx) {
    return frame(ctx, {
      subject: `You are invited to ${ctx.productName}`,
      lines: [
        greeting(data),
        `${data.invitedBy ? String(data.invitedBy) : 'An administrator'} invited you to join ${ctx.productName} as ${data.role ? String(data.role) : 'staff'}.`,
        ...expiry(data, ctx),
      ],
      action: { label: 'Accept the invitation', url: tokenLink(data, ctx, webPaths.acceptInvite) },
    });
  },
  account_secured(data, ctx) {
    const provider =
      data.provider === 'facebook' ? 'Facebook' : data.provider === 'google' ? 'Google' : 'your provider';
    return frame(ctx, {
      subject: `Your ${ctx.productName} account was secured`,
      lines: [
        greeting(data),
        `You just signed in with ${provider}, which confirmed this email address. Someone had created this account with your address before, without confirming it.`,
        'To keep it yours, we removed its password, signed out every session and cancelled pending email links. Sign in with ' +
          provider +
          ' from now on, or choose a password with "Forgot password".',
      ],
    });
  },
  password_changed(data, ctx) {
    return frame(ctx, {
      subject: `Your ${ctx.productName} password was changed`,
      lines: [
        greeting(data),
        'Your password was just changed. If this was not you, reset your password at once and contact us.',
      ],
    });
  },
};
