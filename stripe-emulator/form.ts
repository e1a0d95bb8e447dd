// Stripe's form encoding: `metadata[reservation]=42`, `payment_method_types[0]=card`, `expand[]=x`,
// booleans as 'true'/'false', integers as digits. Parsed into nested objects/arrays of strings,
// then read with the typed readers below, which answer 400s worded like Stripe's.
import { invalidRequest, missingParam } from './errors.ts';

export type ParamValue = string | ParamValue[] | Params;
export type Params = { [key: string]: ParamValue };
export type Metadata = Record<string, string>;

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw invalidRequest(`Invalid URL encoding: ${s.slice(0, 40)}`);
  }
}

/** `a[b][0]` → ['a', 'b', '0']; `a[]` → ['a', '']. */
function splitKey(key: string): string[] {
  const open = key.indexOf('[');
  if (open <= 0) return [key];
  const parts = [key.slice(0, open)];
  const re = /\[([^\]]*)\]/gy;
  re.lastIndex = open;
  let m: RegExpExecArray | null;
  let end = open;
  while ((m = re.exec(key))) {
    parts.push(m[1]!);
    end = re.lastIndex;
  }
  if (end !== key.length) throw invalidRequest(`Invalid parameter name: ${key}`);
  return parts;
}

type Node = { [key: string]: Node | string };

export function parseForm(raw: string): Params {
  const root: Node = {};
  if (!raw) return {};
  for (const pair of raw.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const key = decode(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decode(pair.slice(eq + 1));
    const parts = splitKey(key);
    let node = root;
    for (let i = 0; i < parts.length; i++) {
      let part = parts[i]!;
      if (FORBIDDEN_KEYS.has(part)) throw invalidRequest(`Invalid parameter name: ${key}`, { param: key });
      if (part === '') part = String(Object.keys(node).length); // `a[]` appends
      const last = i === parts.length - 1;
      const existing = node[part];
      if (last) {
        if (existing !== undefined && typeof existing !== 'string') {
          throw invalidRequest(`Invalid hash or array: ${key}`, { param: key });
        }
        node[part] = value;
      } else {
        if (existing === undefined) node[part] = {};
        else if (typeof existing === 'string') {
          // `metadata=` (empty) followed by `metadata[x]=y` is not meaningful
          throw invalidRequest(`Invalid hash or array: ${key}`, { param: key });
        }
        node = node[part] as Node;
      }
    }
  }
  return finish(root) as Params;
}

/** Objects whose keys are all 0..n-1 become arrays. */
function finish(node: Node | string): ParamValue {
  if (typeof node === 'string') return node;
  const keys = Object.keys(node);
  const isArray = keys.length > 0 && keys.every((k) => /^\d+$/.test(k));
  if (isArray) {
    return keys
      .map(Number)
      .sort((a, b) => a - b)
      .map((k) => finish(node[String(k)]!));
  }
  const out: Params = {};
  for (const k of keys) out[k] = finish(node[k]!);
  return out;
}

// ---- typed readers ------------------------------------------------------------------------

export function rejectUnknown(params: Params, allowed: readonly string[]): void {
  for (const key of Object.keys(params)) {
    if (!allowed.includes(key)) {
      throw invalidRequest(`Received unknown parameter: ${key}`, { param: key, code: 'parameter_unknown' });
    }
  }
}

export function str(params: Params, name: string, required: true): string;
export function str(params: Params, name: string, required?: false): string | undefined;
export function str(params: Params, name: string, required = false): string | undefined {
  const v = params[name];
  if (v === undefined || v === '') {
    if (required) throw missingParam(name);
    return undefined;
  }
  if (typeof v !== 'string')
    throw invalidRequest(`Invalid string: ${name}`, { param: name, code: 'parameter_invalid_string' });
  return v;
}

/** A nullable string: '' means "unset" (returns null), absent returns undefined. */
export function nullableStr(params: Params, name: string): string | null | undefined {
  if (params[name] === '') return null;
  return str(params, name);
}

export function int(params: Params, name: string, required: true): number;
export function int(params: Params, name: string, required?: false): number | undefined;
export function int(params: Params, name: string, required = false): number | undefined {
  const v = str(params, name, required as false);
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(Number(v))) {
    throw invalidRequest(`Invalid integer: ${v}`, { param: name, code: 'parameter_invalid_integer' });
  }
  return Number(v);
}

