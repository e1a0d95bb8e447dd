// In-memory objects: one collection per resource, an index by customer for the lists the
// project asks for per customer, and Stripe's list shape with cursor pagination.
import type { TestCard } from './cards.ts';
import { invalidRequest } from './errors.ts';
import { int, hash, str, type Params } from './form.ts';
import type {
  Charge,
  Customer,
  DeletedCustomer,
  PaymentIntent,
  PaymentMethod,
  Refund,
  SetupIntent,
  StripeEvent,
} from './shapes.ts';

type Stored = { id: string; created: number };

export class Collection<T extends Stored> {
  readonly byId = new Map<string, T>();
  /** Insertion order, oldest first. */
  readonly all: T[] = [];
  private readonly byKey = new Map<string, T[]>();

  add(obj: T, ...keys: (string | null | undefined)[]): T {
    this.byId.set(obj.id, obj);
    this.all.push(obj);
    for (const k of keys) if (k) this.index(obj, k);
    return obj;
  }

  get(id: string): T | undefined {
    return this.byId.get(id);
  }

  index(obj: T, key: string): void {
    let list = this.byKey.get(key);
    if (!list) this.byKey.set(key, (list = []));
    list.push(obj);
  }

  unindex(obj: T, key: string): void {
    const list = this.byKey.get(key);
    if (!list) return;
    const at = list.indexOf(obj);
    if (at >= 0) list.splice(at, 1);
  }

  /** Objects indexed under key (oldest first); every object when key is undefined. */
  scope(key: string | undefined): T[] {
    return key === undefined ? this.all : (this.byKey.get(key) ?? []);
  }

  get size(): number {
    return this.all.length;
  }
}

/** A card-backed PaymentMethod's hidden behaviour (which test card it came from). */
export type CardState = { card: TestCard; setUp: boolean };

export class Store {
  customers = new Collection<Customer>();
  deletedCustomers = new Map<string, DeletedCustomer>();
  paymentMethods = new Collection<PaymentMethod>();
  cardStates = new Map<string, CardState>();
  setupIntents = new Collection<SetupIntent>();
  paymentIntents = new Collection<PaymentIntent>();
  charges = new Collection<Charge>();
  refunds = new Collection<Refund>();
  events = new Collection<StripeEvent>();

  /** Any stored object by id, for `expand[]`. */
  lookup(id: string): Stored | undefined {
    const prefix = id.slice(0, id.indexOf('_'));
    switch (prefix) {
      case 'cus':
        return this.customers.get(id) ?? (this.deletedCustomers.get(id) as Stored | undefined);
      case 'pm':
        return this.paymentMethods.get(id);
      case 'seti':
        return this.setupIntents.get(id);
      case 'pi':
        return this.paymentIntents.get(id);
      case 'ch':
        return this.charges.get(id);
      case 're':
        return this.refunds.get(id);
      case 'evt':
        return this.events.get(id);
      default:
        return undefined;
    }
  }
}

export type ListObject<T> = { object: 'list'; data: T[]; has_more: boolean; url: string };

export const LIST_PARAMS = ['limit', 'starting_after', 'ending_before', 'created', 'expand'] as const;

/**
 * Stripe's list: newest first, `limit` 1..100 (default 10), `starting_after` / `ending_before`
 * cursors, `created[gt|gte|lt|lte]` or `created=<ts>`.
 */
export function paginate<T extends Stored>(
  items: readonly T[],
  params: Params,
  url: string,
  filter?: (o: T) => boolean,
): ListObject<T> {
  const limit = int(params, 'limit') ?? 10;
  if (limit < 1 || limit > 100) {
    throw invalidRequest('This value must be greater than or equal to 1 and less than or equal to 100.', {
      param: 'limit',
    });
  }
  const createdFilter = createdRange(params);
  const keep = (o: T) => (!filter || filter(o)) && (!createdFilter || createdFilter(o.created));
  const startingAfter = str(params, 'starting_after');
  const endingBefore = str(params, 'ending_before');
  const data: T[] = [];
  let hasMore = false;
  // items are oldest first. ending_before walks towards newer items (the `limit` closest to the
  // cursor, then returned newest first); otherwise the walk goes from newest (or the item before
  // starting_after) towards older ones.
  const newer = endingBefore !== undefined;
  const step = newer ? 1 : -1;
  let i = newer
    ? cursorIndex(items, endingBefore, 'ending_before') + 1
    : startingAfter !== undefined
      ? cursorIndex(items, startingAfter, 'starting_after') - 1
      : items.length - 1;
  for (; i >= 0 && i < items.length; i += step) {
    const o = items[i]!;
    if (!keep(o)) continue;
    if (data.length === limit) {
      hasMore = true;
      break;
    }
    data.push(o);
  }
  if (newer) data.reverse();
  return { object: 'list', data, has_more: hasMore, url };
}

function cursorIndex(items: readonly Stored[], id: string, param: string): number {
  for (let i = items.length - 1; i >= 0; i--) if (items[i]!.id === id) return i;
  throw invalidRequest(`No such object: '${id}'`, { param, code: 'resource_missing' });
}

function createdRange(params: Params): ((t: number) => boolean) | undefined {
  if (params.created === undefined) return undefined;
  if (typeof params.created === 'string') {
    const at = int(params, 'created')!;
    return (t) => t === at;
  }
  const h = hash(params, 'created')!;
  const bound = (k: string) => {
    const v = h[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !/^\d+$/.test(v))
      throw invalidRequest(`Invalid integer: ${String(v)}`, { param: `created[${k}]` });
    return Number(v);
  };
  const gt = bound('gt'),
    gte = bound('gte'),
    lt = bound('lt'),
    lte = bound('lte');
  return (t) =>
    (gt === undefined || t > gt) &&
    (gte === undefined || t >= gte) &&
    (lt === undefined || t < lt) &&
    (lte === undefined || t <= lte);
}
