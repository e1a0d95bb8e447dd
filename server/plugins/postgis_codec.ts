// PostGraphile has no codec for PostGIS types and warns at every schema build.
// Spots' geography column is hidden from the API (lat/lng are computed fields),
// so an opaque codec that only names the type is all it needs.
import { sql } from 'postgraphile/pg-sql2';

const POSTGIS_TYPES = new Set(['geography', 'geometry']);

export const PostgisCodecPlugin: GraphileConfig.Plugin = {
  name: 'PostgisCodecPlugin',
  version: '1.0.0',
  before: ['PgCodecsPlugin'],
  gather: {
    hooks: {
      pgCodecs_findPgCodec(_info, event) {
        const { pgType } = event;
        if (event.pgCodec || !POSTGIS_TYPES.has(pgType.typname)) return;
        const schema = pgType.getNamespace()?.nspname ?? 'public';
        event.pgCodec = {
          name: pgType.typname,
          sqlType: sql.identifier(schema, pgType.typname),
          fromPg: (value: string) => value,
          toPg: (value: string) => value,
          attributes: undefined,
          executor: null,
          extensions: {
            oid: pgType._id,
            pg: { serviceName: event.serviceName, schemaName: schema, name: pgType.typname },
          },
        };
      },
    },
  },
  schema: {
    hooks: {
      // Claim a GraphQL type so the schema build does not warn; no field uses it.
      init(_, build) {
        for (const codec of Object.values(build.input.pgRegistry.pgCodecs)) {
          if (POSTGIS_TYPES.has(codec.name)) build.setGraphQLTypeForPgCodec(codec, ['input', 'output'], 'String');
        }
        return _;
      },
    },
  },
};