export function bool(params: Params, name: string): boolean | undefined {
  const v = str(params, name);
  if (v === undefined) return undefined;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw invalidRequest(`Invalid boolean: ${v}`, { param: name, code: 'parameter_invalid_boolean' });
}

export function strList(params: Params, name: string): string[] | undefined {
  const v = params[name];
  if (v === undefined || v === '') return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw invalidRequest(`Invalid array: ${name}`, { param: name, code: 'parameter_invalid_array' });
  }
  return v as string[];
}

export function hash(params: Params, name: string): Params | undefined {
  const v = params[name];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw invalidRequest(`Invalid hash: ${name}`, { param: name });
  return v;
}

export function oneOf<T extends string>(params: Params, name: string, values: readonly T[]): T | undefined {
  const v = str(params, name);
  if (v === undefined) return undefined;
  if (!(values as readonly string[]).includes(v)) {
    throw invalidRequest(`Invalid ${name}: must be one of ${values.join(', ')}`, {
      param: name,
      code: 'parameter_invalid_string',
    });
  }
  return v as T;
}

/**
 * `allowed_payment_method_types` (the parameter of API 2026-10-28 / stripe-node 23) or the
 * older `payment_method_types`: the allowed list as given and the resulting types (card only).
 */
export function methodTypes(params: Params): { allowed: string[] | null; types: string[] } | undefined {
  const allowed = strList(params, 'allowed_payment_method_types');
  const legacy = strList(params, 'payment_method_types');
  if (allowed && legacy) {
    throw invalidRequest('Pass only one of allowed_payment_method_types and payment_method_types.', {
      param: 'payment_method_types',
      code: 'parameters_exclusive',
    });
  }
  const list = allowed ?? legacy;
  if (!list) return undefined;
  const param = allowed ? 'allowed_payment_method_types' : 'payment_method_types';
  if (!list.includes('card')) {
    throw invalidRequest(`The Stripe emulator only supports card payment methods; ${param} must include 'card'.`, {
      param,
    });
  }
  return { allowed: allowed ?? null, types: ['card'] };
}

/** Parameters Stripe has but the emulator cannot honour: a clear 400 rather than silence. */
export function rejectUnsupported(params: Params, names: readonly string[]): void {
  for (const name of names) {
    if (params[name] !== undefined) {
      throw invalidRequest(
        `${name} is not supported by the Stripe emulator (use a test PaymentMethod id such as pm_card_visa).`,
        { param: name },
      );
    }
  }
}

/**
 * Metadata update: returns the new metadata given the old one. `metadata=` clears it,
 * `metadata[k]=` removes key k, anything else sets it. Limits as Stripe's (50 keys, 40/500 chars).
 */
export function applyMetadata(params: Params, current: Metadata = {}): Metadata {
  const v = params.metadata;
  if (v === undefined) return current;
  if (v === '') return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw invalidRequest('Invalid hash: metadata', { param: 'metadata' });
  const next: Metadata = { ...current };
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') throw invalidRequest(`Invalid metadata value for ${k}`, { param: `metadata[${k}]` });
    if (k.length > 40)
      throw invalidRequest('Metadata keys can have a maximum length of 40 characters.', { param: `metadata[${k}]` });
    if (val.length > 500)
      throw invalidRequest('Metadata values can have a maximum length of 500 characters.', { param: `metadata[${k}]` });
    if (val === '') delete next[k];
    else next[k] = val;
  }
  if (Object.keys(next).length > 50) throw invalidRequest('Metadata can have up to 50 keys.', { param: 'metadata' });
  return next;
}

/** `expand[]=a` / `expand[0]=a` → ['a']. */
export function expandList(params: Params): string[] {
  return strList(params, 'expand') ?? [];
}
