import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { ApiError, LifeboatClient, LifeboatError, RescueSchema, ServerSchema, type RescueView } from '@lifeboat/core';
import { Store } from '../store/store.js';
import { startTestApp, type TestApp } from './testing.js';

// The typed client of core against the real HTTP API on a socket: the contract's types on both ends.
describe('typed client against the HTTP API', { timeout: 300_000 }, () => {
  let store: Store;
  let app: FastifyInstance;
  let url: string;
  let operator: LifeboatClient;
  let customer: LifeboatClient;
  let testApp: TestApp;

  before(async () => {
    testApp = await startTestApp({ lease: { defaultLeaseMs: 3_600_000, maxLeaseMs: 86_400_000 } });
    ({ store, app } = testApp);
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    operator = new LifeboatClient({ url: `${url}/`, token: testApp.admin });
  });
  after(async () => {
    await testApp?.close();
  });

  it('adds a tenant, a customer token and a server', async () => {
    const tenant = await operator.addTenant({ name: 'acme' });
    assert.equal(tenant.name, 'acme');
    assert.deepEqual((await operator.listTenants()).tenants.map((t) => t.name), ['acme']);
    const token = await operator.createToken({ role: 'customer', tenant: 'acme' });
    assert.equal(token.role, 'customer');
    customer = new LifeboatClient({ url, token: token.token });
    const server = await operator.addServer({ name: 'web-1', tenant: 'acme', macs: ['52:54:00:dd:00:01'], bmc: { url: 'ipmi://127.0.0.1:6230', user: 'admin', password: 'pw' } });
    assert.equal(server.state, 'active');
    // Every field of the schema is in the answer, and nothing else.
    assert.deepEqual(Object.keys(server).sort(), Object.keys(ServerSchema.properties).sort());
    assert.deepEqual((await customer.listServers()).servers.map((s) => s.name), ['web-1']);
  });

  it('carries every field of the rescue view through the schema, the server and the client', async () => {
    const entered = await customer.enterRescue('web-1', { expiresIn: '2h' });
    assert.equal(entered.state, 'rescue_requested');
    assert.ok(entered.taskId);
    assert.ok(entered.ssh.password && entered.ssh.password.length >= 20, 'the password is in the answer to the request');
    const shown: RescueView = await customer.getRescue('web-1');
    const fields = Object.keys(RescueSchema.properties).filter((k) => k !== 'taskId');
    assert.deepEqual(Object.keys(shown).sort(), fields.sort());
    assert.equal(shown.ssh.password, undefined, 'shown once');
    assert.equal(shown.sessionId, entered.sessionId);
    const extended = await customer.extendRescue('web-1', { expiresIn: '3h' });
    assert.ok(Math.abs(Date.parse(extended.expiresAt ?? '') - Date.now() - 3 * 3_600_000) < 60_000);
    const { tasks } = await customer.listTasks('web-1');
    assert.equal(tasks[0]?.kind, 'enter_rescue');
    assert.equal(tasks[0]?.steps[0]?.name, 'validated');
  });

  it('streams the changes of a server as typed events', async () => {
    const stream = customer.events({ server: 'web-1' });
    const first = stream.next();
    const exit = await customer.exitRescue('web-1');
    assert.equal(exit.state, 'exiting_rescue');
    const { value } = await first;
    assert.equal(value?.server.name, 'web-1');
    assert.ok(value?.task, 'with the newest task');
    await stream.return(undefined);
  });

  it('works in a browser: relative URLs, the session cookie and the CSRF header, events by cookie', async () => {
    const created = await operator.addUser({ name: 'alice', role: 'customer', tenant: 'acme' });
    assert.equal(created.user.tenant, 'acme');
    assert.deepEqual((await operator.listUsers()).users.map((u) => u.name), ['alice']);
    // What a page's fetch does: resolves '/v1/...' against its origin and keeps the cookie of that origin.
    let cookie: string | undefined;
    const sent: Array<{ method: string; csrf: string | null; authorization: string | null }> = [];
    const pageFetch: typeof fetch = async (input, init) => {
      assert.equal(init?.credentials, 'same-origin');
      const headers = new Headers(init?.headers);
      sent.push({ method: init?.method ?? 'GET', csrf: headers.get('x-csrf-token'), authorization: headers.get('authorization') });
      if (cookie !== undefined) headers.set('cookie', cookie);
      const response = await fetch(new URL(String(input), url), { ...init, headers });
      const setCookie = response.headers.get('set-cookie');
      if (setCookie !== null) cookie = /Max-Age=0/.test(setCookie) ? undefined : setCookie.split(';')[0];
      return response;
    };
    const page = new LifeboatClient({ url: '', browser: true, fetch: pageFetch });
    await assert.rejects(page.session(), (e: unknown) => e instanceof ApiError && e.code === 'UNAUTHORIZED');
    await assert.rejects(page.signIn({ name: 'alice', password: 'not the password' }), (e: unknown) => e instanceof ApiError && e.code === 'SIGN_IN_FAILED' && e.status === 401);
    const signedIn = await page.signIn({ name: 'alice', password: created.password! });
    assert.equal(page.csrfToken, signedIn.csrfToken);
    assert.deepEqual((await page.listServers()).servers.map((s) => s.name), ['web-1']);
    assert.equal((await page.updateAccount({ email: 'alice@acme.example' })).user.email, 'alice@acme.example');
    const own = await page.createOwnToken({ name: 'laptop' });
    assert.deepEqual((await page.listOwnTokens()).tokens.map((t) => t.id), [own.id]);
    await page.revokeOwnToken(own.id);
    assert.ok(sent.every((r) => r.authorization === null));
    assert.ok(sent.filter((r) => r.method !== 'GET' && r.method !== 'POST').every((r) => r.csrf === signedIn.csrfToken));
    assert.ok(sent.filter((r) => r.method === 'GET').every((r) => r.csrf === null));

    // EventSource sends the cookie: the stream answers to it (its first event is the server as it is).
    const stream = page.events({ server: 'web-1' });
    const { value } = await stream.next();
    assert.equal(value?.server.name, 'web-1');
    await stream.return(undefined);

    // A client given the token of an existing session sends it; a wrong one is refused.
    await assert.rejects(new LifeboatClient({ url: '', csrfToken: 'forged', fetch: pageFetch }).updateAccount({ email: null }), (e: unknown) => e instanceof ApiError && e.code === 'CSRF_FAILED' && e.status === 403);
    await page.changePassword({ current: created.password!, new: 'a long new password' });
    await page.signOut();
    assert.equal(page.csrfToken, undefined);
    await assert.rejects(page.listServers(), (e: unknown) => e instanceof ApiError && e.code === 'UNAUTHORIZED');
    await page.signIn({ name: 'alice', password: 'a long new password' });
    await operator.removeUser('alice');
    await assert.rejects(page.getAccount(), (e: unknown) => e instanceof ApiError && e.code === 'UNAUTHORIZED');
  });

  it('decodes error answers into ApiError with the server\'s code and status', async () => {
    await assert.rejects(customer.getServer('nope'), (e: unknown) => e instanceof ApiError && e.code === 'SERVER_NOT_FOUND' && e.status === 404 && e.serverCode === 'SERVER_NOT_FOUND');
    await assert.rejects(customer.removeServer('web-1'), (e: unknown) => e instanceof ApiError && e.code === 'FORBIDDEN' && e.status === 403);
    await assert.rejects(new LifeboatClient({ url }).listServers(), (e: unknown) => e instanceof LifeboatError && e.code === 'UNAUTHORIZED');
    await assert.rejects(operator.request('GET', '/v1/no-such-route'), (e: unknown) => e instanceof ApiError && e.status === 404);
  });

  it('reports a control plane that does not answer as UNREACHABLE', async () => {
    await assert.rejects(new LifeboatClient({ url: 'http://127.0.0.1:1' }).listServers(), (e: unknown) => e instanceof LifeboatError && e.code === 'UNREACHABLE' && e.message.includes('127.0.0.1:1'));
  });
});
