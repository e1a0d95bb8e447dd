// Non-Stripe helper routes under /_emulator (no API key needed): state, reset, faults, the
// 3-D Secure step a browser would do, webhook endpoint and event re-delivery.
import { ApiError, invalidRequest, resourceMissing } from './errors.ts';
import type { FaultMode, FaultSet, FaultSpec } from './faults.ts';
import { parseForm } from './form.ts';
import { advanceClock, nowSeconds } from './ids.ts';
import { authenticatePaymentIntent, requirePaymentIntent } from './payment_intents.ts';
import type { Core } from './routing.ts';
import { authenticateSetupIntent, requireSetupIntent } from './setup_intents.ts';
import type { EmulatorState } from './state.ts';
import type { NextAction } from './shapes.ts';
import type { RateLimiter, RateLimitProfile } from './rate_limits.ts';
import type { WebhookDispatcher } from './webhooks.ts';

export type ControlContext = {
  core: Core;
  faults: FaultSet;
  limiter: RateLimiter;
  dispatcher: WebhookDispatcher;
  state: () => EmulatorState;
  reset: () => void;
  setWebhook: (url: string | null, secret?: string) => void;
};

export type ControlResult = { status?: number; body: unknown; headers?: Record<string, string> };
type Input = { body: Record<string, unknown>; query: URLSearchParams; ids: string[] };
type ControlRoute = { method: string; pattern: RegExp; run: (ctx: ControlContext, input: Input) => ControlResult };

/** JSON (or form) body of a helper request. */
export function parseControlBody(raw: string, contentType: string | undefined): Record<string, unknown> {
  if (!raw.trim()) return {};
  if (contentType?.includes('json') || raw.trimStart().startsWith('{')) {
    try {
      const v: unknown = JSON.parse(raw);
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      /* fall through */
    }
    throw invalidRequest('Body must be a JSON object.');
  }
  return parseForm(raw);
}

function outcome(input: Input): boolean {
  const v = input.body.outcome ?? input.query.get('outcome') ?? 'succeed';
  if (v !== 'succeed' && v !== 'fail')
    throw invalidRequest("outcome must be 'succeed' or 'fail'", { param: 'outcome' });
  return v === 'succeed';
}

function authenticate(
  ctx: ControlContext,
  id: string,
  succeed: boolean,
): {
  object: { id: string; next_action: NextAction | null; client_secret: string; status: string };
  kind: 'setup_intent' | 'payment_intent';
} {
  if (id.startsWith('seti_')) {
    const si = requireSetupIntent(ctx.core, id);
    const action = si.next_action;
    authenticateSetupIntent(ctx.core, si, succeed);
    return { object: { ...si, next_action: action }, kind: 'setup_intent' };
  }
  if (id.startsWith('pi_')) {
    const pi = requirePaymentIntent(ctx.core, id);
    const action = pi.next_action;
    authenticatePaymentIntent(ctx.core, pi, succeed);
    return { object: { ...pi, next_action: action }, kind: 'payment_intent' };
  }
  throw resourceMissing('intent', id, 'id');
}

const r = (method: string, path: string, run: ControlRoute['run']): ControlRoute => ({
  method,
  pattern: new RegExp(`^${path.replace(/:[a-z]+/g, '([^/]+)')}$`),
  run,
});

