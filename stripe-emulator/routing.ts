// What a route handler sees and returns, and the `/v1/x/:id` pattern matcher.
import type { EventLog, RequestInfo } from './events.ts';
import type { Params } from './form.ts';
import type { Store } from './store.ts';

/** Shared state every handler works on. */
export type Core = { store: Store; events: EventLog; apiVersion: string; baseUrl: () => string };

export type Call = {
  params: Params;
  /** The `:id` parts of the path, in order. */
  ids: string[];
  request: RequestInfo;
};

export type Result = { status?: number; body: unknown };
export type Handler = (core: Core, call: Call) => Result;
export type Method = 'GET' | 'POST' | 'DELETE';
/** `path` is the pattern as written (`/v1/payment_intents/:id`): the endpoint a rate limit counts. */
export type Route = { method: Method; path: string; pattern: RegExp; handler: Handler };

export function route(method: Method, path: string, handler: Handler): Route {
  const source = path
    .split('/')
    .map((seg) => (seg.startsWith(':') ? '([^/]+)' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return { method, path, pattern: new RegExp(`^${source}$`), handler };
}

/** The route for method+path, `'method'` when only the path matches, or undefined. */
export function findRoute(
  routes: readonly Route[],
  method: string,
  path: string,
): { route: Route; ids: string[] } | undefined {
  for (const r of routes) {
    if (r.method !== method) continue;
    const m = r.pattern.exec(path);
    if (m) return { route: r, ids: m.slice(1).map((s) => decodeURIComponent(s)) };
  }
  return undefined;
}
