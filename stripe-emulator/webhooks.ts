// Signed webhook delivery: `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256("<t>.<payload>")>`,
// the scheme `stripe.webhooks.constructEvent` verifies. Deliveries run in the background, a few
// at a time, each retried with a short exponential back-off on non-2xx or connection errors.
import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';

export function signatureHeader(payload: string, secret: string, timestamp = Math.floor(Date.now() / 1000)): string {
  const v1 = createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
  return `t=${timestamp},v1=${v1}`;
}

export type WebhookEndpoint = { url: string; secret: string };

export type WebhookOptions = {
  /** Attempts per delivery, first one included (default 5). */
  maxAttempts?: number;
  /** Delay before the first retry, doubled for each next one (default 100 ms). */
  retryDelayMs?: number;
  /** Per-attempt timeout (default 5000 ms). */
  timeoutMs?: number;
  /** Deliveries in flight at once (default 8). */
  concurrency?: number;
};

export type DeliveryAttempt = { at: number; status: number | null; error: string | null };

type Delivery = {
  eventId: string;
  payload: string;
  endpoint: WebhookEndpoint;
  attempts: DeliveryAttempt[];
  done: (delivered: boolean) => void;
};

export type WebhookStats = { delivered: number; failed: number; attempts: number; pending: number };

export class WebhookDispatcher {
  private readonly maxAttempts: number;
  private readonly retryDelayMs: number;
  private readonly timeoutMs: number;
  private readonly concurrency: number;
  private readonly queue: Delivery[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly requests = new Set<http.ClientRequest>();
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 16 });
  private idleWaiters: (() => void)[] = [];
  private inFlight = 0;
  private closed = false;
  /** Bumped by clear(): callbacks of deliveries from before it are ignored. */
  private generation = 0;
  readonly log = new Map<string, DeliveryAttempt[]>();
  stats = { delivered: 0, failed: 0, attempts: 0 };

  constructor(options: WebhookOptions = {}) {
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 5);
    this.retryDelayMs = options.retryDelayMs ?? 100;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.concurrency = Math.max(1, options.concurrency ?? 8);
  }

  enqueue(eventId: string, payload: string, endpoint: WebhookEndpoint, done: (delivered: boolean) => void): void {
    if (this.closed) return;
    let attempts = this.log.get(eventId);
    if (!attempts) this.log.set(eventId, (attempts = []));
    this.queue.push({ eventId, payload, endpoint, attempts, done });
    this.pump();
  }

  get pending(): number {
    return this.queue.length + this.inFlight + this.timers.size;
  }

  snapshot(): WebhookStats {
    return { ...this.stats, pending: this.pending };
  }

  /** Resolves once nothing is queued, in flight or waiting for a retry. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops everything queued or scheduled (on reset); in-flight requests are aborted. */
  clear(): void {
    this.generation++;
    this.queue.length = 0;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const r of this.requests) r.destroy();
    this.requests.clear();
    this.inFlight = 0;
    this.log.clear();
    this.stats = { delivered: 0, failed: 0, attempts: 0 };
    this.checkIdle();
  }

  close(): void {
    this.clear();
    this.closed = true;
    this.agent.destroy();
    this.httpsAgent.destroy();
  }

  private checkIdle(): void {
    if (this.pending !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private pump(): void {
    while (!this.closed && this.inFlight < this.concurrency && this.queue.length > 0) {
      const d = this.queue.shift()!;
      this.inFlight++;
      const generation = this.generation;
      this.attempt(d, (status, error) => {
        if (generation !== this.generation) return;
        this.inFlight--;
        this.stats.attempts++;
        d.attempts.push({ at: Date.now(), status, error });
        if (status !== null && status >= 200 && status < 300) {
          this.stats.delivered++;
          d.done(true);
        } else if (d.attempts.length < this.maxAttempts && !this.closed) {
          const delay = this.retryDelayMs * 2 ** (d.attempts.length - 1);
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            this.queue.push(d);
            this.pump();
          }, delay);
          this.timers.add(timer);
        } else {
          this.stats.failed++;
          d.done(false);
        }
        this.pump();
        this.checkIdle();
      });
    }
  }

  private attempt(d: Delivery, finish: (status: number | null, error: string | null) => void): void {
    let settled = false;
    const settle = (status: number | null, error: string | null) => {
      if (settled) return;
      settled = true;
      this.requests.delete(req);
      finish(status, error);
    };
    const url = new URL(d.endpoint.url);
    const isHttps = url.protocol === 'https:';
    const body = Buffer.from(d.payload, 'utf8');
    const req = (isHttps ? https : http).request(url, {
      method: 'POST',
      agent: isHttps ? this.httpsAgent : this.agent,
      timeout: this.timeoutMs,
      headers: {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': body.length,
        'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
        'Cache-Control': 'no-cache',
        Accept: '*/*; q=0.5, application/xml',
        // Signed per attempt, like Stripe: each retry carries a fresh timestamp.
        'Stripe-Signature': signatureHeader(d.payload, d.endpoint.secret),
      },
    });
    this.requests.add(req);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => settle(res.statusCode ?? null, null));
      res.on('error', () => settle(res.statusCode ?? null, null));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => settle(null, e.code ?? e.message));
    req.end(body);
  }
}
