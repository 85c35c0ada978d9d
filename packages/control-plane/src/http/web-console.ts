/**
 * The web console (packages/web, built by Vite into `dist/`), served at `/` next to the API: hashed
 * assets under `/assets/` are cached for a year, `index.html` is revalidated on every load, and any
 * other GET of a non-API path that accepts HTML answers `index.html` (the console routes in the page).
 * Assets are sent brotli- or gzip-compressed when the build wrote those files and the browser accepts them.
 * Every answer carries the security headers below: the console runs no inline script and no style
 * attribute (only the terminal's run-time `<style>` elements) and talks only to this origin.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The console's Content-Security-Policy. `style-src-elem` also admits inline `<style>` elements: the
 * serial console's terminal (xterm.js) sizes its rows and colours through `<style>` elements it writes
 * at run time and cannot carry a nonce. Style attributes stay refused (`style-src 'self'`), scripts
 * stay `'self'` only, and images, fonts and connections stay on this origin, so a style cannot send
 * anything elsewhere.
 */
export const contentSecurityPolicy =
  "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; style-src-elem 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Headers of every answer. */
export const securityHeaders: Readonly<Record<string, string>> = {
  'content-security-policy': contentSecurityPolicy,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

/** The workspace's built console (`packages/web/dist`), when it was built. */
export function workspaceWebDir(): string | null {
  const dir = fileURLToPath(new URL('../../../web/dist', import.meta.url));
  return existsSync(join(dir, 'index.html')) ? dir : null;
}

/** Paths that are never the console's: the API, the servers' own routes, the OpenAPI document. */
function isApiPath(path: string): boolean {
  return path.startsWith('/v1/') || path === '/v1' || path === '/openapi.json' || path === '/healthz';
}

/** Adds the security headers to every answer (call before the routes are registered). */
export function addSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    for (const [name, value] of Object.entries(securityHeaders)) if (!reply.hasHeader(name)) reply.header(name, value);
    return payload;
  });
}

/** Serves the console from `dir`; answers `index.html` for the console's own paths. */
export async function registerWebConsole(app: FastifyInstance, dir: string): Promise<void> {
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    index: false,
    wildcard: false,
    // The build writes .br and .gz beside each asset (scripts/web-build.mjs): sent when accepted.
    preCompressed: true,
    cacheControl: false,
    setHeaders: (reply, path) => {
      reply.header('cache-control', path.includes(`${join('/', 'assets', '/')}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
}

/** Whether a request that found no route should get the console's `index.html`. */
export function wantsConsolePage(request: FastifyRequest): boolean {
  const path = request.url.split('?')[0] ?? '/';
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  if (isApiPath(path) || path.startsWith('/assets/')) return false;
  const accept = request.headers.accept ?? '';
  return accept.includes('text/html') || accept.includes('*/*') || accept === '';
}

/** Answers the console's `index.html` (never cached: it names the current hashed assets). */
export function sendConsolePage(reply: FastifyReply): FastifyReply {
  reply.header('cache-control', 'no-cache');
  return reply.type('text/html; charset=utf-8').sendFile('index.html');
}
