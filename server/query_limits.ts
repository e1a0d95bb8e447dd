// What one GraphQL request may cost, checked in layers so that no single request
// can hold the API or the database for long (README, *Limits*):
//
// 1. Before anything runs, a validation rule measures the operation (fragments
//    expanded): its depth (SMQ01), its aliases (SMQ02) and its size — fields
//    selected, and the rows its connections could return, each page size
//    multiplied by the page sizes around it (SMQ03). Introspection, when turned
//    off, is refused there too (SMQ06).
// 2. While planning, every connection's page size is bounded: `first`/`last`
//    from 0 to 100, `offset` not negative (SMQ04), and 100 when neither is given.
// 3. In the database, app_authenticator's statement_timeout (migrations/afterReset.sql)
//    cancels any statement still running after 15 s (57014).
//
// Rules 1 and 2 live in the schema's preset (grafserv's validation rules, a schema
// plugin), not in Express, so they hold for every transport grafserv serves:
// HTTP bodies of every type and GraphQL over websockets alike. Batches (a JSON
// array of operations; grafserv runs one operation per request) are refused with
// SMQ05, and so every request is one operation, measured as above.
import {
  type ASTVisitor,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLNamedType,
  getNamedType,
  isInterfaceType,
  isObjectType,
  Kind,
  NoSchemaIntrospectionCustomRule,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'postgraphile/graphql';
import { constant, lambda } from 'postgraphile/grafast';
import { CodedError } from './errors.ts';

export const QUERY_LIMITS = {
  /** Fields nested in fields: `{ a { b { c } } }` is 3 deep. */
  maxDepth: 10,
  /** Aliased fields in one operation. */
  maxAliases: 20,
  /** Field selections in one operation, counted once per place they appear after fragments are expanded. */
  maxFields: 250,
  /** Rows the operation's connections could return: each connection's page size times those around it. */
  maxRows: 2000,
  /** Largest `first`/`last` on any connection, and the page size when neither is given. */
  maxPageSize: 100,
  /**
   * Braces, brackets and parentheses nested in the document text, checked before it is
   * parsed: graphql-js parses recursively, and a few thousand levels exhaust the stack.
   */
  maxNesting: 64,
} as const;

function refusal(code: string, message: string, node?: OperationDefinitionNode | FieldNode): GraphQLError {
  return new GraphQLError(message, { nodes: node ? [node] : undefined, extensions: { code } });
}

interface Measure {
  depth: number;
  aliases: number;
  fields: number;
  rows: number;
}

/** The page size a connection field asks for, as far as can be told before the variables are known. */
function pageSizeOf(field: FieldNode): number {
  let size: number = QUERY_LIMITS.maxPageSize;
  for (const arg of field.arguments ?? []) {
    if ((arg.name.value === 'first' || arg.name.value === 'last') && arg.value.kind === Kind.INT) {
      // A size past the maximum is refused later (SMQ04); here it must not hide a cost.
      size = Math.min(Math.max(Number(arg.value.value), 0), QUERY_LIMITS.maxPageSize);
    }
  }
  return size;
}

function isConnection(type: GraphQLNamedType): boolean {
  return isObjectType(type) && 'pageInfo' in type.getFields() && 'nodes' in type.getFields();
}

/**
 * Measures an operation as if its fragments were expanded, without expanding
 * them: each fragment is measured once and its measure reused at every spread.
 * Expanding is exponential — a fragment spreading the next one twice, 20 deep,
 * is a million fields from under a kilobyte of query — and this rule runs
 * before any limit can refuse the operation. Introspection fields (`__schema`,
 * `__type`) are not measured: they read the schema, not the database, and are
 * off in production (Ruru's own introspection query is deeper than any data
 * query needs).
 */
function measure(context: ValidationContext, operation: OperationDefinitionNode): Measure {
  const schema = context.getSchema();
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of context.getDocument().definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const measured = new Map<string, Measure>();
  // Fragment cycles are another rule's error; a fragment met again inside itself counts nothing.
  const measuring = new Set<string>();
  const none = (): Measure => ({ depth: 0, aliases: 0, fields: 0, rows: 0 });

  /** A selection set's measure where it stands: depth from its own fields (1), rows for one row around it. */
  const measureSet = (set: SelectionSetNode, parent: GraphQLNamedType | undefined): Measure => {
    const m = none();
    const add = (part: Measure) => {
      m.depth = Math.max(m.depth, part.depth);
      m.aliases += part.aliases;
      m.fields += part.fields;
      m.rows += part.rows;
    };
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        if (name === '__schema' || name === '__type') continue;
        const fieldDef =
          parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[name] : undefined;
        const type = fieldDef ? getNamedType(fieldDef.type) : undefined;
        // A connection's rows are its page size, and every row repeats what is selected under it.
        const page = type && isConnection(type) ? pageSizeOf(selection) : 0;
        const inner = selection.selectionSet ? measureSet(selection.selectionSet, type) : none();
        add({
          depth: 1 + inner.depth,
          aliases: (selection.alias ? 1 : 0) + inner.aliases,
          fields: 1 + inner.fields,
          rows: page + (page || 1) * inner.rows,
        });
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        add(measureSet(selection.selectionSet, type ?? parent));
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (!fragment || measuring.has(name)) continue;
        let part = measured.get(name);
        if (!part) {
          measuring.add(name);
          part = measureSet(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value) ?? parent);
          measuring.delete(name);
          measured.set(name, part);
        }
        add(part);
      }
    }
    return m;
  };
  const root =
    operation.operation === 'query'
      ? schema.getQueryType()
      : operation.operation === 'mutation'
        ? schema.getMutationType()
        : schema.getSubscriptionType();
  return measureSet(operation.selectionSet, root ?? undefined);
}

