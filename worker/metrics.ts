// The worker's Prometheus metrics, served at GET /metrics beside its probes
// (worker/health_server.ts): prom-client's process metrics (resident memory,
// heap, event-loop lag, GC durations by kind) and sms_heap_after_full_gc_bytes
// (lib/heap_after_gc.ts), the figure to watch for a leak. The job queue's
// figures are the API's (server/metrics.ts): they come from the database.
import client from 'prom-client';
import { registerHeapAfterFullGc } from '../lib/heap_after_gc.ts';

export function workerMetrics(): client.Registry {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  registerHeapAfterFullGc(registry);
  return registry;
}
