/**
 * A failed enter or exit carries the last lines of the console in its reason: the rescue jobs' deadline
 * handler with the real recorder reading the session's stored log, on every dialect.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Server } from '@lifeboat/core';
import { freePort } from '@lifeboat/test-support';
import { SecretBox } from '../credentials/secret-box.js';
import { powerDriverFactory } from '../drivers/power/index.js';
import { JobQueue, type Job } from '../jobs/job-queue.js';
import { deadlineJob } from '../jobs/scheduler.js';
import { createTestImages } from '../netboot/testing.js';
import { rescueJobs } from '../rescue/rescue-jobs.js';
import { RescueService } from '../rescue/rescue-service.js';
import { Store } from '../store/store.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../store/testing.js';
import { consoleDriverFactory } from './console-driver.js';
import { ConsoleHubs } from './console-hub.js';
import { ConsoleRecorder } from './console-recorder.js';

const quiet = { info() {}, warn() {} };

for (const dialect of testDialects()) {
  describe(`failure reasons quote the console (${dialect})`, { timeout: 60_000 }, () => {
    let database: TestDatabase;
    let dir: string;
    let store: Store;
    let hubs: ConsoleHubs;
    let recorder: ConsoleRecorder;
    let handlers: ReturnType<typeof rescueJobs>['handlers'];
    let tenantId: string;
    const images = createTestImages();

    before(async () => {
      database = await createTestDatabase(dialect);
      dir = mkdtempSync(join(tmpdir(), 'lifeboat-reason-'));
      store = await Store.open({ databaseUrl: database.url, secretBox: SecretBox.fromKeyFile(join(dir, 'secret.key')), deadlines: { requestMs: 600_000, rescueMs: 600_000, exitMs: 600_000 } });
      const queue = new JobQueue(store.database.db, store.dialect, store.now);
      const rescue = new RescueService({ store, queue, lease: { defaultLeaseMs: 3_600_000, maxLeaseMs: 86_400_000 }, images: images.registry });
      hubs = new ConsoleHubs({ drivers: consoleDriverFactory(store.servers) });
      recorder = new ConsoleRecorder({ hubs, store });
      handlers = rescueJobs({ store, queue, rescue, powerDrivers: powerDriverFactory(), recorder, log: quiet }).handlers;
      tenantId = (await store.tenants.add('acme')).id;
    });
    after(async () => {
      await recorder?.close();
      await hubs?.close();
      await store?.close();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
      images.remove();
    });

    /** A server whose BMC refuses connections at once (nothing listens there): the roll-back's BMC steps fail fast. */
    async function server(name: string): Promise<Server> {
      const port = await freePort();
      return store.servers.add({ name, tenantId, macs: [], bmc: { driver: 'redfish', url: `redfish://127.0.0.1:${port}/redfish/v1/Systems/1`, user: 'u', password: 'p' }, sshEndpoint: null, profiles: ['linux'] });
    }

    function deadline(sessionId: string, state: string): Promise<void> {
      const job: Job = { id: 'j', kind: deadlineJob, params: { sessionId, state }, state: 'running', attempts: 1, maxAttempts: 1, runAt: new Date(), lockKey: null, lockedBy: null, lockedUntil: null, lastError: null };
      return handlers[deadlineJob]!({ job, signal: new AbortController().signal });
    }

    it('a rescue that never reports ready ends with the console\'s last lines in its reason', async () => {
      const web = await server('web-1');
      const session = await store.sessions.open({ serverId: web.id, profile: 'linux', email: null, sshKeys: [], passwordHash: null, expiresAt: new Date(Date.now() + 3_600_000), requestedBy: 'test' });
      await store.sessions.transition(session.id, 'boot_started');
      const log = 'iPXE 1.21.1\r\nhttp://10.0.2.2:8080/v1/images/linux/vmlinuz... ok\r\n[    1.23] \x1b[1mKernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\x1b[0m\r\n[    1.24] ---[ end Kernel panic ]---\r\n';
      await store.consoleLogs.save({ sessionId: session.id, serverId: web.id, data: Buffer.from(log), dropped: 0, startedAt: new Date() });
      await deadline(session.id, 'preparing_rescue');
      const failed = await store.sessions.byId(session.id);
      assert.equal(failed?.state, 'rescue_failed');
      assert.match(
        failed?.reason ?? '',
        /^the rescue system did not report ready within \d+ min: the console ends with '.*Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block\(0,0\) \/ \[ *1\.24\] ---\[ end Kernel panic \]---'; the server will be set back to boot from its disk as soon as its BMC answers$/,
      );
      assert.ok(!(failed?.reason ?? '').includes('\x1b'), 'escape sequences removed');
    });

    it('an exit whose installed system does not come back ends with "emergency mode" in its reason', async () => {
      const db = await server('db-1');
      const session = await store.sessions.open({ serverId: db.id, profile: 'linux', email: null, sshKeys: [], passwordHash: null, expiresAt: new Date(Date.now() + 3_600_000), requestedBy: 'test' });
      await store.sessions.transition(session.id, 'boot_started');
      await store.sessions.transition(session.id, 'ready');
      await store.sessions.transition(session.id, 'request_exit');
      const log = '[ TIME ] Timed out waiting for device /dev/disk/by-uuid/0000-dead.\r\nYou are in emergency mode. After logging in, type "journalctl -xb" to view\r\nsystem logs, "systemctl reboot" to reboot.\r\nGive root password for maintenance\r\n(or press Control-D to continue): ';
      await store.consoleLogs.save({ sessionId: session.id, serverId: db.id, data: Buffer.from(log), dropped: 0, startedAt: new Date() });
      await deadline(session.id, 'exiting_rescue');
      const failed = await store.sessions.byId(session.id);
      assert.equal(failed?.state, 'exit_failed');
      assert.match(failed?.reason ?? '', /^the installed system did not come back: it did not answer on SSH within \d+ min: the console ends with '.*Give root password for maintenance \/ \(or press Control-D to continue\):'$/);
    });

    it('a session without a recorded console keeps the plain reason', async () => {
      const app = await server('app-1');
      const session = await store.sessions.open({ serverId: app.id, profile: 'linux', email: null, sshKeys: [], passwordHash: null, expiresAt: new Date(Date.now() + 3_600_000), requestedBy: 'test' });
      await store.sessions.transition(session.id, 'boot_started');
      await deadline(session.id, 'preparing_rescue');
      assert.match((await store.sessions.byId(session.id))?.reason ?? '', /^the rescue system did not report ready within \d+ min; the server will be set back to boot from its disk as soon as its BMC answers$/);
    });
  });
}
