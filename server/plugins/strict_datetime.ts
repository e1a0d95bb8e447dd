// Datetime inputs must be ISO 8601 / RFC 3339 date-times with a UTC offset.
// PostGraphile passes the string to PostgreSQL as it is, and PostgreSQL also
// reads words such as 'yesterday', 'epoch' or 'infinity' and six-digit years:
// a client would get an answer for a value it never meant. A date-time without
// an offset PostgreSQL reads in the session's zone (UTC), while the client most
// likely meant the spot's wall clock (New York): the booking would move by
// hours. Both refused here instead, before execution, with the validation code
// every malformed argument gets.
import { GraphQLError, Kind, type ValueNode } from 'postgraphile/graphql';

/** A date, or a date and time (T or a space) with optional fraction, then the zone (group 1). */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

function refused(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
}

function checked(value: unknown): string {
  const match = typeof value === 'string' ? ISO_8601.exec(value) : null;
  const shown = JSON.stringify(value)?.slice(0, 40) ?? String(value);
  if (!match) throw refused(`Datetime must be an ISO 8601 date-time such as 2026-12-03T10:00:00Z, not ${shown}`);
  if (!match[1])
    throw refused(
      `Datetime needs a UTC offset, Z or ±hh:mm (such as 2026-12-03T17:00:00Z or 2026-12-03T17:00:00-05:00), not ${shown}`,
    );
  return value as string;
}

export const StrictDatetimePlugin: GraphileConfig.Plugin = {
  name: 'StrictDatetimePlugin',
  version: '1.0.0',
  schema: {
    hooks: {
      GraphQLScalarType(config) {
        if (config.name !== 'Datetime') return config;
        const { parseValue, parseLiteral } = config;
        return {
          ...config,
          // PostGraphile's own says non-conforming values "may be coerced": not here.
          description:
            'A point in time: an ISO 8601 / RFC 3339 date-time with a UTC offset, Z or ±hh:mm, such as 2026-12-03T17:00:00Z or 2026-12-03T12:00:00-05:00. A date-time without an offset, a date alone, or a word such as `yesterday` is refused (GRAPHQL_VALIDATION_FAILED).',
          parseValue: (value: unknown) => (parseValue ? parseValue(checked(value)) : checked(value)),
          parseLiteral: (ast: ValueNode, variables?: Record<string, unknown> | null) => {
            checked(ast.kind === Kind.STRING ? ast.value : undefined);
            return parseLiteral ? parseLiteral(ast, variables) : (ast as { value: string }).value;
          },
        };
      },
    },
  },
};
