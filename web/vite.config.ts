// Vite settings of the web app, shared by `npm run web:build` (vite build web)
// and by the development server that `npm start` runs (cli/web_dev_server.ts),
// which adds the proxy to the API.
import { defineConfig } from 'vite';

export default defineConfig({
  // Preact's automatic JSX runtime (Vite 8 transforms with oxc, not esbuild).
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 400 },
  // Only these reach the bundle, so configuration is read at build (and dev-server start) time.
  envPrefix: 'SMS_WEB_',
  clearScreen: false,
});
