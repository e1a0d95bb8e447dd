// PostGraphile reads a `time` as to_char(date '1970-01-01' + t, …), which
// turns 24:00 (a rate's "closes at midnight at the end of the day",
// rate_hours.closes) into 00:00: rateHours then read as closing before they
// open, and sending the hours back as read was refused. Here 24:00 stays 24:00.
import { TYPES } from 'postgraphile/@dataplan/pg';
import { sql, type SQL } from 'postgraphile/pg-sql2';

function castFromPg(frag: SQL): SQL {
  return sql`case when ${frag} = time '24:00' then '24:00:00.000000' else to_char(date '1970-01-01' + ${frag}, 'HH24:MI:SS.US') end`;
}

export const TimeCodecPlugin: GraphileConfig.Plugin = {
  name: 'TimeCodecPlugin',
  version: '1.0.0',
  before: ['PgCodecsPlugin'],
  gather: {
    hooks: {
      pgCodecs_findPgCodec(_info, event) {
        const { pgType } = event;
        if (event.pgCodec || pgType.typname !== 'time' || pgType.getNamespace()?.nspname !== 'pg_catalog') return;
        // Lists of times are read with PostgreSQL's own text form, which keeps 24:00 too.
        event.pgCodec = { ...TYPES.time, castFromPg, listCastFromPg: undefined };
      },
    },
  },
  schema: {
    hooks: {
      // The built-in codec's GraphQL type (Time) is registered for that codec object only.
      init(_, build) {
        for (const codec of Object.values(build.input.pgRegistry.pgCodecs)) {
          if (codec !== TYPES.time && codec.name === 'time')
            build.setGraphQLTypeForPgCodec(codec, ['input', 'output'], 'Time');
        }
        return _;
      },
    },
  },
};
