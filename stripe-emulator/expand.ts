// `expand[]=latest_charge`, `expand[]=data.payment_method`, `expand[]=latest_charge.customer`:
// replaces id strings by the stored objects, on copies (stored objects are never changed).
import { invalidRequest } from './errors.ts';
import type { Store } from './store.ts';

type Obj = Record<string, unknown>;

export function applyExpand(body: unknown, paths: readonly string[], store: Store): unknown {
  let out = body;
  for (const path of paths) out = expandPath(out, path.split('.'), path, store);
  return out;
}

function expandPath(value: unknown, parts: string[], full: string, store: Store): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => expandPath(v, parts, full, store));
  const obj = value as Obj;
  const [head, ...rest] = parts as [string, ...string[]];
  if (!(head in obj)) throw cannotExpand(full);
  const copy: Obj = { ...obj };
  let child = copy[head];
  if (typeof child === 'string') {
    const found = store.lookup(child);
    if (!found) throw cannotExpand(full);
    child = found;
  } else if (child !== null && typeof child !== 'object') {
    throw cannotExpand(full);
  }
  copy[head] = rest.length ? expandPath(child, rest, full, store) : child;
  return copy;
}

function cannotExpand(path: string) {
  return invalidRequest(`This property cannot be expanded (${path}).`, { param: 'expand' });
}