const OPENS = new Set(['{', '[', '(']);
const CLOSES = new Set(['}', ']', ')']);

/**
 * Whether the document's braces, brackets and parentheses (outside strings and
 * comments) nest deeper than QUERY_LIMITS.maxNesting. A lexical count, so that a
 * document too deep to parse is refused (SMQ01) instead of overflowing the parser.
 */
export function nestsTooDeep(source: string): boolean {
  let depth = 0;
  for (let i = 0; i < source.length; i += 1) {
    const c = source[i];
    if (c === '#') {
      while (i < source.length && source[i] !== '\n' && source[i] !== '\r') i += 1;
    } else if (c === '"' && source.startsWith('"""', i)) {
      // A block string ends at the first """ not escaped as \""".
      i += 3;
      while (i < source.length && !(source.startsWith('"""', i) && source[i - 1] !== '\\')) i += 1;
      i += 2;
    } else if (c === '"') {
      i += 1;
      while (i < source.length && source[i] !== '"' && source[i] !== '\n') i += source[i] === '\\' ? 2 : 1;
    } else if (OPENS.has(c)) {
      depth += 1;
      if (depth > QUERY_LIMITS.maxNesting) return true;
    } else if (CLOSES.has(c)) {
      depth -= 1;
    }
  }
  return false;
}

/** The refusal of a document nesting deeper than nestsTooDeep allows. */
export function nestingRefused(): GraphQLError {
  return refusal(
    'SMQ01',
    `This query nests more than ${QUERY_LIMITS.maxNesting} levels of braces, brackets or parentheses; fields at most ${QUERY_LIMITS.maxDepth} deep are allowed`,
  );
}

/** The validation rule for depth, aliases and size (SMQ01–SMQ03). */
export const QueryCostRule: ValidationRule = (context: ValidationContext): ASTVisitor => ({
  OperationDefinition(operation) {
    const m = measure(context, operation);
    const L = QUERY_LIMITS;
    if (m.depth > L.maxDepth) {
      context.reportError(
        refusal('SMQ01', `This query nests fields ${m.depth} deep; at most ${L.maxDepth} are allowed`, operation),
      );
    } else if (m.aliases > L.maxAliases) {
      context.reportError(
        refusal('SMQ02', `This query uses ${m.aliases} aliases; at most ${L.maxAliases} are allowed`, operation),
      );
    } else if (m.fields > L.maxFields || m.rows > L.maxRows) {
      context.reportError(
        refusal(
          'SMQ03',
          `This query is too big: at most ${L.maxFields} fields and ${L.maxRows} rows (page sizes multiplied through nested connections)`,
          operation,
        ),
      );
    }
    return false;
  },
});

