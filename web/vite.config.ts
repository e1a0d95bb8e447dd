// Vite settings of the web app, shared by `npm run web:build` (vite build web)
// and by the development server that `npm start` runs (cli/web_dev_server.ts),
// which adds the proxy to the API.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const WEB = fileURLToPath(new URL('.', import.meta.url));
/** The packages the app imports (and theirs): all the dev server reads from node_modules. */
const PACKAGES = ['preact', 'leaflet', '@urql/core', '@0no-co/graphql.web', 'wonka'];

export default defineConfig({
  // Preact's automatic JSX runtime (Vite 8 transforms with oxc, not esbuild).
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 400 },
  // Only these reach the bundle, so configuration is read at build (and dev-server start) time.
  envPrefix: 'SMS_WEB_',
  clearScreen: false,
  // The dev server serves web/ and the app's packages, not the rest of the repository
  // (server/, .env files, …: `/@fs/<path>` would read any file under the default allow
  // list, the whole repository). Vite adds its own client.
  server: {
    fs: {
      strict: true,
      allow: [WEB, ...PACKAGES.map((name) => fileURLToPath(new URL(`../node_modules/${name}`, import.meta.url)))],
    },
  },
});
