import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { SecretBox } from '../../src/credentials/secret-box.js';
import { powerDriverFactory } from '../../src/drivers/power/index.js';
import { buildApp } from '../../src/http/app.js';
import { createLogger } from '../../src/http/logger.js';
import { JobQueue } from '../../src/jobs/job-queue.js';
import { createTestImages } from '../../src/netboot/testing.js';
import { RescueService } from '../../src/rescue/rescue-service.js';
import { Store } from '../../src/store/store.js';
import { freeUdpPort, startIpmiSim, type IpmiSim } from '../drivers/ipmi-sim.js';

/** The control plane's HTTP API in-process, with the real BMC drivers. */
describe('BMC records: checked at registration, reached on demand', { timeout: 120_000 }, () => {
  let dir: string;
  let store: Store;
  let app: FastifyInstance;
  let admin: string;
  let customer: string;
  let technician: string;
  let sim: IpmiSim;
  const images = createTestImages();
  const stop = new AbortController();

  const call = async (method: 'GET' | 'POST', url: string, token: string, body?: object) => {
    const response = await app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body }) });
    return { status: response.statusCode, text: response.body, body: response.body ? (JSON.parse(response.body) as Record<string, any>) : undefined };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-bmc-'));
    store = await Store.open({ databaseUrl: `sqlite:${join(dir, 'db')}`, secretBox: SecretBox.fromKeyFile(join(dir, 'key')), deadlines: { requestMs: 60_000, rescueMs: 600_000, exitMs: 600_000 } });
    const queue = new JobQueue(store.database.db, store.dialect, store.now);
    const rescue = new RescueService({ store, queue, lease: { defaultLeaseMs: 3_600_000, maxLeaseMs: 86_400_000 }, images: images.registry });
    app = await buildApp({ store, queue, rescue, powerDrivers: powerDriverFactory({ ipmi: { answerSeconds: 1, retries: 1 } }), logger: createLogger('silent'), signal: stop.signal });
    admin = (await store.tokens.create({ name: 'admin', role: 'operator', tenantId: null })).token;
    const tenant = await store.tenants.add('acme');
    customer = (await store.tokens.create({ name: 'acme', role: 'customer', tenantId: tenant.id })).token;
    technician = (await store.tokens.create({ name: 'tech', role: 'technician', tenantId: null })).token;
    sim = await startIpmiSim();
  });
  after(async () => {
    stop.abort();
    await app?.close();
    await store?.close();
    await sim?.stop();
    rmSync(dir, { recursive: true, force: true });
    images.remove();
  });

  const megabyte = 'x'.repeat(1024 * 1024);
  const invalid: Array<[what: string, bmc: { url: string; user?: string; password?: string }, field: RegExp]> = [
    ['no host', { url: 'ipmi://', user: 'admin', password: 'pw' }, /bmc\.url has no host/],
    ['an empty user', { url: 'ipmi://127.0.0.1:623', user: '', password: 'pw' }, /bmc\.user is empty/],
    ['no user', { url: 'ipmi://127.0.0.1:623', password: 'pw' }, /bmc\.user is empty/],
    ['no Redfish user', { url: 'redfish://127.0.0.1:8000/redfish/v1/Systems/1' }, /bmc\.user is empty/],
    ['a 1 MB password', { url: 'ipmi://127.0.0.1:623', user: 'admin', password: megabyte }, /bmc\.password is longer than 256 bytes/],
    ['a 1 MB Redfish password', { url: 'redfish://127.0.0.1:8000/redfish/v1/Systems/1', user: 'root', password: megabyte }, /bmc\.password is longer than 256 bytes/],
    ['an IPMI password of 21 bytes', { url: 'ipmi://127.0.0.1:623', user: 'admin', password: 'p'.repeat(21) }, /bmc\.password: IPMI 2\.0 passwords are at most 20 bytes/],
    ['an IPMI password of 11 characters but 22 bytes', { url: 'ipmi://127.0.0.1:623', user: 'admin', password: 'é'.repeat(11) }, /bmc\.password: .*20 bytes/],
    ['an IPMI user of 17 bytes', { url: 'ipmi://127.0.0.1:623', user: 'u'.repeat(17), password: 'pw' }, /bmc\.user: IPMI user names are at most 16 bytes/],
    ['a user of 65 bytes', { url: 'redfish://127.0.0.1:8000/redfish/v1/Systems/1', user: 'u'.repeat(65), password: 'pw' }, /bmc\.user is longer than 64 bytes/],
    ['an unknown IPMI URL parameter', { url: 'ipmi://127.0.0.1:623?privilege=admin', user: 'admin', password: 'pw' }, /bmc\.url: unknown IPMI URL parameter privilege/],
    ['an unknown Redfish URL parameter', { url: 'redfish://127.0.0.1:8000/redfish/v1/Systems/1?verify=no', user: 'root', password: 'pw' }, /bmc\.url: unknown Redfish URL parameter verify/],
    ['a cipher suite out of range', { url: 'ipmi://127.0.0.1:623?cipher=99', user: 'admin', password: 'pw' }, /bmc\.url: not an RMCP\+ cipher suite/],
    ['port 0', { url: 'ipmi://127.0.0.1:0', user: 'admin', password: 'pw' }, /bmc\.url: port 0 is not 1-65535/],
    ['port 70000', { url: 'ipmi://127.0.0.1:70000', user: 'admin', password: 'pw' }, /bmc\.url is not a URL/],
    ['a URL over 2 KiB', { url: `redfish://127.0.0.1:8000/redfish/v1/Systems/${'a'.repeat(2100)}`, user: 'root', password: 'pw' }, /bmc\.url is longer than 2048 characters/],
    ['an unknown scheme', { url: 'telnet://127.0.0.1:23', user: 'admin', password: 'pw' }, /bmc\.url: unknown BMC protocol telnet/],
    ['credentials in the URL', { url: 'ipmi://admin:hunter2@127.0.0.1:623', user: 'admin', password: 'hunter2' }, /bmc\.url: put the BMC user and password in their own fields/],
    ['an IPMI URL with a path', { url: 'ipmi://127.0.0.1:623/x', user: 'admin', password: 'pw' }, /bmc\.url: an IPMI BMC URL has no path/],
    ['a Redfish URL without its system', { url: 'redfish://127.0.0.1:8000/', user: 'root', password: 'pw' }, /bmc\.url: a Redfish BMC URL names its system/],
  ];

  for (const [what, bmc, field] of invalid) {
    it(`refuses ${what} with BMC_INVALID naming the field, and stores nothing`, async () => {
      const answer = await call('POST', '/v1/servers', admin, { name: 'bad-1', tenant: 'acme', macs: ['52:54:00:00:0b:01'], bmc });
      assert.deepEqual([answer.status, answer.body?.code], [400, 'BMC_INVALID'], answer.text.slice(0, 300));
      assert.match(answer.body?.message, field);
      if (bmc.password !== undefined) assert.ok(!answer.text.includes(bmc.password), 'the password is never echoed');
      assert.ok(answer.text.length < 4096, 'the answer does not echo a huge value');
      assert.equal(await store.servers.byName('bad-1'), undefined);
    });
  }

  it('accepts a valid record and reaches its BMC on demand: power state of a real ipmi_sim', async () => {
    const added = await call('POST', '/v1/servers', admin, {
      name: 'sim-1', tenant: 'acme', macs: ['52:54:00:00:0b:02'], bmc: { url: `ipmi://127.0.0.1:${sim.port}`, user: sim.user, password: sim.password },
    });
    assert.equal(added.status, 201, added.text);
    const checked = await call('POST', '/v1/servers/sim-1/validate', admin);
    assert.equal(checked.status, 200, checked.text);
    assert.deepEqual(checked.body, { server: 'sim-1', driver: 'ipmi', reachable: true, powerState: checked.body?.powerState });
    assert.ok(['on', 'off'].includes(checked.body?.powerState));
    assert.ok((await store.audit.list({})).some((e) => e.action === 'server.validate'));
  });

  it('answers a wrong BMC password with BMC_AUTH_FAILED (502), without the password', async () => {
    const added = await call('POST', '/v1/servers', admin, {
      name: 'sim-2', tenant: 'acme', macs: ['52:54:00:00:0b:03'], bmc: { url: `ipmi://127.0.0.1:${sim.port}`, user: sim.user, password: 'wrong-Passw0rd' },
    });
    assert.equal(added.status, 201, added.text);
    const checked = await call('POST', '/v1/servers/sim-2/validate', admin);
    assert.deepEqual([checked.status, checked.body?.code], [502, 'BMC_AUTH_FAILED'], checked.text);
    assert.ok(!checked.text.includes('wrong-Passw0rd'));
  });

  it('answers a BMC nobody answers for with BMC_UNREACHABLE (502)', async () => {
    const port = await freeUdpPort();
    const added = await call('POST', '/v1/servers', admin, {
      name: 'gone-1', tenant: 'acme', macs: ['52:54:00:00:0b:04'], bmc: { url: `ipmi://127.0.0.1:${port}`, user: 'admin', password: 'pw' },
    });
    assert.equal(added.status, 201, added.text);
    const checked = await call('POST', '/v1/servers/gone-1/validate', admin);
    assert.deepEqual([checked.status, checked.body?.code], [502, 'BMC_UNREACHABLE'], checked.text);
  });

  it('is for operators: a tenant gets 404 as for a missing server, a technician 403', async () => {
    const asTenant = await call('POST', '/v1/servers/sim-1/validate', customer);
    assert.deepEqual([asTenant.status, asTenant.body?.code], [404, 'SERVER_NOT_FOUND']);
    const asTechnician = await call('POST', '/v1/servers/sim-1/validate', technician);
    assert.deepEqual([asTechnician.status, asTechnician.body?.code], [403, 'FORBIDDEN']);
    const missing = await call('POST', '/v1/servers/nope/validate', admin);
    assert.deepEqual([missing.status, missing.body?.code], [404, 'SERVER_NOT_FOUND']);
  });
});
