/**
 * Accounts (issue 13): sign-in and sign-out of browser sessions, a user's own account (e-mail address,
 * password, API tokens), and the operators' users. Every step is audited, never with a password.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { LifeboatError, passwordMaxLength, passwordMinLength, sessionActor, type Principal, type User, type UserView } from '@lifeboat/core';
import { newUserPassword } from '../credentials/user-password.js';
import type { Store } from '../store/store.js';
import type { AppOptions } from './app.js';
import { authorize, clearSessionCookie, principalOf, setSessionCookie, type AccountSettings } from './auth.js';
import {
  AccountAnswer,
  AccountUpdate,
  ErrorSchema,
  IdParams,
  NewOwnToken,
  NewUser,
  OwnTokenCreated,
  OwnTokenList,
  PasswordChange,
  SessionAnswer,
  SignIn,
  UserCreated,
  UserList,
  UserNameParams,
  errorResponses,
} from './schemas.js';

const responses = { ...errorResponses, 429: ErrorSchema };

/** A user as the API shows it. */
export async function userView(store: Store, user: User): Promise<UserView> {
  const tenant = user.tenantId === null ? undefined : await store.tenants.byId(user.tenantId);
  return { name: user.name, role: user.role, tenant: tenant?.name ?? null, email: user.email, createdAt: user.createdAt.toISOString() };
}

/** `PASSWORD_WEAK` unless a chosen password's length is within the bounds. */
export function checkNewPassword(password: string): void {
  const length = [...password].length;
  if (length < passwordMinLength) throw new LifeboatError('PASSWORD_WEAK', `a password has at least ${passwordMinLength} characters`);
  if (length > passwordMaxLength) throw new LifeboatError('PASSWORD_WEAK', `a password has at most ${passwordMaxLength} characters`);
}

