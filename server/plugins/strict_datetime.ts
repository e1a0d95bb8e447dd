// Datetime inputs must be ISO 8601 / RFC 3339 date-times. PostGraphile passes
// the string to PostgreSQL as it is, and PostgreSQL also reads words such as
// 'yesterday', 'epoch' or 'infinity' and six-digit years: a client would get an
// answer for a value it never meant. Refused here instead, before execution,
// with the validation code every malformed argument gets.
import { GraphQLError, Kind, type ValueNode } from 'postgraphile/graphql';

/** A date, or a date and time (T or a space) with optional fraction and zone. */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

function checked(value: unknown): string {
  if (typeof value !== 'string' || !ISO_8601.test(value)) {
    const shown = JSON.stringify(value)?.slice(0, 40) ?? String(value);
    throw new GraphQLError(`Datetime must be an ISO 8601 date-time such as 2026-12-03T10:00:00Z, not ${shown}`, {
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
  }
  return value;
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
