// Stripe's search (`GET /v1/<resource>/search?query=…`), the part callers here use: clauses
// `field:'value'`, `field:123` and `metadata['key']:'value'` joined by AND (exact matches).
// Stripe documents that a new object can take up to a minute to become searchable; here
// it is searchable at once. Pagination: `limit` (1..100, default 10) and `page`, the
// opaque `next_page` of the previous answer.
import { invalidRequest } from './errors.ts';
import { int, rejectUnknown, str, type Params } from './form.ts';

type Searchable = { id: string; metadata?: Record<string, string> | null };
type Clause = { field: string; metadataKey: string | null; value: string };

export type SearchResult<T> = {
  object: 'search_result';
  data: T[];
  has_more: boolean;
  next_page: string | null;
  url: string;
};

const CLAUSE = /^(?:metadata\['([^']+)'\]|metadata\["([^"]+)"\]|([a-z_]+)):(?:'([^']*)'|"([^"]*)"|(-?\d+))$/;

function parseQuery(query: string, fields: readonly string[]): Clause[] {
  const parts = query.trim().split(/\s+AND\s+/i);
  return parts.map((part) => {
    const m = CLAUSE.exec(part.trim());
    if (!m) {
      throw invalidRequest(
        `The emulator's search supports field:'value' and metadata['key']:'value' clauses joined by AND, not: ${part}`,
        { param: 'query' },
      );
    }
    const metadataKey = m[1] ?? m[2] ?? null;
    const field = metadataKey === null ? m[3]! : 'metadata';
    if (metadataKey === null && !fields.includes(field)) {
      throw invalidRequest(
        `Field '${field}' is an unsupported search field. Supported: ${[...fields, 'metadata'].join(', ')}.`,
        { param: 'query' },
      );
    }
    return { field, metadataKey, value: m[4] ?? m[5] ?? m[6]! };
  });
}

function matches(obj: Searchable, clause: Clause): boolean {
  if (clause.metadataKey !== null) return obj.metadata?.[clause.metadataKey] === clause.value;
  const v = (obj as Record<string, unknown>)[clause.field];
  return v !== null && v !== undefined && String(v) === clause.value;
}

/** The search answer over `items` (newest first, like Stripe's). */
export function searchResult<T extends Searchable>(
  items: readonly T[],
  params: Params,
  url: string,
  fields: readonly string[],
): SearchResult<T> {
  rejectUnknown(params, ['query', 'limit', 'page', 'expand']);
  const clauses = parseQuery(str(params, 'query', true), fields);
  const limit = int(params, 'limit') ?? 10;
  if (limit < 1 || limit > 100)
    throw invalidRequest('This value must be greater than or equal to 1 and less than or equal to 100.', {
      param: 'limit',
    });
  const page = str(params, 'page');
  const skip = page === undefined ? 0 : Number(/^page_(\d+)$/.exec(page)?.[1] ?? Number.NaN);
  if (!Number.isInteger(skip)) throw invalidRequest(`Invalid page: ${page}`, { param: 'page' });
  const found = items.filter((o) => clauses.every((c) => matches(o, c))).reverse();
  const data = found.slice(skip, skip + limit);
  const hasMore = skip + limit < found.length;
  return { object: 'search_result', data, has_more: hasMore, next_page: hasMore ? `page_${skip + limit}` : null, url };
}
