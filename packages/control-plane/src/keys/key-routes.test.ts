import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { SecretBox } from '../credentials/secret-box.js';
import { powerDriverFactory } from '../drivers/power/index.js';
import { createLogger } from '../http/logger.js';
import { buildApp } from '../http/app.js';
import { JobQueue } from '../jobs/job-queue.js';
import { createTestImages } from '../netboot/testing.js';
import { RescueService } from '../rescue/rescue-service.js';
import { Store } from '../store/store.js';

describe('SSH key API (in-process)', { timeout: 120_000 }, () => {
  let dir: string;
  let store: Store;
  let app: FastifyInstance;
  const images = createTestImages();
  const stop = new AbortController();
  let admin: string;
  let technician: string;
  let acme: string;
  let globex: string;
  const pub: string[] = [];

  const call = async (method: string, url: string, token: string, body?: unknown) => {
    const response = await app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });
    return { status: response.statusCode, body: response.body ? (JSON.parse(response.body) as Record<string, any>) : undefined };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-key-api-'));
    store = await Store.open({ databaseUrl: `sqlite:${join(dir, 'lifeboat.db')}`, secretBox: SecretBox.fromKeyFile(join(dir, 'secret.key')), deadlines: { requestMs: 60_000, rescueMs: 600_000, exitMs: 600_000 } });
    const queue = new JobQueue(store.database.db, store.dialect, store.now);
    const rescue = new RescueService({ store, queue, lease: { defaultLeaseMs: 86_400_000, maxLeaseMs: 7 * 86_400_000 }, images: images.registry });
    app = await buildApp({ store, queue, rescue, powerDrivers: powerDriverFactory(), logger: createLogger('warn', new Writable({ write: (_c, _e, done) => done() })), signal: stop.signal });
    admin = (await store.tokens.create({ name: 'admin', role: 'operator', tenantId: null })).token;
    technician = (await store.tokens.create({ name: 'tech', role: 'technician', tenantId: null })).token;
    const acmeTenant = await store.tenants.add('acme');
    const globexTenant = await store.tenants.add('globex');
    acme = (await store.tokens.create({ name: 'acme', role: 'customer', tenantId: acmeTenant.id })).token;
    globex = (await store.tokens.create({ name: 'globex', role: 'customer', tenantId: globexTenant.id })).token;
    await store.servers.add({ name: 'web-1', tenantId: acmeTenant.id, macs: ['52:54:00:00:34:01'], bmc: { driver: 'ipmi', url: 'ipmi://127.0.0.1:1', user: 'a', password: 'b' }, sshEndpoint: null, profiles: ['linux'] });
    for (let i = 0; i < 3; i++) {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `key${i}@test`, '-f', join(dir, `k${i}`)]);
      pub.push(readFileSync(join(dir, `k${i}.pub`), 'utf8'));
    }
  });
  after(async () => {
    stop.abort();
    await app?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
    images.remove();
  });

  it("keeps a customer's keys in its tenant, with the fingerprint ssh-keygen prints", async () => {
    const added = await call('POST', '/v1/keys', acme, { name: 'laptop', publicKey: pub[0] });
    assert.equal(added.status, 201);
    const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(dir, 'k0.pub')], { encoding: 'utf8' }).split(' ')[1];
    assert.deepEqual([added.body?.tenant, added.body?.type, added.body?.bits, added.body?.fingerprint, added.body?.comment], ['acme', 'ssh-ed25519', 256, fingerprint, 'key0@test']);
    const again = await call('POST', '/v1/keys', acme, { name: 'laptop', publicKey: pub[1] });
    assert.deepEqual([again.status, again.body?.code], [409, 'KEY_EXISTS']);
    const bad = await call('POST', '/v1/keys', acme, { name: 'bad', publicKey: 'ssh-rsa AAAA' });
    assert.deepEqual([bad.status, bad.body?.code], [400, 'KEY_INVALID']);
    assert.deepEqual((await call('GET', '/v1/keys', acme)).body?.keys.map((k: { name: string }) => k.name), ['laptop']);
    assert.deepEqual((await call('GET', '/v1/keys', globex)).body?.keys, []);
  });

  it("never shows or touches another tenant's keys: its name answers as a missing tenant", async () => {
    const foreign = await call('GET', '/v1/keys?tenant=acme', globex);
    const missing = await call('GET', '/v1/keys?tenant=nobody', globex);
    assert.deepEqual([foreign.status, foreign.body?.code], [404, 'TENANT_NOT_FOUND']);
    assert.deepEqual([missing.status, missing.body?.code], [404, 'TENANT_NOT_FOUND']);
    assert.equal((await call('POST', '/v1/keys', globex, { name: 'x', publicKey: pub[1], tenant: 'acme' })).status, 404);
    assert.deepEqual((await call('DELETE', '/v1/keys/laptop', globex)).body?.code, 'KEY_NOT_FOUND');
    assert.equal((await call('GET', '/v1/keys', acme)).body?.keys.length, 1);
  });

  it("lets staff manage a tenant's keys and the staff keys, audited", async () => {
    const forAcme = await call('POST', '/v1/keys', technician, { name: 'support', publicKey: pub[1], tenant: 'acme' });
    assert.deepEqual([forAcme.status, forAcme.body?.tenant], [201, 'acme']);
    const staff = await call('POST', '/v1/keys', technician, { name: 'noc', publicKey: pub[2] });
    assert.deepEqual([staff.status, staff.body?.tenant], [201, null]);
    assert.deepEqual((await call('GET', '/v1/keys', admin)).body?.keys.map((k: { name: string }) => k.name), ['noc']);
    assert.deepEqual((await call('GET', '/v1/keys?tenant=acme', admin)).body?.keys.map((k: { name: string }) => k.name), ['laptop', 'support']);
    assert.equal((await call('DELETE', '/v1/keys/support?tenant=acme', admin)).status, 204);
    const audit = (await call('GET', '/v1/audit?limit=10', admin)).body?.events as { action: string; detail: Record<string, unknown> }[];
    assert.deepEqual(audit.filter((e) => e.action.startsWith('key.')).map((e) => [e.action, e.detail.name, e.detail.staff]), [
      ['key.remove', 'support', false],
      ['key.add', 'noc', true],
      ['key.add', 'support', false],
      ['key.add', 'laptop', false],
    ]);
  });

  it('gives keys to a rescue by name; an unknown name is KEY_NOT_FOUND before anything is recorded', async () => {
    const unknown = await call('POST', '/v1/servers/web-1/rescue', acme, { keys: ['laptop', 'desktop'] });
    assert.deepEqual([unknown.status, unknown.body?.code], [404, 'KEY_NOT_FOUND']);
    assert.match(unknown.body?.message, /no SSH key named desktop/);
    // A customer cannot name a staff key.
    assert.equal((await call('POST', '/v1/servers/web-1/rescue', acme, { keys: ['noc'] })).body?.code, 'KEY_NOT_FOUND');
    assert.equal(await store.sessions.openFor((await store.servers.byName('web-1'))!.id), undefined);
    const entered = await call('POST', '/v1/servers/web-1/rescue', technician, { keys: ['laptop', 'noc'] });
    assert.equal(entered.status, 202, JSON.stringify(entered.body));
    assert.equal(entered.body?.passwordLogin, false);
    const session = await store.sessions.openFor((await store.servers.byName('web-1'))!.id);
    assert.deepEqual(session?.sshKeys, [pub[0]?.trim(), pub[2]?.trim()]);
  });

  it('removes keys', async () => {
    assert.equal((await call('DELETE', '/v1/keys/laptop', acme)).status, 204);
    assert.deepEqual((await call('DELETE', '/v1/keys/laptop', acme)).body?.code, 'KEY_NOT_FOUND');
  });
});
