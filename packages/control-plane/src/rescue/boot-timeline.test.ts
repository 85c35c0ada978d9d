import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import { enterRescueSteps, exitRescueSteps } from '@lifeboat/core';
import { SecretBox } from '../credentials/secret-box.js';
import { openDatabase } from '../store/database.js';
import { migrateTo } from '../store/migrations.js';
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
      assert.deepEqual(await netboot.bootTargetFor(mac, '127.0.0.1'), { kind: 'disk' }, 'requested, boot device not set yet: disk');
      await store.sessions.setNetboot(session.id, 'rescue');
      assert.equal(await store.sessions.netboot(session.id), 'rescue');
      assert.equal((await netboot.bootTargetFor(mac, '127.0.0.1')).kind, 'rescue', 'the field decides, not the task\'s steps');
      await store.sessions.setNetboot(session.id, 'disk');
      assert.deepEqual(await netboot.bootTargetFor(mac, '127.0.0.1'), { kind: 'disk' });
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

    it('the migration that adds the netboot field keeps sessions in flight on the rescue image', async () => {
      const old = await createTestDatabase(dialect);
      try {
        const opened = openDatabase(old.url);
        await migrateTo(opened.db as never, '0001_initial');
        const at = new Date().toISOString();
        // Rows of the 0001 schema (no netboot column), not of today's `Database` type.
        const db = opened.db as unknown as Kysely<any>;
        await db.insertInto('tenants').values({ id: 't1', name: 'acme', email: null, created_at: at }).execute();
        const steps = (bootDevice: string) =>
          JSON.stringify(enterRescueSteps.map((name) => ({ name, state: name === 'validated' || (name === 'boot_device_set' && bootDevice === 'completed') ? 'completed' : 'pending', startedAt: null, endedAt: null, detail: null })));
        const cases: Array<[id: string, state: string, bootDevice: string, ended: boolean, expected: string]> = [
          ['s-preparing', 'preparing_rescue', 'completed', false, 'rescue'],
          ['s-requested-set', 'rescue_requested', 'completed', false, 'rescue'],
          ['s-requested-unset', 'rescue_requested', 'pending', false, 'disk'],
          ['s-rescue', 'rescue', 'completed', false, 'disk'],
          ['s-ended', 'preparing_rescue', 'completed', true, 'disk'],
        ];
        for (const [i, [id, state, bootDevice, ended]] of cases.entries()) {
          await db.insertInto('servers').values({ id: `srv-${i}`, name: `srv-${i}`, tenant_id: 't1', bmc_driver: 'ipmi', bmc_url: 'ipmi://127.0.0.1:1', bmc_user: 'u', bmc_credentials_ref: null, ssh_host: null, ssh_port: null, profiles: '["linux"]', created_at: at }).execute();
          await db.insertInto('rescue_sessions').values({
            id, server_id: `srv-${i}`, profile: 'linux', state, reason: null, email: null, ssh_keys: '[]', password_hash: null, password_login: 0, host_keys: '[]', inventory: null,
            boot_token_hash: null, agent_token_hash: null, agent_token_revoked_at: null, deadline_at: null, expires_at: at, warned_at: null, last_heartbeat_at: null,
            created_at: at, updated_at: at, ended_at: ended ? at : null, requested_by: null,
          }).execute();
          await db.insertInto('tasks').values({ id: `task-${i}`, server_id: `srv-${i}`, session_id: id, kind: 'enter_rescue', state: 'running', steps: steps(bootDevice), created_at: at, ended_at: null }).execute();
        }
        await opened.close();
        const upgraded = await Store.open({ databaseUrl: old.url, secretBox: SecretBox.fromKeyFile(join(dir, 'key')), deadlines: { requestMs: 60_000, rescueMs: 600_000, exitMs: 300_000 } });
        try {
          for (const [id, , , , expected] of cases) assert.equal(await upgraded.sessions.netboot(id), expected, id);
        } finally {
          await upgraded.close();
        }
      } finally {
        await old.drop();
      }
    });
  });
}
