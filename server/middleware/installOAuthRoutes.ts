// Sign-in with Google (OpenID Connect) and Facebook (OAuth 2 + profile call),
// authorization code flow with state, PKCE and (Google) nonce, through
// openid-client. Endpoints, client ids and secrets come from configuration,
// so tests run the same code against local providers.
//
//   GET /auth/google[?intent=staff&redirect=/path]   302 to Google
//   GET /auth/google/callback                        302 to the web app, signed in (cookie) or ?error=SMA12|SMA13
//   GET /auth/facebook[?intent=staff&redirect=/path] 302 to Facebook
//   GET /auth/facebook/callback                      as for Google
//
// The round trip's state, PKCE verifier and nonce are kept in SQL (single use:
// a replayed callback is refused) and the state is also bound to the browser
// by a signed cookie (a callback started elsewhere is refused). Who the answer
// signs in is decided by app_private.oauth_sign_in (staff only when an admin
// pre-registered the email; intent=staff refuses to create any account).
import { createHmac } from 'node:crypto';
import * as oidc from 'openid-client';
import type { Express, Request, Response } from 'express';
import type { ServerConfig } from '../config.ts';
import { ownerPoolOf } from './installDatabasePools.ts';
import { ownerTx } from '../owner_sql.ts';
import { OAUTH_COOKIE, oauthCookieOptions, sameSecret, setSessionCookies } from '../auth_cookies.ts';
import { requestSettingsOf } from '../request_identity.ts';
import { CodedError } from '../errors.ts';
import { clientAddress } from './installRequestSettings.ts';
import { webLink, webPaths } from '../../lib/web_urls.ts';
import { currentRequest } from '../request_context.ts';

type Provider = 'google' | 'facebook';

interface Profile {
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
}

interface StateRow {
  code_verifier: string;
  nonce: string | null;
  intent: 'sign_in' | 'staff';
  redirect_to: string | null;
}

/** Only a path inside the web app: never another site (open redirect). */
function safeRedirect(value: unknown): string | null {
  return typeof value === 'string' && /^\/(?![/\\])[\x21-\x7e]*$/.test(value) && value.length <= 500 ? value : null;
}

function insecure(url: string): boolean {
  return new URL(url).protocol === 'http:';
}