/** Introspection off: `__schema` and `__type` refused (SMQ06); `__typename` stays. */
const NoIntrospectionRule: ValidationRule = (context) => {
  const inner = NoSchemaIntrospectionCustomRule(
    new Proxy(context, {
      get(target, key) {
        if (key === 'reportError') {
          return () =>
            target.reportError(refusal('SMQ06', 'Introspection is turned off on this server (GRAPHQL_INTROSPECTION)'));
        }
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }),
  );
  return inner;
};

/** The page size a connection reads: `first` (or `last`) checked, else the maximum. */
function checkedPageSize([first, last]: readonly [unknown, unknown]): number | null {
  for (const value of [first, last]) {
    if (value != null && (typeof value !== 'number' || value < 0 || value > QUERY_LIMITS.maxPageSize)) {
      throw new CodedError('SMQ04', `first and last must be from 0 to ${QUERY_LIMITS.maxPageSize}`);
    }
  }
  if (first != null) return first as number;
  return last == null ? QUERY_LIMITS.maxPageSize : null;
}

function checkedOffset(offset: unknown): unknown {
  if (offset != null && (typeof offset !== 'number' || offset < 0))
    throw new CodedError('SMQ04', 'offset must not be negative');
  return offset;
}

function checkedLast(last: unknown): unknown {
  checkedPageSize([null, last]);
  return last;
}

/**
 * Layer 2 (SMQ04): `first` no longer applies itself; the connection's plan sets
 * its page size once every argument is applied, from `first` and `last` checked
 * at run time (variables included), and the maximum when both are absent.
 */
export const PageSizePlugin: GraphileConfig.Plugin = {
  name: 'PageSizePlugin',
  version: '1.0.0',
  after: ['PgFirstLastBeforeAfterArgsPlugin'],
  schema: {
    hooks: {
      GraphQLObjectType_fields_field_args(args, _build, context) {
        if (!context.scope.isPgFieldConnection) return args;
        const bounded = { ...args } as Record<string, any>;
        if (bounded.first) bounded.first = { ...bounded.first, applyPlan() {} };
        if (bounded.last) {
          bounded.last = {
            ...bounded.last,
            applyPlan(_$p: any, $connection: any, value: any) {
              $connection.setLast(lambda(value.getRaw(), checkedLast, false));
            },
          };
        }
        if (bounded.offset) {
          bounded.offset = {
            ...bounded.offset,
            applyPlan(_$p: any, $connection: any, value: any) {
              $connection.setOffset(lambda(value.getRaw(), checkedOffset, false));
            },
          };
        }
        return bounded as typeof args;
      },
      GraphQLObjectType_fields_field(field, _build, context) {
        const plan = field.plan as ((...a: any[]) => any) | undefined;
        if (!context.scope.isPgFieldConnection || !plan) return field;
        return {
          ...field,
          plan(this: unknown, $parent: any, fieldArgs: any, info: any) {
            const $connection = plan.call(this, $parent, fieldArgs, info);
            fieldArgs.autoApply($connection);
            const hasFirst = (info as { field?: { args?: Array<{ name: string }> } } | undefined)?.field?.args?.some(
              (a) => a.name === 'first',
            );
            const $first = hasFirst ? fieldArgs.getRaw('first') : constant(null);
            $connection.setFirst(lambda([$first, $connection.getLast() ?? constant(null)], checkedPageSize, false));
            return $connection;
          },
        } as typeof field;
      },
    },
  },
};

export interface QueryLimitOptions {
  /** GRAPHQL_INTROSPECTION: `__schema`/`__type` answered (development) or refused with SMQ06. */
  introspection: boolean;
  /** Whether a client may ask for `extensions.explain` (header X-PostGraphile-Explain: on). */
  explainAllowed: boolean;
}

const EXPLAIN_HEADER = 'x-postgraphile-explain';

/** Whether this request asked for the plan and SQL: Ruru's header over HTTP, the same connection parameter over websockets. */
function wantsExplain(requestContext: Partial<Grafast.RequestContext> | undefined): boolean {
  const http = (requestContext as { http?: { getHeader?(name: string): string | undefined } } | undefined)?.http;
  const ws = (requestContext as { ws?: { normalizedConnectionParams?: Record<string, unknown> } } | undefined)?.ws;
  const asked = http?.getHeader?.(EXPLAIN_HEADER) ?? ws?.normalizedConnectionParams?.[EXPLAIN_HEADER];
  return asked === 'on';
}

/**
 * The preset plugin for layers 1 and 2 plus explain on request: its validation
 * rules are grafserv's, used for every transport, and the explain switch is a
 * grafast middleware, decided per request (never from a shared setting).
 */
export function makeQueryLimitsPlugin(options: QueryLimitOptions): GraphileConfig.Plugin {
  return {
    name: 'QueryLimitsPlugin',
    version: '1.0.0',
    grafserv: {
      middleware: {
        setPreset(next, dynamicOptions) {
          dynamicOptions.validationRules.push(QueryCostRule);
          if (!options.introspection) dynamicOptions.validationRules.push(NoIntrospectionRule);
          return next();
        },
      },
    },
    grafast: {
      middleware: {
        execute(next, event) {
          const preset = event.args.resolvedPreset;
          const explain = options.explainAllowed && wantsExplain(event.args.requestContext);
          if (preset) event.args.resolvedPreset = { ...preset, grafast: { ...preset.grafast, explain } };
          return next();
        },
      },
    },
  };
}
