// The HTTP front: API-key check (secret keys, and publishable keys for what Stripe.js does;
// a request from a web page, with an Origin header, may not use a secret key), form parsing,
// faults, idempotency, routing to the resource handlers, `expand[]`, and Stripe's error
// answers; CORS (Stripe's routes only, not /_emulator/, which refuses any request from a
// page but Stripe.js's 3-D Secure step) and the Stripe.js-compatible script (GET /v3/) for browsers.
// `startStripeEmulator()` wires it all.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chargeRoutes } from './charges.ts';
import { parseControlBody, runControl, type ControlContext } from './control.ts';
import { customerRoutes } from './customers.ts';
import { ApiError, apiError, invalidRequest, lockTimeout, rateLimited, unrecognizedUrl } from './errors.ts';
import { EventLog, eventRoutes } from './events.ts';
import { applyExpand } from './expand.ts';
import { FaultSet, type FaultSpec } from './faults.ts';
import { expandList, parseForm, type Params } from './form.ts';
import { IdempotencyStore } from './idempotency.ts';
import { newId, randomToken, resetClock } from './ids.ts';
import { paymentIntentRoutes } from './payment_intents.ts';
import { paymentMethodRoutes } from './payment_methods.ts';
import { publishableKeyRefusal } from './publishable.ts';
import { RateLimiter, type RateLimitSettings } from './rate_limits.ts';
import { refundRoutes } from './refunds.ts';
import { findRoute, type Core, type Route } from './routing.ts';
import { setupIntentRoutes } from './setup_intents.ts';
import { summarize, type EmulatorState } from './state.ts';
import { Store } from './store.ts';
import { stripeJsSource } from './stripe_js.ts';
import { WebhookDispatcher, type WebhookOptions } from './webhooks.ts';

/** The API version stripe-node 23.1.0 sends (events carry it as `api_version`). */
export const DEFAULT_API_VERSION = '2026-10-28.endive';
const MAX_BODY = 1024 * 1024;

export type StripeEmulatorOptions = {
  /** 0 (default) = an ephemeral port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Where events are POSTed, signed with webhookSecret. */
  webhookUrl?: string;
  /** `whsec_…`; a random one is made (see `.webhookSecret`) when webhookUrl is set without it. */
  webhookSecret?: string;
  /** Accept only this key; otherwise any `sk_test_…` / `rk_test_…` key. */
  apiKey?: string;
  /** Accept only this publishable key (Stripe.js's calls); otherwise any `pk_test_…` key. */
  publishableKey?: string;
  apiVersion?: string;
  /** Event types delivered to the endpoint (default all). */
  enabledEvents?: string[];
  webhook?: WebhookOptions;
  /** How long a `timeout` fault holds the socket before dropping it (default 120 s). */
  timeoutHoldMs?: number;
  /** Stripe's rate and concurrency limits (rate_limits.ts); default none. */
  rateLimits?: RateLimitSettings;
  /** Milliseconds each API request takes before it is answered (what the concurrency limit counts); default 0. */
  latencyMs?: number;
  /** One line per request (method, path without query, status, ms): no bodies, no keys. */
  log?: (line: string) => void;
};

export type StripeEmulator = {
  url: string;
  host: string;
  port: number;
  /** Spread into `new Stripe(key, { ...emulator.stripeConfig })`. */
  stripeConfig: { host: string; port: number; protocol: 'http' };
  webhookSecret: string | null;
  store: Store;
  state(): EmulatorState;
  reset(): void;
  addFault(spec: FaultSpec): void;
  /** Changes the rate limits (unset fields keep their value); also `POST /_emulator/rate_limits`. */
  setRateLimits(limits: RateLimitSettings): void;
  clearFaults(): void;
  setWebhook(url: string | null, secret?: string): void;
  /** Resolves when no webhook delivery is queued, in flight or waiting to retry. */
  waitForWebhooks(): Promise<void>;
  close(): Promise<void>;
};

type Answer = { status: number; body: string; headers?: Record<string, string> };

function errorAnswer(e: ApiError): Answer {
  return { status: e.status, body: JSON.stringify({ error: e.error }) };
}

function redact(key: string): string {
  const prefix = /^(sk|rk|pk)_(test|live)_/.exec(key)?.[0] ?? '';
  return `${prefix}${'*'.repeat(Math.max(0, key.length - prefix.length - 4))}${key.slice(-4)}`;
}