export function installOAuthRoutes(app: Express, config: ServerConfig): void {
  const pool = ownerPoolOf(app);
  const callbackUrl = (provider: Provider) => `${config.publicUrl.replace(/\/$/, '')}/auth/${provider}/callback`;

  // Google's configuration comes from discovery, once (retried after a failure).
  let google: Promise<oidc.Configuration> | undefined;
  const googleConfig = (): Promise<oidc.Configuration> => {
    const g = config.google!;
    google ??= oidc
      .discovery(new URL(g.issuer), g.clientId, g.clientSecret, undefined, {
        // Also check the id_token's signature against the provider's keys, not
        // only its claims (issuer, audience, expiry, nonce are always checked).
        execute: [oidc.enableNonRepudiationChecks, ...(insecure(g.issuer) ? [oidc.allowInsecureRequests] : [])],
      })
      .catch((err) => {
        google = undefined;
        throw err;
      });
    return google;
  };
  const facebookConfig = (): oidc.Configuration => {
    const f = config.facebook!;
    const cfg = new oidc.Configuration(
      {
        issuer: new URL(f.authorizationUrl).origin,
        authorization_endpoint: f.authorizationUrl,
        token_endpoint: f.tokenUrl,
      },
      f.clientId,
      undefined,
      oidc.ClientSecretPost(f.clientSecret),
    );
    if (insecure(f.tokenUrl)) oidc.allowInsecureRequests(cfg);
    return cfg;
  };

  const providerConfig = (provider: Provider) =>
    provider === 'google' ? googleConfig() : Promise.resolve(facebookConfig());

  const start = (provider: Provider) => async (req: Request, res: Response) => {
    const cfg = await providerConfig(provider);
    const state = oidc.randomState();
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = provider === 'google' ? oidc.randomNonce() : null;
    const intent = req.query.intent === 'staff' ? 'staff' : 'sign_in';
    await pool.query('select app_private.oauth_state_create($1, $2, $3, $4, $5, $6)', [
      provider,
      state,
      verifier,
      nonce,
      intent,
      safeRedirect(req.query.redirect),
    ]);
    res.cookie(OAUTH_COOKIE, state, oauthCookieOptions(config));
    const params: Record<string, string> = {
      redirect_uri: callbackUrl(provider),
      scope: provider === 'google' ? 'openid email profile' : 'email public_profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    };
    if (nonce) params.nonce = nonce;
    res.redirect(302, oidc.buildAuthorizationUrl(cfg, params).href);
  };

  async function googleProfile(
    cfg: oidc.Configuration,
    currentUrl: URL,
    state: string,
    row: StateRow,
  ): Promise<Profile> {
    const tokens = await oidc.authorizationCodeGrant(cfg, currentUrl, {
      pkceCodeVerifier: row.code_verifier,
      expectedState: state,
      expectedNonce: row.nonce ?? undefined,
      idTokenExpected: true,
    });
    const claims = tokens.claims()!;
    return {
      subject: claims.sub,
      email: typeof claims.email === 'string' ? claims.email : null,
      emailVerified: claims.email_verified === true || claims.email_verified === 'true',
      name: typeof claims.name === 'string' ? claims.name : null,
    };
  }

  async function facebookProfile(
    cfg: oidc.Configuration,
    currentUrl: URL,
    state: string,
    row: StateRow,
  ): Promise<Profile> {
    const f = config.facebook!;
    const tokens = await oidc.authorizationCodeGrant(cfg, currentUrl, {
      pkceCodeVerifier: row.code_verifier,
      expectedState: state,
    });
    const url = new URL(f.profileUrl);
    url.searchParams.set('fields', 'id,name,email');
    // appsecret_proof: Facebook refuses profile calls with a stolen token that lack it.
    url.searchParams.set(
      'appsecret_proof',
      createHmac('sha256', f.clientSecret).update(tokens.access_token).digest('hex'),
    );
    const response = await fetch(url, {
      headers: { authorization: `Bearer ${tokens.access_token}`, accept: 'application/json' },
    });
    if (!response.ok) throw new CodedError('SMA13', `Facebook profile call answered ${response.status}`);
    const me = (await response.json()) as { id?: unknown; name?: unknown; email?: unknown };
    if (typeof me.id !== 'string' && typeof me.id !== 'number')
      throw new CodedError('SMA13', 'Facebook profile without an id');
    // Facebook only returns a confirmed primary address.
    const email = typeof me.email === 'string' ? me.email : null;
    return {
      subject: String(me.id),
      email,
      emailVerified: email !== null,
      name: typeof me.name === 'string' ? me.name : null,
    };
  }

  const callback = (provider: Provider) => async (req: Request, res: Response) => {
    const cookieState = req.signedCookies?.[OAUTH_COOKIE] as string | false | undefined;
    res.clearCookie(OAUTH_COOKIE, { ...oauthCookieOptions(config), maxAge: undefined });
    try {
      const state = typeof req.query.state === 'string' ? req.query.state : '';
      if (typeof req.query.error === 'string') throw new CodedError('SMA13', `provider answered ${req.query.error}`);
      if (!state || !sameSecret(state, cookieState || undefined))
        throw new CodedError('SMA13', "state missing or not this browser's");
      const {
        rows: [row],
      } = await pool.query<StateRow>(
        'select code_verifier, nonce, intent, redirect_to from app_private.oauth_state_consume($1, $2) where state_hash is not null',
        [provider, state],
      );
      if (!row) throw new CodedError('SMA13', 'state unknown, expired or already used');
      const cfg = await providerConfig(provider);
      const currentUrl = new URL(callbackUrl(provider));
      currentUrl.search = new URL(req.originalUrl, 'http://x').search;
      let profile: Profile;
      try {
        profile =
          provider === 'google'
            ? await googleProfile(cfg, currentUrl, state, row)
            : await facebookProfile(cfg, currentUrl, state, row);
      } catch (err) {
        if (err instanceof CodedError) throw err;
        throw new CodedError('SMA13', `${provider} exchange failed: ${(err as Error).message}`);
      }
      const session = await ownerTx(
        pool,
        requestSettingsOf(res),
        async (client) =>
          (
            await client.query<{ session_id: string; token: string }>(
              `select (s).session_id, (s).token from (select app_private.oauth_sign_in($1, $2, $3, $4, $5, $6, $7, nullif($8, '')::inet) as s) x`,
              [
                provider,
                profile.subject,
                profile.email,
                profile.emailVerified,
                profile.name,
                row.intent,
                config.staffEmailDomains,
                clientAddress(req.app, req),
              ],
            )
          ).rows[0],
      );
      setSessionCookies(res, config, session.session_id, session.token);
      res.redirect(302, webLink(config.webUrl, row.redirect_to ?? '/'));
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'SMA12' && code !== 'SMA13') throw err;
      currentRequest()?.log.warn({ provider, code }, `sign-in refused: ${(err as Error).message}`);
      res.redirect(302, webLink(config.webUrl, webPaths.signInRefused(code)));
    }
  };

  for (const provider of ['google', 'facebook'] as const) {
    const enabled = (_req: Request, _res: Response, next: () => void) => {
      if (config[provider]) return next();
      throw new CodedError('NOT_FOUND', `Sign-in with ${provider} is not configured`);
    };
    app.get(`/auth/${provider}`, enabled, start(provider));
    app.get(`/auth/${provider}/callback`, enabled, callback(provider));
  }
}