/** Account routes. */
export function accountRoutes(options: AppOptions, settings: AccountSettings): FastifyPluginAsync {
  const { store } = options;
  const limit = settings.signInLimit;

  /** The user behind the request (a browser session's or a user's own token), or `USER_NOT_FOUND`. */
  async function callerUser(request: FastifyRequest): Promise<{ principal: Principal; user: User }> {
    const principal = principalOf(request);
    const user = request.browserSession?.user ?? (principal.user === undefined ? undefined : await store.users.byName(principal.user));
    if (!user) throw new LifeboatError('USER_NOT_FOUND', 'this API token belongs to no user (an operator token): sign in as a user for account settings');
    return { principal, user };
  }

  function rateLimitKeys(request: FastifyRequest, name: string): string[] {
    return [`name:${name.toLowerCase()}`, `address:${request.ip}`];
  }

  /** `RATE_LIMITED` with `Retry-After` when these keys had too many failures. */
  async function checkRateLimit(request: FastifyRequest, reply: FastifyReply, keys: readonly string[], name: string): Promise<void> {
    const waitMs = await store.signInFailures.retryAfterMs(keys, limit);
    if (waitMs <= 0) return;
    const seconds = Math.ceil(waitMs / 1000);
    reply.header('retry-after', String(seconds));
    await store.audit.record('anonymous', 'auth.sign_in_limited', { detail: { name, address: request.ip } });
    throw new LifeboatError('RATE_LIMITED', `too many failed sign-ins: try again in ${Math.ceil(seconds / 60)} min`);
  }

  return async (app) => {
    app.post<{ Body: SignIn }>(
      '/v1/auth/sign-in',
      { schema: { tags: ['auth'], security: [], body: SignIn, response: { 200: SessionAnswer, ...responses } } },
      async (request, reply) => {
        const { name, password } = request.body;
        const keys = rateLimitKeys(request, name);
        await checkRateLimit(request, reply, keys, name);
        const user = await store.users.verify(name, password);
        if (!user) {
          await store.signInFailures.record(keys, limit);
          await store.audit.record('anonymous', 'auth.sign_in_failed', { detail: { name, address: request.ip } });
          throw new LifeboatError('SIGN_IN_FAILED', 'wrong user name or password');
        }
        await store.signInFailures.clear(keys[0]!);
        const { cookieValue, session } = await store.browserSessions.create(user, settings.sessionLifetime);
        setSessionCookie(request, reply, cookieValue, settings);
        await store.audit.record(sessionActor(user.name), 'auth.sign_in', { tenantId: user.tenantId, detail: { sessionId: session.id, address: request.ip } });
        return { user: await userView(store, user), csrfToken: session.csrfToken };
      },
    );

    app.post('/v1/auth/sign-out', { schema: { tags: ['auth'], response: { 204: Type.Null(), ...responses } } }, async (request, reply) => {
      const session = request.browserSession;
      if (!session) throw new LifeboatError('UNAUTHORIZED', 'sign-out ends a browser session; an API token is revoked with DELETE /v1/account/tokens/{id}');
      await store.browserSessions.remove(session.id);
      clearSessionCookie(request, reply, settings);
      await store.audit.record(sessionActor(session.user.name), 'auth.sign_out', { tenantId: session.user.tenantId, detail: { sessionId: session.id } });
      return reply.status(204).send();
    });

    app.get('/v1/auth/session', { schema: { tags: ['auth'], response: { 200: SessionAnswer, ...responses } } }, async (request) => {
      const session = request.browserSession;
      if (!session) throw new LifeboatError('UNAUTHORIZED', 'no browser session: sign in');
      return { user: await userView(store, session.user), csrfToken: session.csrfToken };
    });

    app.get('/v1/account', { schema: { tags: ['account'], response: { 200: AccountAnswer, ...responses } } }, async (request) => {
      const { user } = await callerUser(request);
      return { user: await userView(store, user) };
    });

    app.put<{ Body: AccountUpdate }>('/v1/account', { schema: { tags: ['account'], body: AccountUpdate, response: { 200: AccountAnswer, ...responses } } }, async (request) => {
      const { principal, user } = await callerUser(request);
      const updated = await store.users.setEmail(user.id, request.body.email);
      await store.audit.record(principal.tokenId, 'account.update', { tenantId: user.tenantId, detail: { user: user.name, email: updated.email } });
      return { user: await userView(store, updated) };
    });

    app.post<{ Body: PasswordChange }>(
      '/v1/account/password',
      { schema: { tags: ['account'], body: PasswordChange, response: { 204: Type.Null(), ...responses } } },
      async (request, reply) => {
        const { principal, user } = await callerUser(request);
        checkNewPassword(request.body.new);
        // The current password is a sign-in of its own: a stolen session must not try passwords freely.
        const keys = rateLimitKeys(request, user.name);
        await checkRateLimit(request, reply, keys, user.name);
        if (!(await store.users.verify(user.name, request.body.current))) {
          await store.signInFailures.record(keys, limit);
          await store.audit.record(principal.tokenId, 'account.password_failed', { tenantId: user.tenantId, detail: { user: user.name } });
          throw new LifeboatError('SIGN_IN_FAILED', 'the current password is wrong');
        }
        await store.users.setPassword(user.id, request.body.new);
        const ended = await store.browserSessions.removeOthers(user.id, request.browserSession?.id ?? null);
        await store.audit.record(principal.tokenId, 'account.password', { tenantId: user.tenantId, detail: { user: user.name, sessionsEnded: ended } });
        return reply.status(204).send();
      },
    );

    app.get('/v1/account/tokens', { schema: { tags: ['account'], response: { 200: OwnTokenList, ...responses } } }, async (request) => {
      const { user } = await callerUser(request);
      return { tokens: (await store.tokens.listOwn(user.id)).map((t) => ({ id: t.id, name: t.name, createdAt: t.createdAt.toISOString() })) };
    });

    app.post<{ Body: NewOwnToken }>(
      '/v1/account/tokens',
      { schema: { tags: ['account'], body: NewOwnToken, response: { 201: OwnTokenCreated, ...responses } } },
      async (request, reply) => {
        const { principal, user } = await callerUser(request);
        const { token, record } = await store.tokens.create({ name: request.body.name, role: user.role, tenantId: user.tenantId, userId: user.id });
        await store.audit.record(principal.tokenId, 'token.create', { tenantId: user.tenantId, detail: { tokenId: record.id, role: record.role, user: user.name } });
        return reply.status(201).send({ id: record.id, name: record.name, token });
      },
    );

    app.delete<{ Params: IdParams }>(
      '/v1/account/tokens/:id',
      { schema: { tags: ['account'], params: IdParams, response: { 204: Type.Null(), ...responses } } },
      async (request, reply) => {
        const { principal, user } = await callerUser(request);
        if (!(await store.tokens.revokeOwn(request.params.id, user.id))) throw new LifeboatError('NOT_FOUND', `you have no token ${request.params.id}`);
        await store.audit.record(principal.tokenId, 'token.revoke', { tenantId: user.tenantId, detail: { tokenId: request.params.id, user: user.name } });
        return reply.status(204).send();
      },
    );

    app.get('/v1/users', { schema: { tags: ['users'], response: { 200: UserList, ...responses } } }, async (request) => {
      authorize(request, 'user.manage');
      const users = [];
      for (const user of await store.users.list()) users.push(await userView(store, user));
      return { users };
    });

    app.post<{ Body: NewUser }>('/v1/users', { schema: { tags: ['users'], body: NewUser, response: { 201: UserCreated, ...responses } } }, async (request, reply) => {
      const principal = authorize(request, 'user.manage');
      const body = request.body;
      if (body.role === 'customer' && body.tenant === undefined) throw new LifeboatError('BAD_REQUEST', 'a customer belongs to a tenant: give a tenant');
      if (body.role !== 'customer' && body.tenant !== undefined) {
        throw new LifeboatError('BAD_REQUEST', `a ${body.role} acts on every tenant: give no tenant`);
      }
      const tenant = body.tenant === undefined ? null : await store.tenants.byName(body.tenant);
      if (body.password !== undefined) checkNewPassword(body.password);
      const password = body.password ?? newUserPassword();
      const user = await store.users.add({ name: body.name, role: body.role, tenantId: tenant?.id ?? null, email: body.email ?? null, password });
      await store.audit.record(principal.tokenId, 'user.add', { tenantId: user.tenantId, detail: { name: user.name, role: user.role, passwordGenerated: body.password === undefined } });
      return reply.status(201).send({ user: await userView(store, user), ...(body.password === undefined ? { password } : {}) });
    });

    app.delete<{ Params: UserNameParams }>(
      '/v1/users/:name',
      { schema: { tags: ['users'], params: UserNameParams, response: { 204: Type.Null(), ...responses } } },
      async (request, reply) => {
        const principal = authorize(request, 'user.manage');
        const user = await store.users.byName(request.params.name);
        if (!user || !(await store.users.remove(user.id))) throw new LifeboatError('USER_NOT_FOUND', `no user named ${request.params.name}`);
        await store.audit.record(principal.tokenId, 'user.remove', { tenantId: user.tenantId, detail: { name: user.name, role: user.role } });
        return reply.status(204).send();
      },
    );
  };
}
