import assert from 'node:assert/strict';
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { sha512Crypt } from '../credentials/sha512-crypt.js';
import { createLogger } from './logger.js';
import { StoreNetbootSource } from '../rescue/netboot-source.js';
import { Store } from '../store/store.js';
import { startTestApp, type TestApp } from './testing.js';

describe('HTTP API (in-process)', { timeout: 120_000 }, () => {
  let store: Store;
  let app: FastifyInstance;
  let netboot: StoreNetbootSource;
  let testApp: TestApp;
  const logLines: string[] = [];
  let admin: string;
  let acmeToken: string;
  let globexToken: string;

  const call = async (method: string, url: string, token: string | undefined, body?: unknown) => {
    const response = await app.inject({
      method: method as 'GET',
      url,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      ...(body === undefined ? {} : { payload: body as object }),
    });
    return { status: response.statusCode, body: response.body ? (JSON.parse(response.body) as Record<string, any>) : undefined };
  };

  before(async () => {
    const logger = createLogger('debug', new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done(); } }));
    testApp = await startTestApp({ logger });
    ({ store, app } = testApp);
    netboot = new StoreNetbootSource(store);
    admin = testApp.admin;
  });
  after(async () => {
    await testApp?.close();
  });

  it('answers 401 {code, message} without a valid token', async () => {
    assert.deepEqual((await call('GET', '/v1/servers', undefined)).body?.code, 'UNAUTHORIZED');
    const bad = await call('GET', '/v1/servers', 'lb_nope');
    assert.equal(bad.status, 401);
    assert.equal(typeof bad.body?.message, 'string');
  });

  it('lets an operator add tenants, tokens and servers', async () => {
    assert.equal((await call('POST', '/v1/tenants', admin, { name: 'acme' })).status, 201);
    assert.equal((await call('POST', '/v1/tenants', admin, { name: 'globex' })).status, 201);
    const dup = await call('POST', '/v1/tenants', admin, { name: 'acme' });
    assert.deepEqual([dup.status, dup.body?.code], [409, 'TENANT_EXISTS']);
    const invalid = await call('POST', '/v1/tenants', admin, { name: '' });
    assert.deepEqual([invalid.status, invalid.body?.code], [400, 'BAD_REQUEST']);

    const token = await call('POST', '/v1/tokens', admin, { tenant: 'acme', role: 'customer' });
    assert.equal(token.status, 201);
    assert.equal(token.body?.tenant, 'acme');
    acmeToken = token.body?.token;
    globexToken = (await call('POST', '/v1/tokens', admin, { tenant: 'globex', role: 'customer' })).body?.token;

    const added = await call('POST', '/v1/servers', admin, {
      name: 'web-1',
      tenant: 'acme',
      macs: ['52-54-00-12-34-56'],
      bmc: { url: 'ipmi://127.0.0.1:6230', user: 'admin', password: 'bmc-secret-pw' },
      sshEndpoint: '127.0.0.1:2222',
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.deepEqual(added.body?.macs, ['52:54:00:12:34:56']);
    assert.equal(added.body?.state, 'active');
    assert.equal(added.body?.status, 'Active');
    assert.ok(!JSON.stringify(added.body).includes('bmc-secret-pw'));
    await call('POST', '/v1/servers', admin, { name: 'db-1', tenant: 'globex', macs: ['52:54:00:00:00:99'], bmc: { url: 'redfish://127.0.0.1:8000/redfish/v1/Systems/1', user: 'root' } });
    const badBmc = await call('POST', '/v1/servers', admin, { name: 'x-1', tenant: 'acme', macs: ['52:54:00:00:00:98'], bmc: { url: 'telnet://x' } });
    assert.deepEqual([badBmc.status, badBmc.body?.code], [400, 'BMC_INVALID']);
  });

  it('shows tenants only their own servers: another tenant\'s server is 404', async () => {
    const list = await call('GET', '/v1/servers', acmeToken);
    assert.deepEqual(list.body?.servers.map((s: { name: string }) => s.name), ['web-1']);
    assert.equal((await call('GET', '/v1/servers', admin)).body?.servers.length, 2);
    for (const [method, url] of [
      ['GET', '/v1/servers/db-1'],
      ['GET', '/v1/servers/db-1/tasks'],
      ['GET', '/v1/servers/db-1/rescue'],
      ['POST', '/v1/servers/db-1/rescue'],
      ['POST', '/v1/servers/db-1/rescue/exit'],
    ] as const) {
      const answer = await call(method, url, acmeToken, method === 'POST' ? {} : undefined);
      assert.deepEqual([answer.status, answer.body?.code], [404, 'SERVER_NOT_FOUND'], `${method} ${url}`);
    }
    const forbidden = await call('POST', '/v1/servers', acmeToken, { name: 'mine', tenant: 'acme', macs: ['52:54:00:00:00:01'], bmc: { url: 'ipmi://h:1' } });
    assert.deepEqual([forbidden.status, forbidden.body?.code], [403, 'FORBIDDEN']);
  });

  it('refuses to exit rescue on an active server with INVALID_STATE', async () => {
    const answer = await call('POST', '/v1/servers/web-1/rescue/exit', acmeToken);
    assert.deepEqual([answer.status, answer.body?.code], [409, 'INVALID_STATE']);
  });

  let password: string;
  let agentToken: string;

  it('refuses a rescue whose image is missing or incomplete at once, and leaves the server untouched', async () => {
    const added = await call('POST', '/v1/servers', admin, {
      name: 'win-1', tenant: 'acme', macs: ['52:54:00:00:00:42'], bmc: { url: 'ipmi://127.0.0.1:6231', user: 'admin', password: 'pw' }, profiles: ['windows'],
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const refused = await call('POST', '/v1/servers/win-1/rescue', acmeToken, { profile: 'windows' });
    assert.deepEqual([refused.status, refused.body?.code], [404, 'IMAGE_NOT_FOUND']);
    assert.match(refused.body?.message, /no rescue image for profile windows.*lifeboat image build/);
    const initrd = join(testApp.images.dirOf('linux'), 'initrd');
    unlinkSync(initrd);
    try {
      const incomplete = await call('POST', '/v1/servers/web-1/rescue', acmeToken, {});
      assert.deepEqual([incomplete.status, incomplete.body?.code], [404, 'IMAGE_NOT_FOUND']);
      assert.match(incomplete.body?.message, /incomplete \(missing: initrd\).*lifeboat image build/);
    } finally {
      writeFileSync(initrd, 'test initrd\n');
    }
    for (const name of ['win-1', 'web-1']) {
      const server = (await store.servers.byName(name))!;
      assert.equal(await store.sessions.latestFor(server.id), undefined, `${name}: no session`);
      assert.deepEqual(await store.tasks.forServer(server.id), [], `${name}: no task`);
      assert.equal(server.state, 'active');
    }
    const jobs = await store.database.db.selectFrom('jobs').select('id').execute();
    assert.deepEqual(jobs, [], 'no job, so no BMC command');
    assert.equal((await call('DELETE', '/v1/servers/win-1', admin)).status, 204);
  });

  it('enters rescue: the password is in this answer only', async () => {
    const answer = await call('POST', '/v1/servers/web-1/rescue', acmeToken, { expiresIn: '2h' });
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    assert.equal(answer.body?.state, 'rescue_requested');
    assert.equal(answer.body?.server, 'web-1');
    assert.ok(answer.body?.sessionId);
    assert.ok(Math.abs(Date.parse(answer.body?.expiresAt) - Date.now() - 7_200_000) < 60_000);
    password = answer.body?.ssh.password;
    assert.ok(password.length >= 20);
    assert.deepEqual({ ...answer.body?.ssh, password: undefined, certAuthority: undefined }, { host: '127.0.0.1', port: 2222, user: 'root', password: undefined, hostKeyFingerprints: [], knownHosts: [], certAuthority: undefined });
    const shown = await call('GET', '/v1/servers/web-1/rescue', acmeToken);
    assert.equal(shown.body?.ssh.password, undefined);
    assert.equal(shown.body?.status, 'Rescue requested');
    const again = await call('POST', '/v1/servers/web-1/rescue', acmeToken, {});
    assert.deepEqual([again.status, again.body?.code], [409, 'INVALID_STATE']);
    const tooLong = await call('POST', '/v1/servers/db-1/rescue', globexToken, { expiresIn: '30d' });
    assert.deepEqual([tooLong.status, tooLong.body?.code], [400, 'LEASE_TOO_LONG']);
    const tasks = await call('GET', '/v1/servers/web-1/tasks', acmeToken);
    assert.deepEqual(tasks.body?.tasks[0].steps.map((s: { name: string }) => s.name).slice(0, 3), ['validated', 'boot_device_set', 'power_cycled']);
  });

  it('mints one boot credential per boot attempt, bound to the address that asked, and trades it for an agent token (again, until ready: a lost answer)', async () => {
    assert.deepEqual(await netboot.bootTargetFor('52:54:00:12:34:56', '127.0.0.1'), { kind: 'disk' }, 'not before the boot device is set');
    const server = (await store.servers.byName('web-1'))!;
    const session = (await store.sessions.openFor(server.id))!;
    // What the enter job does (no worker runs here): boot device set to network, then the boot started.
    await store.sessions.setNetboot(session.id, 'rescue');
    await store.sessions.transition(session.id, 'boot_started');
    assert.deepEqual(await netboot.bootTargetFor('52:54:00:ff:ff:ff', '127.0.0.1'), { kind: 'disk' });
    const first = await netboot.bootTargetFor('52:54:00:12:34:56', '127.0.0.1');
    const second = await netboot.bootTargetFor('52:54:00:12:34:56', '127.0.0.1');
    assert.ok(first.kind === 'rescue' && second.kind === 'rescue');
    assert.equal(second.bootToken, first.bootToken, 'asking again does not void the credential');
    assert.equal(second.imageId, 'linux');
    assert.equal(second.serverId, server.id);
    assert.deepEqual(await netboot.bootTargetFor('52:54:00:12:34:56', '10.9.9.9'), { kind: 'disk' }, 'another address gets no credential');
    await netboot.recordBootStep(server.id, 'ipxe_script_served', '127.0.0.1');
    const stale = await call('POST', '/v1/agent/redeem', undefined, { serverId: server.id, bootToken: 'boot_made-up' });
    assert.deepEqual([stale.status, stale.body?.code], [401, 'BOOT_TOKEN_INVALID']);
    const redeemed = await call('POST', '/v1/agent/redeem', undefined, { serverId: server.id, bootToken: second.bootToken });
    assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
    agentToken = redeemed.body?.agentToken;
    const config = redeemed.body?.config;
    assert.equal(config.sessionId, session.id);
    assert.equal(config.serverName, 'web-1');
    assert.equal(config.passwordLogin, true);
    assert.deepEqual(config.authorizedKeys, []);
    assert.equal(sha512Crypt(password, config.rootPasswordHash.split('$')[2]), config.rootPasswordHash);
    // The answer lost (a control plane killed after the commit): the agent asks again from the same
    // address and gets a new agent token; the first one stops working.
    const again = await call('POST', '/v1/agent/redeem', undefined, { serverId: server.id, bootToken: second.bootToken });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal((await call('POST', '/v1/agent/heartbeat', agentToken, {})).status, 401, 'the first answer\'s agent token is replaced');
    agentToken = again.body?.agentToken;
    assert.notEqual((await call('POST', '/v1/agent/heartbeat', agentToken, {})).status, 401);
  });

  it('records the agent\'s boot timeline, host keys and readiness', async () => {
    assert.equal((await call('POST', '/v1/agent/events', agentToken, { step: 'agent_started', detail: 'v1' })).status, 204);
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBkFzRkqW2uUQ5jWqV3+1f4v7Y0yPZ2b0Y5l6TqvZ1bS';
    const hostKeys = await call('POST', '/v1/agent/host-keys', agentToken, { hostKeys: [{ type: 'ssh-ed25519', publicKey: `${key} root@rescue`, fingerprint: 'SHA256:0123456789abcdefABCDEF+/xyz' }] });
    assert.equal(hostKeys.status, 200, JSON.stringify(hostKeys.body));
    // Certified by the control plane's host CA for the server's name and SSH address (ssh-host-ca/host-ca.test.ts reads certificates back with ssh-keygen -L).
    assert.deepEqual(hostKeys.body?.certificates.map((c: { type: string; publicKey: string }) => [c.type, c.publicKey]), [['ssh-ed25519', `${key} root@rescue`]]);
    assert.match(hostKeys.body?.certificates[0].certificate, /^ssh-ed25519-cert-v01@openssh\.com AAAA\S+ lifeboat_server=web-1_session=\S+_key=ssh-ed25519$/);
    assert.equal((await call('POST', '/v1/agent/inventory', agentToken, { cpus: 2, memoryBytes: 1073741824, disks: [], nics: [], dmi: {} })).status, 204);
    assert.equal((await call('POST', '/v1/agent/ready', agentToken, {})).status, 204);
    assert.equal((await call('POST', '/v1/agent/ready', agentToken, {})).status, 204, 'ready twice is harmless');
    const shown = await call('GET', '/v1/servers/web-1/rescue', acmeToken);
    assert.equal(shown.body?.state, 'rescue');
    assert.equal(shown.body?.status, 'Rescue');
    assert.deepEqual(shown.body?.ssh.hostKeyFingerprints, ['SHA256:0123456789abcdefABCDEF+/xyz']);
    assert.deepEqual(shown.body?.ssh.knownHosts, [`[127.0.0.1]:2222 ${key}`]);
    const ca = await call('GET', '/v1/ssh-host-ca', acmeToken);
    assert.equal(ca.status, 200);
    assert.match(ca.body?.knownHostsLine, /^@cert-authority \* ssh-ed25519 AAAA\S+ lifeboat-host-ca$/);
    assert.equal(ca.body?.knownHostsLine, `@cert-authority * ${ca.body?.publicKey} lifeboat-host-ca`);
    assert.match(ca.body?.fingerprint, /^SHA256:/);
    assert.equal(shown.body?.ssh.certAuthority, ca.body?.knownHostsLine, 'the rescue view gives the same line');
    const [task] = (await call('GET', '/v1/servers/web-1/tasks', acmeToken)).body?.tasks;
    assert.equal(task.state, 'completed');
    const steps = Object.fromEntries(task.steps.map((s: { name: string; state: string }) => [s.name, s.state]));
    assert.equal(steps.ipxe_script_served, 'completed');
    assert.equal(steps.agent_started, 'completed');
    assert.equal(steps.host_keys_reported, 'completed');
    assert.equal(steps.ready, 'completed');
    const inventory = await call('GET', '/v1/servers/web-1/inventory', acmeToken);
    assert.deepEqual(inventory.body?.inventory, { cpus: 2, memoryBytes: 1073741824, disks: [], nics: [], dmi: {} });
    const beat = await call('POST', '/v1/agent/heartbeat', agentToken, {});
    assert.equal(beat.body?.expiresAt, shown.body?.expiresAt);
    const afterBeat = await call('GET', '/v1/servers/web-1/rescue', acmeToken);
    assert.equal(afterBeat.body?.agent.responding, true);
    assert.ok(Date.parse(afterBeat.body?.agent.lastSeenAt) <= Date.now());
  });

  it('hands work to the agent by long poll and keeps the result', async () => {
    const empty = await call('GET', '/v1/agent/work?waitSeconds=0', agentToken);
    assert.deepEqual(empty.body, { jobs: [] });
    const polling = call('GET', '/v1/agent/work?waitSeconds=10', agentToken);
    const queued = await call('POST', '/v1/servers/web-1/rescue/work', acmeToken, { kind: 'disks', params: { smart: true } });
    assert.equal(queued.status, 202);
    const got = await polling;
    assert.deepEqual(got.body?.jobs, [{ id: queued.body?.id, kind: 'disks', params: { smart: true } }]);
    assert.equal((await call('POST', `/v1/agent/work/${queued.body?.id}/result`, agentToken, { state: 'completed', result: { disks: 1 } })).status, 204);
    const result = await call('GET', `/v1/servers/web-1/rescue/work/${queued.body?.id}`, acmeToken);
    assert.deepEqual(result.body?.result, { disks: 1 });
    const elsewhere = await call('GET', `/v1/servers/db-1/rescue/work/${queued.body?.id}`, admin);
    assert.equal(elsewhere.status, 404, 'work is only found under its own server');
    for (const kind of ['leave_rescue', 'hardware_test']) {
      const reserved = await call('POST', '/v1/servers/web-1/rescue/work', acmeToken, { kind });
      assert.equal(reserved.status, 400, `${kind} is Lifeboat's own work`);
      assert.equal(reserved.body?.code, 'BAD_REQUEST');
    }
  });

  it('queues incidents for technicians and keeps an audit log for operators', async () => {
    const declared = await call('POST', '/v1/servers/web-1/incidents', acmeToken, { title: 'disk sda fails SMART', attachment: { smart: 'FAILED' } });
    assert.equal(declared.status, 201);
    assert.deepEqual((await call('GET', '/v1/incidents', globexToken)).body?.incidents, [], 'other tenants do not see it');
    assert.equal((await call('GET', '/v1/incidents', acmeToken)).body?.incidents[0].title, 'disk sda fails SMART');
    assert.equal((await call('POST', `/v1/incidents/${declared.body?.id}`, acmeToken, { state: 'resolved' })).status, 403);
    const technician = (await call('POST', '/v1/tokens', admin, { role: 'technician' })).body?.token;
    const answered = await call('POST', `/v1/incidents/${declared.body?.id}`, technician, { state: 'acknowledged' });
    assert.equal(answered.body?.state, 'acknowledged');
    assert.equal((await call('GET', '/v1/audit', acmeToken)).status, 403);
    const audit = await call('GET', '/v1/audit?server=web-1', admin);
    const actions = audit.body?.events.map((e: { action: string }) => e.action);
    for (const action of ['server.add', 'rescue.enter', 'agent.redeem', 'rescue.ready', 'rescue.work', 'incident.create', 'incident.update']) {
      assert.ok(actions.includes(action), `audit has ${action}`);
    }
    assert.ok(!JSON.stringify(audit.body).includes('bmc-secret-pw'));
  });

  it('extends the lease, then exits and revokes the agent token', async () => {
    const extended = await call('POST', '/v1/servers/web-1/rescue/extend', acmeToken, { expiresIn: '5h' });
    assert.equal(extended.status, 200);
    assert.ok(Math.abs(Date.parse(extended.body?.expiresAt) - Date.now() - 5 * 3_600_000) < 60_000);
    const exit = await call('POST', '/v1/servers/web-1/rescue/exit', acmeToken);
    assert.equal(exit.status, 202);
    assert.equal(exit.body?.state, 'exiting_rescue');
    const server = (await store.servers.byName('web-1'))!;
    const session = (await store.sessions.openFor(server.id))!;
    await store.sessions.revokeAgentToken(session.id);
    const revoked = await call('POST', '/v1/agent/heartbeat', agentToken, {});
    assert.deepEqual([revoked.status, revoked.body?.code], [401, 'AGENT_TOKEN_REVOKED']);
  });

  it('publishes an OpenAPI 3 document of every route', async () => {
    const doc = await call('GET', '/openapi.json', undefined);
    assert.equal(doc.status, 200);
    assert.match(doc.body?.openapi, /^3\./);
    for (const path of ['/v1/servers', '/v1/servers/{name}', '/v1/servers/{name}/rescue', '/v1/servers/{name}/rescue/exit', '/v1/servers/{name}/tasks', '/v1/agent/redeem', '/v1/agent/work', '/v1/events']) {
      assert.ok(doc.body?.paths[path], `${path} documented`);
    }
    assert.ok(doc.body?.paths['/v1/servers/{name}/rescue'].post.requestBody);
  });

  it('answers unknown routes with {code, message}', async () => {
    const answer = await call('GET', '/nowhere', undefined);
    assert.deepEqual([answer.status, answer.body?.code], [404, 'NOT_FOUND']);
  });

  it('streams server changes as Server-Sent Events', async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const controller = new AbortController();
    const response = await fetch(`http://127.0.0.1:${port}/v1/events?server=web-1`, { headers: { authorization: `Bearer ${acmeToken}` }, signal: controller.signal });
    assert.equal(response.headers.get('content-type'), 'text/event-stream');
    const reader = response.body!.getReader();
    let text = '';
    const server = (await store.servers.byName('web-1'))!;
    const session = (await store.sessions.openFor(server.id))!;
    await store.sessions.transition(session.id, 'exited');
    while (!text.includes('"state":"active"')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    controller.abort();
    assert.match(text, /event: server\ndata: \{"server":\{"id"/);
    assert.ok(text.includes('"state":"active"'));
    const denied = await fetch(`http://127.0.0.1:${port}/v1/events?server=db-1`, { headers: { authorization: `Bearer ${acmeToken}` } });
    assert.equal(denied.status, 404);
  });

  it('never logs a token, a password or a password hash', () => {
    const log = logLines.join('');
    assert.ok(log.length > 0);
    for (const secret of [admin, acmeToken, globexToken, password, agentToken, 'bmc-secret-pw']) assert.ok(!log.includes(secret), 'a secret was logged');
    assert.ok(!log.includes('$6$'));
  });
});
