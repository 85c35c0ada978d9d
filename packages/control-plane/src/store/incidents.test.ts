import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { testAttachments, type Server } from '@lifeboat/core';
import { SecretBox } from '../credentials/secret-box.js';
import { Store } from './store.js';
import { hardwareTestView } from '../http/hardware-test-routes.js';
import { finishedTests } from './incidents-testing.js';
import { createTestDatabase, testDialects, type TestDatabase } from './testing.js';

const deadlines = { requestMs: 60_000, rescueMs: 600_000, exitMs: 300_000 };

for (const dialect of testDialects()) {
  describe(`incidents on ${dialect}`, { timeout: 120_000 }, () => {
    let database: TestDatabase;
    let store: Store;
    let dir: string;
    let clock = new Date('2026-03-01T10:00:00.000Z');
    const tick = () => (clock = new Date(clock.getTime() + 60_000));
    let web: Server;
    let db: Server;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'lifeboat-incidents-'));
      database = await createTestDatabase(dialect);
      store = await Store.open({ databaseUrl: database.url, secretBox: SecretBox.fromKeyFile(join(dir, 'secret.key')), deadlines, now: () => clock });
      const acme = await store.tenants.add('acme');
      const globex = await store.tenants.add('globex');
      const bmc = { driver: 'ipmi' as const, url: 'ipmi://127.0.0.1:6230', user: 'admin', password: null };
      web = await store.servers.add({ name: 'web-1', tenantId: acme.id, macs: ['52:54:00:00:00:01'], bmc, sshEndpoint: null, profiles: ['linux'] });
      db = await store.servers.add({ name: 'db-1', tenantId: globex.id, macs: ['52:54:00:00:00:02'], bmc, sshEndpoint: null, profiles: ['linux'] });
    });
    after(async () => {
      await store?.close();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('has no test to attach under an unknown id', async () => {
      assert.deepEqual(await store.hardwareTests.ofServerAmong(web.id, ['t-1']), []);
      assert.throws(() => testAttachments(['t-1'], [], web.name), { code: 'TEST_NOT_FOUND', status: 404 });
    });

    it('attaches copies of the server\'s own tests only, as they stood at declaration', async () => {
      const [smart1, cpu1] = (await finishedTests(store, web.id, [
        { kind: 'smart', device: 'sda', status: 'failed', summary: 'SMART health: FAILED', result: { smart_status: { passed: false } } },
        { kind: 'cpu', device: null, status: 'passed', summary: '1 CPU, 60 s', result: { bogoOps: 1234 } },
      ])) as [string, string];
      const [other1] = (await finishedTests(store, db.id, [{ kind: 'memory', device: null, status: 'passed', summary: 'ok', result: null }])) as [string];
      const views = (await store.hardwareTests.ofServerAmong(web.id, [smart1, cpu1, other1])).map((t) => hardwareTestView(t, web.name));
      assert.deepEqual(views.map((v) => v.id).sort(), [cpu1, smart1].sort(), 'another server\'s test is not attachable');
      assert.throws(() => testAttachments([smart1, other1], views, web.name), { code: 'TEST_NOT_FOUND', message: new RegExp(`${other1}.*web-1`) });
      const tests = testAttachments([smart1, smart1, cpu1], views, web.name);
      assert.deepEqual(tests.map((t) => [t.id, t.kind, t.device, t.status, t.summary]), [
        [smart1, 'smart', 'sda', 'failed', 'SMART health: FAILED'],
        [cpu1, 'cpu', null, 'passed', '1 CPU, 60 s'],
      ]);
      const incident = await store.incidents.create({ serverId: web.id, tenantId: web.tenantId, title: 'sda fails SMART', detail: 'sda fails SMART since this morning', tests, createdBy: 'token-1' });
      await store.database.db.updateTable('hardware_tests').set({ status: 'error' }).execute();
      const kept = await store.incidents.byId(incident.id);
      assert.deepEqual(kept?.tests[0]?.result, { smart_status: { passed: false } });
      assert.equal(kept?.tests[0]?.status, 'failed', 'the copy does not follow later changes');
      assert.equal(kept?.state, 'open');
    });

    it('queues open incidents first, oldest first, of every tenant or of one, filtered by state', async () => {
      await store.database.db.deleteFrom('incidents').execute();
      const made = [];
      for (const [server, title] of [[web, 'a'], [db, 'b'], [web, 'c']] as const) {
        tick();
        made.push(await store.incidents.create({ serverId: server.id, tenantId: server.tenantId, title, detail: title, createdBy: null }));
      }
      tick();
      await store.incidents.setState(made[0]!.id, 'acknowledged');
      assert.deepEqual((await store.incidents.list()).map((i) => i.title), ['b', 'c', 'a']);
      assert.deepEqual((await store.incidents.list({ tenantId: web.tenantId })).map((i) => i.title), ['c', 'a']);
      assert.deepEqual((await store.incidents.list({ state: 'acknowledged' })).map((i) => i.title), ['a']);
      assert.deepEqual((await store.incidents.list({ serverId: db.id })).map((i) => i.title), ['b']);
    });

    it('moves open → acknowledged → resolved with times and resolution; refuses illegal moves; reopens', async () => {
      tick();
      const incident = await store.incidents.create({ serverId: web.id, tenantId: web.tenantId, title: 'x', detail: 'x', createdBy: null });
      tick();
      const acknowledged = await store.incidents.setState(incident.id, 'acknowledged');
      assert.equal(acknowledged.acknowledgedAt?.toISOString(), clock.toISOString());
      await assert.rejects(store.incidents.setState(incident.id, 'acknowledged'), { code: 'INVALID_STATE', status: 409 });
      tick();
      const resolved = await store.incidents.setState(incident.id, 'resolved', { resolution: 'disk replaced' });
      assert.deepEqual([resolved.state, resolved.resolution, resolved.resolvedAt?.toISOString()], ['resolved', 'disk replaced', clock.toISOString()]);
      await assert.rejects(store.incidents.setState(incident.id, 'acknowledged'), { code: 'INVALID_STATE', message: /is resolved/ });
      const reopened = await store.incidents.setState(incident.id, 'open');
      assert.deepEqual([reopened.state, reopened.resolution, reopened.resolvedAt], ['open', null, null]);
      await assert.rejects(store.incidents.setState('nope', 'resolved'), { code: 'INCIDENT_NOT_FOUND', status: 404 });
    });

    it('keeps comments with author, role and time, oldest first, and counts them', async () => {
      const { record } = await store.tokens.create({ name: 'alice', role: 'technician', tenantId: null });
      const incident = await store.incidents.create({ serverId: web.id, tenantId: web.tenantId, title: 'y', detail: 'y', createdBy: null });
      tick();
      await store.incidents.comment(incident.id, { tokenId: record.id, role: 'technician', message: 'can you run a long self-test?' });
      tick();
      await store.incidents.comment(incident.id, { tokenId: 'gone-token', role: 'customer', message: 'done, it failed' });
      const comments = await store.incidents.comments(incident.id);
      assert.deepEqual(comments.map((c) => [c.author, c.role, c.message]), [
        ['alice', 'technician', 'can you run a long self-test?'],
        ['gone-token', 'customer', 'done, it failed'],
      ]);
      assert.ok(comments[0]!.createdAt < comments[1]!.createdAt);
      assert.equal((await store.incidents.byId(incident.id))?.updatedAt.toISOString(), clock.toISOString());
      assert.deepEqual([...(await store.incidents.commentCounts([incident.id, 'none']))], [[incident.id, 2], ['none', 0]]);
      await assert.rejects(store.incidents.comment('nope', { tokenId: record.id, role: 'technician', message: 'x' }), { code: 'INCIDENT_NOT_FOUND' });
    });
  });
}
