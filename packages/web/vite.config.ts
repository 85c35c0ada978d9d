/**
 * Vite build of the console. No inline scripts or styles end up in index.html (the control plane's
 * CSP forbids them); hashed assets under /assets/ are cached for a year by the control plane.
 */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // A modulepreload polyfill would be an inline script; every supported browser has modulepreload.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: {
    proxy: { '/v1': { target: process.env.LIFEBOAT_URL ?? 'http://127.0.0.1:8080', changeOrigin: false } },
  },
});
