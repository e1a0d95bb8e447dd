// `npm run api`: the API alone (the worker runs apart with `npm run worker`).
import { makeApp, listen } from './app.ts';
import { loadConfig } from './config.ts';

const config = loadConfig();
const handle = await makeApp(config);
const port = await listen(handle, config.port, config.host);
console.log(`GraphQL API: http://${config.host}:${port}/graphql`);
const stop = async () => {
  await handle.close();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
