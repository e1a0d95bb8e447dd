// A stand-in for Facebook's OAuth dialog, token endpoint and Graph `/me`, for
// tests of the Facebook sign-in round trip. It checks what Facebook checks:
// client id and secret, redirect_uri, single-use codes, PKCE (S256) and the
// appsecret_proof on the profile call.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';

export interface FacebookProfile {
  id: string;
  name?: string;
  email?: string;
}

export interface FacebookFixture {
  url: string;
  clientId: string;
  clientSecret: string;
  /** The person who "logs in" at the next dialog. */
  nextProfile: FacebookProfile;
  /** Requests seen, for assertions: 'dialog', 'token', 'me'. */
  calls: string[];
  close(): Promise<void>;
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

export async function startFacebookFixture(): Promise<FacebookFixture> {
  const clientId = 'fb-app-123';
  const clientSecret = 'fb-secret-456';
  const codes = new Map<string, { challenge: string; redirectUri: string; profile: FacebookProfile }>();
  const tokens = new Map<string, FacebookProfile>();
  const fixture = {
    url: '',
    clientId,
    clientSecret,
    nextProfile: { id: '1000001', name: 'Fay Book', email: 'fay@example.com' } as FacebookProfile,
    calls: [] as string[],
    close: async () => {},
  };
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && url.pathname === '/dialog/oauth') {
      fixture.calls.push('dialog');
      const p = url.searchParams;
      if (
        p.get('client_id') !== clientId ||
        p.get('code_challenge_method') !== 'S256' ||
        !p.get('code_challenge') ||
        !p.get('state')
      ) {
        return json(400, { error: { message: 'bad dialog request' } });
      }
      const code = randomBytes(16).toString('hex');
      codes.set(code, {
        challenge: p.get('code_challenge')!,
        redirectUri: p.get('redirect_uri')!,
        profile: { ...fixture.nextProfile },
      });
      const back = new URL(p.get('redirect_uri')!);
      back.searchParams.set('code', code);
      back.searchParams.set('state', p.get('state')!);
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (req.method === 'POST' && url.pathname === '/oauth/access_token') {
      fixture.calls.push('token');
      const p = new URLSearchParams(await bodyOf(req));
      const grant = codes.get(p.get('code') ?? '');
      codes.delete(p.get('code') ?? '');
      const challenge = createHash('sha256')
        .update(p.get('code_verifier') ?? '')
        .digest('base64url');
      if (p.get('client_id') !== clientId || p.get('client_secret') !== clientSecret) {
        return json(400, { error: { message: 'Error validating client secret.', type: 'OAuthException', code: 1 } });
      }
      if (!grant || grant.redirectUri !== p.get('redirect_uri') || grant.challenge !== challenge) {
        return json(400, {
          error: { message: 'This authorization code has been used or is invalid.', type: 'OAuthException', code: 100 },
        });
      }
      const token = randomBytes(24).toString('hex');
      tokens.set(token, grant.profile);
      return json(200, { access_token: token, token_type: 'bearer', expires_in: 5183944 });
    }
    if (req.method === 'GET' && url.pathname === '/me') {
      fixture.calls.push('me');
      const token =
        (req.headers.authorization ?? '').replace(/^Bearer /, '') || url.searchParams.get('access_token') || '';
      const profile = tokens.get(token);
      const proof = createHmac('sha256', clientSecret).update(token).digest('hex');
      if (!profile || url.searchParams.get('appsecret_proof') !== proof) {
        return json(400, {
          error: { message: 'Invalid OAuth access token or appsecret_proof.', type: 'OAuthException', code: 190 },
        });
      }
      const fields = (url.searchParams.get('fields') ?? 'id,name').split(',');
      return json(200, Object.fromEntries(Object.entries(profile).filter(([k]) => fields.includes(k))));
    }
    json(404, { error: { message: 'unknown path' } });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  fixture.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  fixture.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return fixture;
}

/** ServerConfig.facebook pointing at the fixture. */
export function facebookConfigFor(fixture: FacebookFixture) {
  return {
    authorizationUrl: `${fixture.url}/dialog/oauth`,
    tokenUrl: `${fixture.url}/oauth/access_token`,
    profileUrl: `${fixture.url}/me`,
    clientId: fixture.clientId,
    clientSecret: fixture.clientSecret,
  };
}
