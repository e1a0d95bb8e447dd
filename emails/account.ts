// Account emails, queued by the accounts issue with {name, link, expiresAt?}
// (staff_invite adds role and invitedBy; password_changed has only name).
import { frame, required, type RenderContext, type RenderedEmail } from './format.ts';

type Data = Record<string, unknown>;

function greeting(data: Data): string {
  return data.name ? `Hello ${String(data.name)},` : 'Hello,';
}

/** "The link works until …" in UTC (account emails carry no time zone). */
function expiry(data: Data): string[] {
  if (!data.expiresAt) return [];
  const at = new Date(String(data.expiresAt));
  if (Number.isNaN(at.getTime())) return [];
  return [`The link works until ${at.toUTCString().replace('GMT', 'UTC')}.`];
}

export const accountTemplates: Record<string, (data: Data, ctx: RenderContext) => RenderedEmail> = {
  verify_email(data, ctx) {
    return frame(ctx, {
      subject: `Verify your email for ${ctx.productName}`,
      lines: [greeting(data), 'Please confirm that this address is yours. If you did not sign up, ignore this email.', ...expiry(data)],
      action: { label: 'Verify my email', url: required<string>(data, 'link') },
    });
  },
  password_reset(data, ctx) {
    return frame(ctx, {
      subject: `Reset your ${ctx.productName} password`,
      lines: [greeting(data), 'Someone asked to reset your password. If it was not you, ignore this email: your password stays as it is.', ...expiry(data)],
      action: { label: 'Choose a new password', url: required<string>(data, 'link') },
    });
  },
  staff_invite(data, ctx) {
    return frame(ctx, {
      subject: `You are invited to ${ctx.productName}`,
      lines: [greeting(data),
        `${data.invitedBy ? String(data.invitedBy) : 'An administrator'} invited you to join ${ctx.productName} as ${data.role ? String(data.role) : 'staff'}.`,
        ...expiry(data)],
      action: { label: 'Accept the invitation', url: required<string>(data, 'link') },
    });
  },
  password_changed(data, ctx) {
    return frame(ctx, {
      subject: `Your ${ctx.productName} password was changed`,
      lines: [greeting(data), 'Your password was just changed. If this was not you, reset your password at once and contact us.'],
    });
  },
};
