/**
 * Bearer-token authentication of the user API. Paths the servers themselves call (netboot, images,
 * the agent API) are not under it: they carry their own one-time or per-session tokens.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LifeboatError, may, type Action, type Principal } from '@lifeboat/core';
import type { Store } from '../store/store.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller, set for user API routes. */
    principal: Principal | null;
  }
}

const publicPrefixes = ['/v1/agent/', '/v1/boot/', '/v1/images/'];

/** Whether a path needs an API token. */
export function needsApiToken(url: string): boolean {
  const path = url.split('?')[0] ?? url;
  return path.startsWith('/v1/') && !publicPrefixes.some((p) => path.startsWith(p));
}

/** The bearer token of a request, if any. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = header === undefined ? null : /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

/** Resolves the caller of every user API request; answers 401 without a valid token. */
export function registerAuth(app: FastifyInstance, store: Store): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request) => {
    if (!needsApiToken(request.url)) return;
    const token = bearerToken(request);
    if (token === undefined) throw new LifeboatError('UNAUTHORIZED', 'missing API token: send "Authorization: Bearer <token>" (LIFEBOAT_TOKEN for the CLI)');
    const principal = await store.tokens.authenticate(token);
    if (!principal) throw new LifeboatError('UNAUTHORIZED', 'unknown or revoked API token');
    request.principal = principal;
  });
}

/** The caller, or 401. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new LifeboatError('UNAUTHORIZED', 'missing API token');
  return request.principal;
}

/** The caller when allowed to perform `action`, or 403. */
export function authorize(request: FastifyRequest, action: Action): Principal {
  const principal = principalOf(request);
  if (!may(principal, action)) throw new LifeboatError('FORBIDDEN', `a ${principal.role} token may not do this`);
  return principal;
}
