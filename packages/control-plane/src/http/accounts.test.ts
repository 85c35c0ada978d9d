import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { SecretBox } from '../credentials/secret-box.js';
import { powerDriverFactory } from '../drivers/power/index.js';
import { JobQueue } from '../jobs/job-queue.js';
import { createTestImages } from '../netboot/testing.js';
import { RescueService } from '../rescue/rescue-service.js';
import { Store } from '../store/store.js';
import { buildApp } from './app.js';
import { defaultAccountSettings } from './auth.js';
import { createLogger } from './logger.js';

/** What a browser holds after signing in: the cookie's `name=value` and the session's CSRF token. */
interface BrowserState {
  readonly cookie: string;
  readonly csrfToken: string;
  readonly setCookie: string;
}

describe('accounts and browser sessions (in-process)', { timeout: 600_000 }, () => {
  let dir: string;
  let store: Store;
  let app: FastifyInstance;
  let secureApp: FastifyInstance;
  let clock = new Date('2026-11-30T08:00:00.000Z');
  const advance = (ms: number) => (clock = new Date(clock.getTime() + ms));
  const stop = new AbortController();
  const images = createTestImages();
  let admin: string;
  const { idleMs, maxMs } = defaultAccountSettings.sessionLifetime;
  const windowMs = defaultAccountSettings.signInLimit.windowMs;

  type Answer = { status: number; headers: Record<string, unknown>; body: Record<string, any> | undefined };
  const send = async (
    method: string,
    url: string,
    auth: { token?: string; browser?: BrowserState; csrf?: string | null; address?: string } = {},
    body?: unknown,
    target: FastifyInstance = app,
  ): Promise<Answer> => {
    const headers: Record<string, string> = {};
    if (auth.token !== undefined) headers.authorization = `Bearer ${auth.token}`;
    if (auth.browser !== undefined) {
      headers.cookie = `theme=dark; ${auth.browser.cookie}`;
      const csrf = auth.csrf === undefined ? auth.browser.csrfToken : auth.csrf;
      if (csrf !== null) headers['x-csrf-token'] = csrf;
    }
    const response = await target.inject({
      method: method as 'GET',
      url,
      headers,
      remoteAddress: auth.address ?? '192.0.2.10',
      ...(body === undefined ? {} : { payload: body as object }),
    });
    return { status: response.statusCode, headers: response.headers, body: response.body ? (JSON.parse(response.body) as Record<string, any>) : undefined };
  };
  const signIn = async (name: string, password: string, address?: string, target?: FastifyInstance): Promise<BrowserState> => {
    const answer = await send('POST', '/v1/auth/sign-in', address === undefined ? {} : { address }, { name, password }, target);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const setCookie = String(answer.headers['set-cookie']);
    return { cookie: setCookie.split(';')[0]!, csrfToken: answer.body?.csrfToken, setCookie };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-accounts-'));
    store = await Store.open({
      databaseUrl: `sqlite:${join(dir, 'lifeboat.db')}`,
      secretBox: SecretBox.fromKeyFile(join(dir, 'secret.key')),
      deadlines: { requestMs: 60_000, rescueMs: 600_000, exitMs: 600_000 },
      now: () => clock,
    });
    const queue = new JobQueue(store.database.db, store.dialect, store.now);
    const rescue = new RescueService({ store, queue, lease: { defaultLeaseMs: 3_600_000, maxLeaseMs: 86_400_000 }, images: images.registry });
    const parts = { store, queue, rescue, powerDrivers: powerDriverFactory(), logger: createLogger('silent'), signal: stop.signal };
    app = await buildApp(parts);
    secureApp = await buildApp({ ...parts, accounts: { secureCookies: 'always' } });
    admin = (await store.tokens.create({ name: 'admin', role: 'operator', tenantId: null })).token;
    for (const tenant of ['acme', 'globex']) assert.equal((await send('POST', '/v1/tenants', { token: admin }, { name: tenant })).status, 201);
    for (const [name, tenant, mac] of [['web-1', 'acme', '52:54:00:ac:00:01'], ['db-1', 'globex', '52:54:00:9b:00:01']] as const) {
      const added = await send('POST', '/v1/servers', { token: admin }, { name, tenant, macs: [mac], bmc: { url: 'ipmi://127.0.0.1:6230', user: 'admin', password: 'pw' } });
      assert.equal(added.status, 201);
    }
  });
  after(async () => {
    stop.abort();
    await app?.close();
    await secureApp?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
    images.remove();
  });

  it('lets operators add, list and remove users; others may not', async () => {
    const alice = await send('POST', '/v1/users', { token: admin }, { name: 'alice', role: 'customer', tenant: 'acme', email: 'alice@acme.example', password: 'correct horse battery' });
    assert.equal(alice.status, 201, JSON.stringify(alice.body));
    assert.deepEqual(alice.body, { user: { name: 'alice', role: 'customer', tenant: 'acme', email: 'alice@acme.example', createdAt: clock.toISOString() } });
    const generated = await send('POST', '/v1/users', { token: admin }, { name: 'tom', role: 'technician' });
    assert.equal(generated.status, 201);
    assert.equal(typeof generated.body?.password, 'string');
    assert.ok((generated.body?.password as string).length >= 20);
    await signIn('tom', generated.body?.password);

    const refusals: Array<[unknown, number, string]> = [
      [{ name: 'bob', role: 'customer' }, 400, 'BAD_REQUEST'],
      [{ name: 'bob', role: 'operator', tenant: 'acme' }, 400, 'BAD_REQUEST'],
      [{ name: 'bob', role: 'customer', tenant: 'nowhere' }, 404, 'TENANT_NOT_FOUND'],
      [{ name: 'bob', role: 'customer', tenant: 'acme', password: 'short' }, 400, 'PASSWORD_WEAK'],
      [{ name: 'bob', role: 'customer', tenant: 'acme', password: 'x'.repeat(1025) }, 400, 'PASSWORD_WEAK'],
      [{ name: 'alice', role: 'customer', tenant: 'globex', password: 'another long password' }, 409, 'USER_EXISTS'],
      [{ name: 'no spaces', role: 'operator' }, 400, 'BAD_REQUEST'],
    ];
    for (const [body, status, code] of refusals) {
      const answer = await send('POST', '/v1/users', { token: admin }, body);
      assert.deepEqual([answer.status, answer.body?.code], [status, code], JSON.stringify(body));
    }
    const list = await send('GET', '/v1/users', { token: admin });
    assert.deepEqual(list.body?.users.map((u: { name: string; tenant: string | null }) => [u.name, u.tenant]), [['alice', 'acme'], ['tom', null]]);
    assert.ok(!JSON.stringify(list.body).includes('scrypt'));

    const aliceBrowser = await signIn('alice', 'correct horse battery');
    for (const [method, url] of [['GET', '/v1/users'], ['POST', '/v1/users'], ['DELETE', '/v1/users/tom']] as const) {
      const answer = await send(method, url, { browser: aliceBrowser }, method === 'POST' ? { name: 'eve', role: 'operator' } : undefined);
      assert.deepEqual([answer.status, answer.body?.code], [403, 'FORBIDDEN'], `${method} ${url}`);
    }
    const missing = await send('DELETE', '/v1/users/nobody', { token: admin });
    assert.deepEqual([missing.status, missing.body?.code], [404, 'USER_NOT_FOUND']);
  });

  it('signs in with a session cookie: HttpOnly, SameSite=Strict, Path=/, Secure when configured', async () => {
    const answer = await send('POST', '/v1/auth/sign-in', {}, { name: 'alice', password: 'correct horse battery' });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body?.user, { name: 'alice', role: 'customer', tenant: 'acme', email: 'alice@acme.example', createdAt: answer.body?.user.createdAt });
    const cookie = String(answer.headers['set-cookie']);
    assert.match(cookie, /^lifeboat_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/$/);
    assert.equal(typeof answer.body?.csrfToken, 'string');
    // Only the cookie's hash is stored.
    const value = cookie.split(';')[0]!.split('=')[1]!;
    const rows = await store.database.db.selectFrom('browser_sessions').selectAll().execute();
    assert.ok(rows.length > 0);
    assert.ok(!JSON.stringify(rows).includes(value));
    assert.ok(!JSON.stringify(rows).includes(answer.body?.csrfToken));
    const users = await store.database.db.selectFrom('users').select('password_hash').execute();
    assert.ok(users.every((u) => /^scrypt\$17\$8\$1\$/.test(u.password_hash) && !u.password_hash.includes('correct horse')));

    const secure = await signIn('alice', 'correct horse battery', undefined, secureApp);
    assert.match(secure.setCookie, /; HttpOnly; SameSite=Strict; Path=\/; Secure$/);

    const session = await send('GET', '/v1/auth/session', { browser: { cookie: cookie.split(';')[0]!, csrfToken: answer.body?.csrfToken, setCookie: cookie } });
    assert.deepEqual(session.body, answer.body);
    const none = await send('GET', '/v1/auth/session');
    assert.deepEqual([none.status, none.body?.code], [401, 'UNAUTHORIZED']);
    const byToken = await send('GET', '/v1/auth/session', { token: admin });
    assert.deepEqual([byToken.status, byToken.body?.code], [401, 'UNAUTHORIZED']);
  });

  it('answers a wrong password and an unknown name alike', async () => {
    const wrongPassword = await send('POST', '/v1/auth/sign-in', { address: '198.51.100.1' }, { name: 'alice', password: 'not her password' });
    const unknownName = await send('POST', '/v1/auth/sign-in', { address: '198.51.100.2' }, { name: 'mallory', password: 'not her password' });
    assert.deepEqual([wrongPassword.status, wrongPassword.body], [401, { code: 'SIGN_IN_FAILED', message: 'wrong user name or password' }]);
    assert.deepEqual([unknownName.status, unknownName.body], [wrongPassword.status, wrongPassword.body]);
    assert.equal(wrongPassword.headers['set-cookie'], undefined);
    const missingField = await send('POST', '/v1/auth/sign-in', {}, { name: 'alice' });
    assert.deepEqual([missingField.status, missingField.body?.code], [400, 'BAD_REQUEST']);
    await store.signInFailures.clear('name:alice');
  });

  it('refuses cookie-authenticated unsafe requests without the CSRF token; bearer tokens need none', async () => {
    const browser = await signIn('alice', 'correct horse battery');
    const attempts: Array<[string | null, string]> = [[null, 'no header'], ['', 'empty'], [`${browser.csrfToken.slice(0, -1)}${browser.csrfToken.endsWith('A') ? 'B' : 'A'}`, 'wrong'], [`${browser.csrfToken}x`, 'longer']];
    for (const [csrf, label] of attempts) {
      const answer = await send('PUT', '/v1/account', { browser, csrf }, { email: 'changed@acme.example' });
      assert.deepEqual([answer.status, answer.body?.code], [403, 'CSRF_FAILED'], label);
      const rescue = await send('POST', '/v1/servers/web-1/rescue', { browser, csrf }, {});
      assert.deepEqual([rescue.status, rescue.body?.code], [403, 'CSRF_FAILED'], label);
    }
    assert.equal((await store.users.byName('alice'))?.email, 'alice@acme.example');
    const updated = await send('PUT', '/v1/account', { browser }, { email: 'a@acme.example' });
    assert.deepEqual([updated.status, updated.body?.user.email], [200, 'a@acme.example']);
    // GET needs no CSRF header; a bearer token never does.
    assert.equal((await send('GET', '/v1/account', { browser, csrf: null })).status, 200);
    assert.equal((await send('POST', '/v1/tenants', { token: admin }, { name: 'initech' })).status, 201);
    // Another session's CSRF token does not fit this session.
    const other = await signIn('alice', 'correct horse battery');
    const crossed = await send('PUT', '/v1/account', { browser, csrf: other.csrfToken }, { email: null });
    assert.deepEqual([crossed.status, crossed.body?.code], [403, 'CSRF_FAILED']);
  });

  it('gives a customer cookie its tenant\'s servers only: another tenant\'s are 404', async () => {
    const browser = await signIn('alice', 'correct horse battery');
    const list = await send('GET', '/v1/servers', { browser });
    assert.deepEqual(list.body?.servers.map((s: { name: string }) => s.name), ['web-1']);
    assert.equal((await send('GET', '/v1/servers/web-1', { browser })).status, 200);
    for (const [method, url] of [
      ['GET', '/v1/servers/db-1'],
      ['GET', '/v1/servers/db-1/rescue'],
      ['GET', '/v1/servers/db-1/tasks'],
      ['GET', '/v1/servers/db-1/tests'],
      ['GET', '/v1/events?server=db-1'],
      ['POST', '/v1/servers/db-1/rescue'],
      ['POST', '/v1/servers/db-1/rescue/exit'],
      ['POST', '/v1/servers/db-1/incidents'],
    ] as const) {
      const body = method === 'GET' ? undefined : url.endsWith('/incidents') ? { message: 'x' } : {};
      const answer = await send(method, url, { browser }, body);
      assert.deepEqual([answer.status, answer.body?.code], [404, 'SERVER_NOT_FOUND'], `${method} ${url}`);
    }
    const forbidden = await send('POST', '/v1/tenants', { browser }, { name: 'mine' });
    assert.deepEqual([forbidden.status, forbidden.body?.code], [403, 'FORBIDDEN']);
  });

  it('records who acted: the audit log names the user of a cookie request', async () => {
    const browser = await signIn('alice', 'correct horse battery');
    const incident = await send('POST', '/v1/servers/web-1/incidents', { browser }, { message: 'disk noise' });
    assert.equal(incident.status, 201, JSON.stringify(incident.body));
    const detail = await send('GET', `/v1/incidents/${incident.body?.id}`, { browser });
    assert.equal(detail.status, 200);
    const comment = await send('POST', `/v1/incidents/${incident.body?.id}/comments`, { browser }, { message: 'still noisy' });
    assert.deepEqual([comment.status, comment.body?.author], [201, 'alice']);
    const events = await store.audit.list({ limit: 200 });
    const created = events.find((e) => e.action === 'incident.create');
    assert.equal(created?.actor, 'user:alice');
    const actions = new Set(events.map((e) => e.action));
    for (const action of ['user.add', 'auth.sign_in', 'auth.sign_in_failed', 'account.update']) assert.ok(actions.has(action), action);
    const text = JSON.stringify(events);
    for (const secret of ['correct horse battery', 'not her password', browser.csrfToken, browser.cookie.split('=')[1]!]) assert.ok(!text.includes(secret));
  });

  it('rate-limits failed sign-ins per user name and per address, with Retry-After', async () => {
    await send('POST', '/v1/users', { token: admin }, { name: 'carol', role: 'customer', tenant: 'globex', password: 'carol password long' });
    for (let i = 0; i < 5; i++) {
      const answer = await send('POST', '/v1/auth/sign-in', { address: `203.0.113.${i + 1}` }, { name: 'carol', password: `guess ${i}` });
      assert.equal(answer.status, 401);
    }
    // The right password is refused too while the name is limited, from any address.
    const limited = await send('POST', '/v1/auth/sign-in', { address: '203.0.113.99' }, { name: 'carol', password: 'carol password long' });
    assert.deepEqual([limited.status, limited.body?.code], [429, 'RATE_LIMITED']);
    assert.equal(limited.headers['retry-after'], String(windowMs / 1000));
    advance(60_000);
    const later = await send('POST', '/v1/auth/sign-in', { address: '203.0.113.99' }, { name: 'Carol', password: 'x' });
    assert.deepEqual([later.status, later.headers['retry-after']], [429, String(windowMs / 1000 - 60)]);
    advance(windowMs);
    await signIn('carol', 'carol password long', '203.0.113.99');

    // One address guessing many names.
    for (let i = 0; i < 5; i++) assert.equal((await send('POST', '/v1/auth/sign-in', { address: '203.0.113.200' }, { name: `user${i}`, password: 'guess' })).status, 401);
    const byAddress = await send('POST', '/v1/auth/sign-in', { address: '203.0.113.200' }, { name: 'carol', password: 'carol password long' });
    assert.deepEqual([byAddress.status, byAddress.body?.code], [429, 'RATE_LIMITED']);
    await signIn('carol', 'carol password long', '203.0.113.201');
    advance(windowMs);
  });

  it('ends sessions after the idle time and at the absolute expiry', async () => {
    const idle = await signIn('alice', 'correct horse battery');
    advance(idleMs - 1000);
    assert.equal((await send('GET', '/v1/auth/session', { browser: idle })).status, 200);
    advance(idleMs - 1000);
    assert.equal((await send('GET', '/v1/auth/session', { browser: idle })).status, 200, 'each use restarts the idle time');
    advance(idleMs);
    const ended = await send('GET', '/v1/servers', { browser: idle });
    assert.deepEqual([ended.status, ended.body?.code], [401, 'UNAUTHORIZED']);
    assert.match(String(ended.headers['set-cookie']), /^lifeboat_session=; Max-Age=0;/);

    const busy = await signIn('alice', 'correct horse battery');
    const start = clock.getTime();
    while (clock.getTime() - start < maxMs - 3_600_000) {
      advance(3_600_000);
      assert.equal((await send('GET', '/v1/auth/session', { browser: busy })).status, 200);
    }
    advance(3_600_000);
    assert.equal((await send('GET', '/v1/auth/session', { browser: busy })).status, 401);
  });

  it('changes the password: checks the current one and the length, ends the other sessions', async () => {
    const here = await signIn('alice', 'correct horse battery');
    const elsewhere = await signIn('alice', 'correct horse battery', '192.0.2.77');
    const wrong = await send('POST', '/v1/account/password', { browser: here }, { current: 'wrong one entirely', new: 'a new long password' });
    assert.deepEqual([wrong.status, wrong.body?.code], [401, 'SIGN_IN_FAILED']);
    const weak = await send('POST', '/v1/account/password', { browser: here }, { current: 'correct horse battery', new: 'short' });
    assert.deepEqual([weak.status, weak.body?.code], [400, 'PASSWORD_WEAK']);
    const noCsrf = await send('POST', '/v1/account/password', { browser: here, csrf: null }, { current: 'correct horse battery', new: 'a new long password' });
    assert.equal(noCsrf.status, 403);
    const changed = await send('POST', '/v1/account/password', { browser: here }, { current: 'correct horse battery', new: 'a new long password' });
    assert.equal(changed.status, 204, JSON.stringify(changed.body));
    assert.equal((await send('GET', '/v1/account', { browser: here })).status, 200);
    assert.equal((await send('GET', '/v1/account', { browser: elsewhere })).status, 401);
    const old = await send('POST', '/v1/auth/sign-in', {}, { name: 'alice', password: 'correct horse battery' });
    assert.equal(old.status, 401);
    await signIn('alice', 'a new long password');
    const audit = await store.audit.list({ limit: 50 });
    assert.deepEqual(audit.find((e) => e.action === 'account.password')?.detail, { user: 'alice', sessionsEnded: (audit.find((e) => e.action === 'account.password')?.detail as { sessionsEnded: number }).sessionsEnded });
    assert.ok(((audit.find((e) => e.action === 'account.password')?.detail as { sessionsEnded: number }).sessionsEnded) >= 1);
  });

  it('signs out: the session is deleted server-side', async () => {
    const browser = await signIn('alice', 'a new long password');
    const noCsrf = await send('POST', '/v1/auth/sign-out', { browser, csrf: null });
    assert.equal(noCsrf.status, 403);
    const out = await send('POST', '/v1/auth/sign-out', { browser });
    assert.equal(out.status, 204);
    assert.match(String(out.headers['set-cookie']), /^lifeboat_session=; Max-Age=0;/);
    assert.equal((await send('GET', '/v1/servers', { browser })).status, 401);
    const byToken = await send('POST', '/v1/auth/sign-out', { token: admin });
    assert.deepEqual([byToken.status, byToken.body?.code], [401, 'UNAUTHORIZED']);
  });

  it('lets users create, list and revoke their own tokens, with their role and tenant', async () => {
    const browser = await signIn('alice', 'a new long password');
    const created = await send('POST', '/v1/account/tokens', { browser }, { name: 'laptop' });
    assert.equal(created.status, 201);
    assert.deepEqual(Object.keys(created.body ?? {}).sort(), ['id', 'name', 'token']);
    const token = created.body?.token as string;
    const listed = await send('GET', '/v1/account/tokens', { browser });
    assert.deepEqual(listed.body?.tokens.map((t: { id: string; name: string }) => [t.id, t.name]), [[created.body?.id, 'laptop']]);
    assert.ok(!JSON.stringify(listed.body).includes(token));

    // The token acts as alice: her tenant's servers, a customer's rights, her account.
    assert.deepEqual((await send('GET', '/v1/servers', { token })).body?.servers.map((s: { name: string }) => s.name), ['web-1']);
    assert.equal((await send('GET', '/v1/servers/db-1', { token })).status, 404);
    assert.equal((await send('GET', '/v1/users', { token })).status, 403);
    assert.equal((await send('GET', '/v1/account', { token })).body?.user.name, 'alice');
    const operatorAccount = await send('GET', '/v1/account', { token: admin });
    assert.deepEqual([operatorAccount.status, operatorAccount.body?.code], [404, 'USER_NOT_FOUND']);

    // Another user cannot see or revoke it.
    const carol = await signIn('carol', 'carol password long', '203.0.113.50');
    assert.deepEqual((await send('GET', '/v1/account/tokens', { browser: carol })).body?.tokens, []);
    const notHers = await send('DELETE', `/v1/account/tokens/${created.body?.id}`, { browser: carol });
    assert.deepEqual([notHers.status, notHers.body?.code], [404, 'NOT_FOUND']);

    assert.equal((await send('DELETE', `/v1/account/tokens/${created.body?.id}`, { browser })).status, 204);
    assert.equal((await send('GET', '/v1/servers', { token })).status, 401);
    assert.equal((await send('DELETE', `/v1/account/tokens/${created.body?.id}`, { browser })).status, 404);
    const actions = (await store.audit.list({ limit: 50 })).map((e) => e.action);
    assert.ok(actions.includes('token.create') && actions.includes('token.revoke'));
  });

  it('removing a user ends their sessions and revokes their tokens', async () => {
    const browser = await signIn('carol', 'carol password long', '203.0.113.51');
    const token = (await send('POST', '/v1/account/tokens', { browser }, { name: 'ci' })).body?.token as string;
    assert.equal((await send('GET', '/v1/servers', { token })).status, 200);
    assert.equal((await send('DELETE', '/v1/users/carol', { token: admin })).status, 204);
    assert.equal((await send('GET', '/v1/servers', { browser })).status, 401);
    assert.equal((await send('GET', '/v1/servers', { token })).status, 401);
    const again = await send('POST', '/v1/auth/sign-in', { address: '203.0.113.52' }, { name: 'carol', password: 'carol password long' });
    assert.deepEqual([again.status, again.body?.code], [401, 'SIGN_IN_FAILED']);
    const audit = await store.audit.list({ limit: 50 });
    assert.deepEqual(audit.find((e) => e.action === 'user.remove')?.detail, { name: 'carol', role: 'customer' });
  });
});
