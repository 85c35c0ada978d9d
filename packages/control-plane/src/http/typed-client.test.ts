import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { ApiError, LifeboatClient, LifeboatError, RescueSchema, ServerSchema, type RescueView } from '@lifeboat/core';
import { Store } from '../store/store.js';
import { startTestApp, type TestApp } from './testing.js';

// The typed client of core against the real HTTP API on a socket: the contract's types on both ends.
describe('typed client against the HTTP API', { timeout: 60_000 }, () => {
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
