// The API's schema as committed in data/schema.graphql, which test/schema.test.ts
// keeps identical to what PostGraphile builds. Tests read the API's shape here:
// the test APIs run as in production, with introspection off (SMQ06).
import { readFileSync } from 'node:fs';
import { buildSchema, type GraphQLSchema } from 'postgraphile/graphql';

let schema: GraphQLSchema | undefined;

export function committedSchema(): GraphQLSchema {
  schema ??= buildSchema(readFileSync(new URL('../../data/schema.graphql', import.meta.url), 'utf8'));
  return schema;
}