type Credential = { key: string; publishable: boolean };

/** The API key a request presents: its Authorization header, or else Stripe.js's `key` parameter. */
function presentedKey(header: string | undefined, keyParam: unknown): string | undefined {
  if (header) {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const basic = /^Basic\s+(\S+)\s*$/i.exec(header);
    if (bearer) return bearer[1];
    if (basic) return Buffer.from(basic[1]!, 'base64').toString('utf8').split(':')[0];
    return undefined;
  }
  return typeof keyParam === 'string' && keyParam ? keyParam : undefined;
}

/** The API key of the request (Authorization header, or Stripe.js's `key` parameter), or the 401 to answer. */
function authenticate(
  header: string | undefined,
  keyParam: unknown,
  expected: { secret?: string; publishable?: string },
): Credential | ApiError {
  const key = presentedKey(header, keyParam);
  if (key && /^pk_/.test(key)) {
    if (/^pk_live_/.test(key))
      return invalidRequest('The Stripe emulator only accepts test mode keys (pk_test_…).', { status: 401 });
    if (!/^pk_test_\w+$/.test(key) || (expected.publishable !== undefined && key !== expected.publishable)) {
      return invalidRequest(`Invalid API Key provided: ${redact(key)}`, { status: 401 });
    }
    return { key, publishable: true };
  }
  if (!key) {
    return invalidRequest(
      "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
      { status: 401 },
    );
  }
  if (/^(sk|rk)_live_/.test(key))
    return invalidRequest('The Stripe emulator only accepts test mode keys (sk_test_…).', { status: 401 });
  if (!/^(sk|rk)_test_/.test(key) || (expected.secret !== undefined && key !== expected.secret)) {
    return invalidRequest(`Invalid API Key provided: ${redact(key)}`, { status: 401 });
  }
  return { key, publishable: false };
}

/** The host a browser reached the emulator at, when it is a plain host[:port] (it goes into a script). */
function requestOrigin(req: http.IncomingMessage, fallback: string): string {
  const host = req.headers.host;
  return host && /^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:]+\](:\d+)?$/.test(host) ? `http://${host}` : fallback;
}

const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, DELETE, OPTIONS',
  'Access-Control-Allow-Headers': 'Authorization, Content-Type, Idempotency-Key, Stripe-Version',
  'Access-Control-Max-Age': '600',
};

/** The emulator's own helper routes (control.ts): run for no page but pageMayCall's, readable by none. */
function isControlPath(pathname: string): boolean {
  return pathname.startsWith('/_emulator/');
}

/**
 * The one helper a page may call (a request with an Origin header): Stripe.js's 3-D Secure
 * step (stripe.js `_authenticate`, a no-cors POST). It needs the SetupIntent's id, which only
 * the page holding its client secret knows.
 */
function pageMayCall(method: string, path: string): boolean {
  return method === 'POST' && /^\/_emulator\/setup_intents\/[^/]+\/authenticate$/.test(path);
}