const routes: ControlRoute[] = [
  r('GET', '/_emulator/state', (ctx) => ({ body: ctx.state() })),
  r('POST', '/_emulator/reset', (ctx) => {
    ctx.reset();
    return { body: { reset: true } };
  }),

  r('GET', '/_emulator/faults', (ctx) => ({ body: { object: 'list', data: ctx.faults.list() } })),
  r('POST', '/_emulator/faults', (ctx, { body }) => {
    const count = body.count === undefined ? undefined : Number(body.count);
    const spec: FaultSpec = {
      method: body.method as string | undefined,
      path: body.path as string,
      mode: body.mode as FaultMode,
      count,
    };
    return { body: ctx.faults.add(spec) };
  }),
  r('DELETE', '/_emulator/faults', (ctx) => {
    ctx.faults.clear();
    return { body: { cleared: true } };
  }),

  // Stripe's limiters: `{"profile": "live"}` and/or `{"global": 100, "per_endpoint": 25, "concurrency": 0}`
  // (0 = no limit). The answer is the limits now in force.
  r('GET', '/_emulator/rate_limits', (ctx) => ({ body: ctx.limiter.stats() })),
  r('POST', '/_emulator/rate_limits', (ctx, { body }) => {
    const number = (v: unknown) => (v === undefined ? undefined : Number(v));
    ctx.limiter.set({
      profile: body.profile as RateLimitProfile | undefined,
      global: number(body.global),
      perEndpoint: number(body.per_endpoint),
      concurrency: number(body.concurrency),
    });
    return { body: ctx.limiter.stats() };
  }),

  // The emulator's clock: `{"advance_seconds": 90000}` moves it forward (objects' `created`,
  // idempotency keys' 24-hour lifetime). reset puts it back.
  r('GET', '/_emulator/clock', () => ({ body: { now: nowSeconds() } })),
  r('POST', '/_emulator/clock', (_ctx, { body }) => {
    const seconds = Number(body.advance_seconds);
    if (!Number.isInteger(seconds) || seconds < 0) {
      throw invalidRequest('advance_seconds must be a non-negative integer', { param: 'advance_seconds' });
    }
    const offset = advanceClock(seconds);
    return { body: { now: nowSeconds(), offset_seconds: offset } };
  }),

  r('POST', '/_emulator/setup_intents/:id/authenticate', (ctx, input) => ({
    body: authenticateSetupIntent(ctx.core, requireSetupIntent(ctx.core, input.ids[0]!), outcome(input)),
  })),
  r('POST', '/_emulator/payment_intents/:id/authenticate', (ctx, input) => ({
    body: authenticatePaymentIntent(ctx.core, requirePaymentIntent(ctx.core, input.ids[0]!), outcome(input)),
  })),
  // The URL in next_action: what the browser would open. Redirects to return_url when given.
  r('GET', '/_emulator/authenticate/:id', (ctx, input) => {
    const { object, kind } = authenticate(ctx, input.ids[0]!, outcome(input));
    const returnUrl =
      object.next_action?.type === 'redirect_to_url' ? object.next_action.redirect_to_url.return_url : null;
    if (!returnUrl) return { body: { id: object.id, status: object.status } };
    const target = new URL(returnUrl);
    target.searchParams.set(kind, object.id);
    target.searchParams.set(`${kind}_client_secret`, object.client_secret);
    target.searchParams.set('redirect_status', object.status === 'succeeded' ? 'succeeded' : 'failed');
    return { status: 302, body: { redirect: target.toString() }, headers: { Location: target.toString() } };
  }),

  r('POST', '/_emulator/events/:id/resend', (ctx, { ids: [id] }) => {
    const event = ctx.core.store.events.get(id!);
    if (!event) throw resourceMissing('event', id!, 'id');
    if (!ctx.core.events.deliver(event)) throw invalidRequest('No webhook endpoint is configured.');
    return { body: { id: event.id, queued: true } };
  }),
  r('GET', '/_emulator/events/:id/deliveries', (ctx, { ids: [id] }) => {
    if (!ctx.core.store.events.get(id!)) throw resourceMissing('event', id!, 'id');
    return { body: { object: 'list', data: ctx.dispatcher.log.get(id!) ?? [] } };
  }),
  r('POST', '/_emulator/webhook', (ctx, { body }) => {
    const url = body.url;
    if (typeof url !== 'string' || !/^https?:\/\//.test(url))
      throw invalidRequest('url must be an http(s) URL', { param: 'url' });
    if (body.secret !== undefined && typeof body.secret !== 'string')
      throw invalidRequest('secret must be a string', { param: 'secret' });
    ctx.setWebhook(url, body.secret as string | undefined);
    return { body: { url } };
  }),
  r('DELETE', '/_emulator/webhook', (ctx) => {
    ctx.setWebhook(null);
    return { body: { url: null } };
  }),
];

export function runControl(
  ctx: ControlContext,
  method: string,
  path: string,
  input: Omit<Input, 'ids'>,
): ControlResult {
  let pathMatched = false;
  for (const route of routes) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    pathMatched = true;
    if (route.method !== method) continue;
    return route.run(ctx, { ...input, ids: m.slice(1).map(decodeURIComponent) });
  }
  throw new ApiError(pathMatched ? 405 : 404, {
    type: 'invalid_request_error',
    message: `Unknown emulator route (${method}: ${path}).`,
  });
}
