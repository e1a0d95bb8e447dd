import { makeSchema } from 'postgraphile';
import { printSchema } from 'postgraphile/graphql';
import { makePreset } from '../server/graphile.config.ts';
import { dbUrls } from '../cli/db__env.ts';
const { schema, resolvedPreset } = await makeSchema(makePreset({ authUrl: dbUrls().authenticator, isDev: false, pgSettings: () => ({}) }));
console.log(printSchema(schema));
await (resolvedPreset as any).pgServices?.[0]?.release?.();
process.exit(0);
