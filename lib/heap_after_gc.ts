// What a process really keeps: the heap used after its last full (mark-compact)
// garbage collection, as a Prometheus gauge. Resident memory (RSS) says little
// about a leak in a Node process: V8 grows its young generation (two
// semi-spaces; 128 MB together measured in the soak, on a machine with 24 GB)
// as allocation goes on and keeps it, so a process that
// retains nothing new still climbs by a few hundred MB over its first minutes
// and then stays flat (issue 17's soak: the worker 114 → 449 MB RSS with
// ~17 MB used after GC throughout). Heap used after a full GC grows only when
// something is kept.
//
// The young generation is left out of the figure: the observer runs a moment
// after the collection, and what was allocated in between is not retained.
import { constants, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import client from 'prom-client';

const YOUNG = new Set(['new_space', 'new_large_object_space']);

/** Registers `sms_heap_after_full_gc_bytes` (0 until the first full GC after this call). */
export function registerHeapAfterFullGc(registry: client.Registry): void {
  let after: number | undefined;
  new PerformanceObserver((list) => {
    if (
      !list
        .getEntries()
        .some((e) => (e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)
    )
      return;
    after = v8
      .getHeapSpaceStatistics()
      .filter((s) => !YOUNG.has(s.space_name))
      .reduce((n, s) => n + s.space_used_size, 0);
  }).observe({ entryTypes: ['gc'] });
  new client.Gauge({
    name: 'sms_heap_after_full_gc_bytes',
    help: 'V8 heap used (old generation, code, large objects) right after the last full garbage collection, in bytes.',
    registers: [registry],
    collect() {
      if (after !== undefined) this.set(after);
    },
  });
}
