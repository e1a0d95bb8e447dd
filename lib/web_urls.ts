// Where the web app (the SPA) is: emailed links and OAuth redirects lead there,
// and its origins are the ones CORS lets in. Read by the API, the worker's
// emails and the CLI alike.

import { urlVar } from './env.ts';

const DEFAULT_CORS_ORIGINS = 'http://127.0.0.1:5173,http://localhost:5173';

/** Origins allowed by CORS (CORS_ORIGINS, comma-separated). */
export function corsOriginsOf(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.CORS_ORIGINS ?? DEFAULT_CORS_ORIGINS).split(',').filter(Boolean);
}

/** The web app's address, which emailed links (verification, manage, pay) point at. */
export function webUrlOf(env: NodeJS.ProcessEnv = process.env): string {
  return urlVar(env, 'WEB_URL', corsOriginsOf(env)[0] ?? 'http://localhost:5173').replace(/\/+$/, '');
}

/**
 * Every page of the web app that an email or a redirect leads to, spelled once. The
 * database stores only what a link carries (a token, a reservation id); the emails and
 * the OAuth redirects make the link here, against WEB_URL (webUrlOf).
 */
export const webPaths = {
  verifyEmail: (token: string) => `/verify-email?token=${encodeURIComponent(token)}`,
  resetPassword: (token: string) => `/reset-password?token=${encodeURIComponent(token)}`,
  acceptInvite: (token: string) => `/accept-invite?token=${encodeURIComponent(token)}`,
  reservation: (id: string) => `/reservations/${encodeURIComponent(id)}`,
  /**
   * A guest's page for a reservation. The manage token rides in the fragment (#…), which
   * browsers never send to a server; without one the page asks for it (or offers a new link).
   */
  manageReservation: (id: string, manageToken?: string) =>
    `/reservations/${encodeURIComponent(id)}/manage${manageToken ? `#manageToken=${encodeURIComponent(manageToken)}` : ''}`,
  payReservation: (id: string) => `/reservations/${encodeURIComponent(id)}/pay`,
  signInRefused: (code: string) => `/sign-in?error=${encodeURIComponent(code)}`,
};

/** An absolute link into the web app: WEB_URL (without its trailing slash) and a path of webPaths. */
export function webLink(webUrl: string, path: string): string {
  return webUrl.replace(/\/+$/, '') + path;
}