function readBody(req: http.IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        resolve(null);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startStripeEmulator(options: StripeEmulatorOptions = {}): Promise<StripeEmulator> {
  const host = options.host ?? '127.0.0.1';
  const apiVersion = options.apiVersion ?? DEFAULT_API_VERSION;
  const holdMs = options.timeoutHoldMs ?? 120_000;
  const store = new Store();
  const dispatcher = new WebhookDispatcher(options.webhook);
  const events = new EventLog(store, dispatcher, apiVersion);
  if (options.enabledEvents) events.enabledEvents = options.enabledEvents;
  const faults = new FaultSet();
  const idempotency = new IdempotencyStore();
  const limiter = new RateLimiter();
  if (options.rateLimits) limiter.set(options.rateLimits);
  const latencyMs = options.latencyMs ?? 0;
  let baseUrl = '';
  let requests = 0;
  let webhookSecret: string | null = null;
  const core: Core = { store, events, apiVersion, baseUrl: () => baseUrl };
  const routes: Route[] = [
    ...customerRoutes,
    ...paymentMethodRoutes,
    ...setupIntentRoutes,
    ...paymentIntentRoutes,
    ...chargeRoutes,
    ...refundRoutes,
    ...eventRoutes,
  ];
  const held = new Set<http.ServerResponse>();

  const setWebhook = (url: string | null, secret?: string) => {
    if (!url) {
      events.endpoint = null;
      return;
    }
    webhookSecret = secret ?? webhookSecret ?? `whsec_${randomToken(32)}`;
    events.endpoint = { url, secret: webhookSecret };
  };
  if (options.webhookUrl) setWebhook(options.webhookUrl, options.webhookSecret);
  else if (options.webhookSecret) webhookSecret = options.webhookSecret;

  const state = () =>
    summarize(store, dispatcher, events.endpoint?.url ?? null, faults, idempotency, requests, limiter);
  const reset = () => {
    dispatcher.clear();
    faults.clear();
    idempotency.clear();
    Object.assign(store, new Store());
    resetClock();
    limiter.reset();
    requests = 0;
  };
  const control: ControlContext = { core, faults, limiter, dispatcher, state, reset, setWebhook };

  /** Runs an API call and renders its answer (the body is serialised here, synchronously). */
  function execute(
    route: Route,
    ids: string[],
    params: Params,
    requestId: string,
    idempotencyKey: string | null,
  ): Answer {
    try {
      const result = route.handler(core, { params, ids, request: { id: requestId, idempotency_key: idempotencyKey } });
      const expand = expandList(params);
      const body = expand.length ? applyExpand(result.body, expand, store) : result.body;
      return { status: result.status ?? 200, body: JSON.stringify(body) };
    } catch (e) {
      if (e instanceof ApiError) return errorAnswer(e);
      console.error('[stripe-emulator] internal error:', e instanceof Error ? e.stack : e);
      return errorAnswer(apiError('An internal error occurred in the Stripe emulator.'));
    }
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<Answer | 'hold'> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://emulator');
    const path = url.pathname;
    const raw = await readBody(req);
    if (raw === null)
      return {
        status: 413,
        body: JSON.stringify({ error: { type: 'invalid_request_error', message: 'Request body too large.' } }),
      };

    if (isControlPath(path)) {
      // A browser sends Origin with every POST and every CORS request: no CORS keeps a page
      // from reading the helpers' answers, this keeps it from running them (a text/plain POST
      // needs no preflight). Node clients (tests, the CLI) send no Origin.
      if (req.headers.origin !== undefined && !pageMayCall(method, path)) {
        return errorAnswer(
          invalidRequest("The Stripe emulator's /_emulator/ helpers do not answer requests from a web page.", {
            status: 403,
          }),
        );
      }
      try {
        const result = runControl(control, method, path, {
          body: parseControlBody(raw, req.headers['content-type']),
          query: url.searchParams,
        });
        return { status: result.status ?? 200, body: JSON.stringify(result.body), headers: result.headers };
      } catch (e) {
        if (e instanceof ApiError) return errorAnswer(e);
        throw e;
      }
    }

    // Stripe.js, from a page on another origin: its requests are simple (form body, no
    // custom headers), so a preflight only comes from other clients; answer it anyway.
    if (method === 'OPTIONS') return { status: 204, body: '', headers: CORS_HEADERS };
    if (method === 'GET' && (path === '/v3' || path === '/v3/')) {
      return {
        status: 200,
        body: stripeJsSource(requestOrigin(req, baseUrl)),
        headers: { 'Content-Type': 'application/javascript; charset=utf-8', 'Cache-Control': 'no-cache' },
      };
    }

    requests++;
    let params: Params;
    try {
      params = parseForm(method === 'POST' && raw ? raw : url.search.slice(1));
    } catch (e) {
      if (e instanceof ApiError) return errorAnswer(e);
      throw e;
    }
    // A page (its requests carry Origin) uses the publishable key, as Stripe.js does; a secret
    // key there is refused before it is checked, so a page cannot use or probe one.
    if (
      req.headers.origin !== undefined &&
      /^(sk|rk)_/.test(presentedKey(req.headers.authorization, params.key) ?? '')
    ) {
      return errorAnswer(
        invalidRequest(
          'Secret API keys (sk_…, rk_…) are for servers, not browsers: this request came from a web page (it has an Origin header). Use your publishable key (pk_test_…) with Stripe.js in the browser.',
          { status: 403 },
        ),
      );
    }
    const auth = authenticate(req.headers.authorization, params.key, {
      secret: options.apiKey,
      publishable: options.publishableKey,
    });
    if (auth instanceof ApiError) return errorAnswer(auth);
    delete params.key;
    const apiKey = auth.key;
    const found = findRoute(routes, method, path);
    if (!found) return errorAnswer(unrecognizedUrl(method, path));
    if (auth.publishable) {
      const refusal = publishableKeyRefusal(core, method, path, params);
      if (refusal) return errorAnswer(refusal);
    }

    // Stripe's limiters come before anything is done; an admitted request
    // counts as in flight until its answer is sent (or its socket closes).
    const admitted = limiter.admit(`${found.route.method} ${found.route.path}`);
    if (admitted instanceof ApiError) return errorAnswer(admitted);
    res.once('close', admitted.done);
    if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));

    const fault = faults.take(method, path);
    if (fault === 'error_before') return errorAnswer(apiError());
    if (fault === 'lock_timeout') return { ...errorAnswer(lockTimeout()), headers: { 'Stripe-Should-Retry': 'true' } };
    if (fault === 'rate_limit') return errorAnswer(rateLimited('Request rate limit exceeded (emulated fault).'));

    const requestId = newId('req');
    const keyHeader = req.headers['idempotency-key'];
    const idempotencyKey = method === 'POST' && typeof keyHeader === 'string' && keyHeader ? keyHeader : null;
    let answer: Answer;
    if (idempotencyKey) {
      const check = idempotency.check(apiKey, idempotencyKey, method, path, raw);
      if (check.kind === 'mismatch') {
        return {
          status: 400,
          body: JSON.stringify({
            error: {
              type: 'idempotency_error',
              message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`,
            },
          }),
        };
      }
      if (check.kind === 'replay') {
        answer = {
          status: check.stored.status,
          body: check.stored.response,
          headers: { 'Idempotent-Replayed': 'true', 'Original-Request': check.stored.requestId },
        };
      } else {
        answer = execute(found.route, found.ids, params, requestId, idempotencyKey);
        if (IdempotencyStore.storable(answer.status)) {
          idempotency.put(apiKey, idempotencyKey, {
            method,
            path,
            body: raw,
            status: answer.status,
            response: answer.body,
            requestId,
          });
        }
      }
      answer.headers = { ...answer.headers, 'Idempotency-Key': idempotencyKey };
    } else {
      answer = execute(found.route, found.ids, params, requestId, null);
    }

    if (fault === 'error_after') return errorAnswer(apiError());
    if (fault === 'timeout') {
      // The operation is done; the answer never comes. Dropped after holdMs, or by close().
      held.add(res);
      const timer = setTimeout(() => res.destroy(), holdMs);
      res.on('close', () => {
        clearTimeout(timer);
        held.delete(res);
      });
      return 'hold';
    }
    answer.headers = { ...answer.headers, 'Request-Id': requestId };
    return answer;
  }

  const server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    const started = performance.now();
    handle(req, res)
      .catch((e: unknown) => {
        console.error('[stripe-emulator] internal error:', e instanceof Error ? e.stack : e);
        return errorAnswer(apiError('An internal error occurred in the Stripe emulator.'));
      })
      .then((answer) => {
        if (answer === 'hold') return;
        if (res.destroyed) return;
        const body = Buffer.from(answer.body, 'utf8');
        res.writeHead(answer.status, {
          'Content-Type': 'application/json',
          'Content-Length': body.length,
          'Stripe-Version': apiVersion,
          // Stripe's API answers any page (Stripe.js); the /_emulator/ helpers (state, faults,
          // reset, webhook endpoint) answer no page of another origin.
          ...(req.headers.origin && !isControlPath(new URL(req.url ?? '/', 'http://emulator').pathname)
            ? { 'Access-Control-Allow-Origin': '*' }
            : {}),
          ...(answer.headers ?? {}),
        });
        res.end(body);
        options.log?.(
          `${req.method} ${(req.url ?? '').split('?')[0]} ${answer.status} ${(performance.now() - started).toFixed(1)}ms`,
        );
      });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closing: Promise<void> | null = null;
  return {
    url: baseUrl,
    host,
    port,
    stripeConfig: { host, port, protocol: 'http' },
    get webhookSecret() {
      return webhookSecret;
    },
    get store() {
      return store;
    },
    state,
    reset,
    addFault: (spec) => void faults.add(spec),
    setRateLimits: (limits) => limiter.set(limits),
    clearFaults: () => faults.clear(),
    setWebhook,
    waitForWebhooks: () => dispatcher.idle(),
    close() {
      closing ??= new Promise<void>((resolve) => {
        dispatcher.close();
        for (const res of held) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
