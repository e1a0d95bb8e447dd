// The request a piece of code runs for: its id (sent back as X-Request-Id and
// quoted in `Internal error (reference …)`) and a logger whose every line
// carries that id. Kept in AsyncLocalStorage because some code a request runs
// through (PostGraphile's maskError) is not handed the request.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from '../lib/logger.ts';

export interface RequestContext {
  id: string;
  log: Logger;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function runInRequest<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** The current request's context; undefined outside a request (start-up, timers). */
export function currentRequest(): RequestContext | undefined {
  return storage.getStore();
}
