/**
 * Authentication of the user API: a bearer API token, or a browser session's cookie. Paths the
 * servers themselves call (netboot, images, the agent API) are not under it: they carry their own
 * one-time or per-session tokens; `POST /v1/auth/sign-in` is open (it is how a session starts).
 *
 * A cookie is sent by the browser on its own, so a cookie-authenticated unsafe request (POST, PUT,
 * PATCH, DELETE) must also carry the session's CSRF token in `X-CSRF-Token`, which a page of another
 * site cannot read. Bearer tokens are never sent on their own and need no such header.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LifeboatError, csrfHeader, may, sessionActor, sessionCookieName, type Action, type Principal } from '@lifeboat/core';
import type { Store } from '../store/store.js';
import type { BrowserSession, SessionLifetime, SignInLimit } from '../store/users.js';
import { clientAddress, refuseWhenLimited, type RateLimiter } from './rate-limiter.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller, set for user API routes. */
    principal: Principal | null;
    /** The browser session when the request was authenticated by its cookie. */
    browserSession: BrowserSession | null;
  }
}

/** How browser sessions behave. */
export interface AccountSettings {
  readonly sessionLifetime: SessionLifetime;
  /** `auto`: the cookie is `Secure` when the request came over HTTPS; `always`: behind a TLS proxy. */
  readonly secureCookies: 'auto' | 'always';
  readonly signInLimit: SignInLimit;
}

/** The defaults: sessions end after 12 h unused or 7 days; 5 failed sign-ins per 15 min per name and per address. */
export const defaultAccountSettings: AccountSettings = Object.freeze({
  sessionLifetime: Object.freeze({ idleMs: 12 * 3_600_000, maxMs: 7 * 86_400_000 }),
  secureCookies: 'auto' as const,
  signInLimit: Object.freeze({ failures: 5, windowMs: 15 * 60_000 }),
});

const publicPrefixes = ['/v1/agent/', '/v1/boot/', '/v1/images/'];
const publicPaths = new Set(['/v1/auth/sign-in']);
const unsafeMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Whether a path needs an API token or a browser session. */
export function needsApiToken(url: string): boolean {
  const path = url.split('?')[0] ?? url;
  return path.startsWith('/v1/') && !publicPaths.has(path) && !publicPrefixes.some((p) => path.startsWith(p));
}

/** The bearer token of a request, if any. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = header === undefined ? null : /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

/** The value of the session cookie, if the request has one. */
export function sessionCookie(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === sessionCookieName) {
      const value = part.slice(eq + 1).trim();
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}

function cookieAttributes(request: FastifyRequest, settings: AccountSettings): string {
  const secure = settings.secureCookies === 'always' || request.protocol === 'https';
  return `HttpOnly; SameSite=Strict; Path=/${secure ? '; Secure' : ''}`;
}

/** Sets the session cookie (a session cookie for the browser: the server decides when it ends). */
export function setSessionCookie(request: FastifyRequest, reply: FastifyReply, value: string, settings: AccountSettings): void {
  reply.header('set-cookie', `${sessionCookieName}=${value}; ${cookieAttributes(request, settings)}`);
}

/** Tells the browser to forget the session cookie. */
export function clearSessionCookie(request: FastifyRequest, reply: FastifyReply, settings: AccountSettings): void {
  reply.header('set-cookie', `${sessionCookieName}=; Max-Age=0; ${cookieAttributes(request, settings)}`);
}

/** Compares two secrets in constant time (for equal lengths). */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Refuses (429 `RATE_LIMITED`) a request carrying a credential from an address that failed to
 * authenticate too often, before the credential is looked at.
 */
export async function refuseFailingAddress(request: FastifyRequest, reply: FastifyReply, failures: RateLimiter): Promise<void> {
  refuseWhenLimited(reply, await failures.waitMs(clientAddress(request)), 'failed authentications from this address');
}

/** Counts a failed authentication of the request's address. */
export async function countFailure(request: FastifyRequest, failures: RateLimiter): Promise<void> {
  await failures.spend(clientAddress(request));
}

/**
 * Resolves the caller of every user API request; answers 401 without a valid token or session, and
 * 429 to an address whose credentials failed too often (`failures`; a request without any credential
 * is not a failed authentication).
 */
export function registerAuth(app: FastifyInstance, store: Store, settings: AccountSettings, failures: RateLimiter): void {
  app.decorateRequest('principal', null);
  app.decorateRequest('browserSession', null);
  app.addHook('onRequest', async (request, reply) => {
    if (!needsApiToken(request.url)) return;
    const token = bearerToken(request);
    if (token !== undefined || sessionCookie(request) !== undefined) await refuseFailingAddress(request, reply, failures);
    if (token !== undefined) {
      const principal = await store.tokens.authenticate(token);
      if (!principal) {
        await countFailure(request, failures);
        throw new LifeboatError('UNAUTHORIZED', 'unknown or revoked API token');
      }
      request.principal = principal;
      return;
    }
    const cookie = sessionCookie(request);
    if (cookie === undefined) {
      throw new LifeboatError('UNAUTHORIZED', 'missing API token: send "Authorization: Bearer <token>" (LIFEBOAT_TOKEN for the CLI), or sign in');
    }
    const session = await store.browserSessions.authenticate(cookie, settings.sessionLifetime);
    if (!session) {
      await countFailure(request, failures);
      clearSessionCookie(request, reply, settings);
      throw new LifeboatError('UNAUTHORIZED', 'your session has ended: sign in again');
    }
    if (unsafeMethods.has(request.method)) {
      const given = request.headers[csrfHeader];
      if (typeof given !== 'string' || !sameSecret(given, session.csrfToken)) {
        throw new LifeboatError('CSRF_FAILED', 'this request needs the X-CSRF-Token header of your session (GET /v1/auth/session gives it): reload the page');
      }
    }
    request.browserSession = session;
    request.principal = { tokenId: sessionActor(session.user.name), role: session.user.role, tenantId: session.user.tenantId, user: session.user.name };
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
  if (!may(principal, action)) throw new LifeboatError('FORBIDDEN', `a ${principal.role} ${principal.user === undefined ? 'token' : 'user'} may not do this`);
  return principal;
}
