import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { enterRescueSteps, exitRescueSteps } from '@lifeboat/core';
import { SecretBox } from '../credentials/secret-box.js';
import { Store } from '../store/store.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../store/testing.js';
import { BootTimeline } from './boot-timeline.js';
import { StoreNetbootSource } from './netboot-source.js';

for (const dialect of testDialects()) {
  describe(`the boot timeline and the netboot field on ${dialect}`, { timeout: 120_000 }, () => {
    let database: TestDatabase;
    let store: Store;
    let dir: string;
    let timeline: BootTimeline;
    const mac = '52:54:00:77:00:01';

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'lifeboat-timeline-'));
      database = await createTestDatabase(dialect);
      store = await Store.open({ databaseUrl: database.url, secretBox: SecretBox.fromKeyFile(join(dir, 'key')), deadlines: { requestMs: 60_000, rescueMs: 600_000, exitMs: 300_000 } });
      timeline = new BootTimeline(store);
    });
    after(async () => {
      await store?.close();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    async function stepsOf(sessionId: string, kind: 'enter_rescue' | 'exit_rescue'): Promise<Record<string, string>> {
      const task = await store.tasks.latestFor(sessionId, kind);
      return Object.fromEntries((task?.steps ?? []).map((s) => [s.name, s.state]));
    }

    it('stores the session\'s netboot field: disk at first, rescue, then disk again', async () => {
      const tenant = await store.tenants.add('acme');
      const server = await store.servers.add({ name: 'web-1', tenantId: tenant.id, macs: [mac], bmc: { driver: 'ipmi', url: 'ipmi://127.0.0.1:1', user: 'u', password: 'p' }, sshEndpoint: null, profiles: ['linux'] });
      const session = await store.sessions.open({ serverId: server.id, profile: 'linux', email: null, sshKeys: [], passwordHash: null, expiresAt: new Date(Date.now() + 3_600_000), requestedBy: null });
      assert.equal(await store.sessions.netboot(session.id), 'disk');
      const netboot = new StoreNetbootSource(store);
      assert.deepEqual(await netboot.bootTargetFor(mac), { kind: 'disk' }, 'requested, boot device not set yet: disk');
      await store.sessions.setNetboot(session.id, 'rescue');
      assert.equal(await store.sessions.netboot(session.id), 'rescue');
      assert.equal((await netboot.bootTargetFor(mac)).kind, 'rescue', 'the field decides, not the task\'s steps');
      await store.sessions.setNetboot(session.id, 'disk');
      assert.deepEqual(await netboot.bootTargetFor(mac), { kind: 'disk' });
    });

    it('records known steps on the open task of the session\'s state, and refuses the rest', async () => {
      const server = (await store.servers.byName('web-1'))!;
      const session = (await store.sessions.openFor(server.id))!;
      await store.tasks.create({ serverId: server.id, sessionId: session.id, kind: 'enter_rescue', steps: enterRescueSteps });
      assert.equal(await timeline.record(session.id, 'made_up_step', 'completed'), 'unknown step');
      assert.equal(await timeline.record(session.id, 'validated', 'completed', 'ipmi BMC'), 'recorded');
      assert.equal(await timeline.record(session.id, 'ipxe_script_served', 'completed'), 'not netbooting rescue', 'the netboot field is disk');
      await store.sessions.setNetboot(session.id, 'rescue');
      assert.equal(await timeline.record(session.id, 'ipxe_script_served', 'completed', 'rescue image linux'), 'recorded');
      await store.sessions.transition(session.id, 'boot_started');
      assert.equal(await timeline.record(session.id, 'sshd_started', 'completed'), 'recorded', 'an agent step while preparing');
      assert.equal(await timeline.record(session.id, 'rebooted', 'completed', undefined, 'exit_rescue'), 'no open task');
      let steps = await stepsOf(session.id, 'enter_rescue');
      assert.deepEqual([steps.validated, steps.ipxe_script_served, steps.sshd_started, steps.made_up_step], ['completed', 'completed', 'completed', undefined]);
    });

    it('after an exit request: new steps go to the exit task; an enter step already running may only finish', async () => {
      const server = (await store.servers.byName('web-1'))!;
      const session = (await store.sessions.openFor(server.id))!;
      assert.equal(await timeline.record(session.id, 'kernel_fetched', 'running'), 'recorded');
      await store.sessions.transition(session.id, 'request_exit');
      await store.sessions.setNetboot(session.id, 'disk');
      await store.tasks.create({ serverId: server.id, sessionId: session.id, kind: 'exit_rescue', steps: exitRescueSteps });
      assert.equal(await timeline.record(session.id, 'initrd_fetched', 'completed', undefined, 'enter_rescue'), 'session moved on', 'nothing new on the old timeline');
      assert.equal(await timeline.record(session.id, 'kernel_fetched', 'completed', 'in flight', 'enter_rescue'), 'not netbooting rescue');
      assert.equal(await timeline.record(session.id, 'power_cycled', 'running', undefined, 'enter_rescue'), 'session moved on');
      assert.equal(await timeline.record(session.id, 'boot_device_set', 'completed', 'next boot: disk'), 'recorded');
      assert.equal((await stepsOf(session.id, 'exit_rescue')).boot_device_set, 'completed');
      assert.equal((await stepsOf(session.id, 'enter_rescue')).boot_device_set, 'pending', 'the default is the state\'s task');
      await store.sessions.transition(session.id, 'exited');
      assert.equal(await timeline.record(session.id, 'os_answered', 'completed'), 'no open session');
    });

    it('lets a BMC step in flight when the exit was requested finish on the enter timeline', async () => {
      const server = (await store.servers.byName('web-1'))!;
      const session = await store.sessions.open({ serverId: server.id, profile: 'linux', email: null, sshKeys: [], passwordHash: null, expiresAt: new Date(Date.now() + 3_600_000), requestedBy: null });
      await store.tasks.create({ serverId: server.id, sessionId: session.id, kind: 'enter_rescue', steps: enterRescueSteps });
      assert.equal(await timeline.record(session.id, 'boot_device_set', 'running', undefined, 'enter_rescue'), 'recorded');
      await store.sessions.transition(session.id, 'request_exit');
      assert.equal(await timeline.record(session.id, 'boot_device_set', 'completed', 'next boot: network', 'enter_rescue'), 'recorded');
      assert.equal((await stepsOf(session.id, 'enter_rescue')).boot_device_set, 'completed');
    });
  });
}
