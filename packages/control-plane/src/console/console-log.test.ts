/**
 * Console logs kept with the session, on every dialect: a real TCP serial port on loopback, the real
 * hub and recorder, the store, and the API in-process (`app.inject()`).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import type { Server } from '@lifeboat/core';
import { waitFor } from '@lifeboat/test-support';
import { SecretBox } from '../credentials/secret-box.js';
import { powerDriverFactory } from '../drivers/power/index.js';
import { buildApp } from '../http/app.js';
import { JobQueue } from '../jobs/job-queue.js';
import { createTestImages } from '../netboot/testing.js';
import { RescueService } from '../rescue/rescue-service.js';
import { Store } from '../store/store.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../store/testing.js';
import { consoleDriverFactory } from './console-driver.js';
import { ConsoleHubs } from './console-hub.js';
import { ConsoleRecorder } from './console-recorder.js';
import { serialPort } from './testing.js';

for (const dialect of testDialects()) {
  describe(`console logs kept with the session (${dialect})`, { timeout: 60_000 }, () => {
    let database: TestDatabase;
    let dir: string;
    let store: Store;
    let app: FastifyInstance;
    let hubs: ConsoleHubs;
    let recorder: ConsoleRecorder;
    let serial: Awaited<ReturnType<typeof serialPort>>;
    const images = createTestImages();
    const stop = new AbortController();
    let admin: string;
    let acme: string;
    let globex: string;

    const call = async (url: string, token: string, method = 'GET', payload?: object) => {
      const response = await app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${token}` }, ...(payload ? { payload } : {}) });
      return { status: response.statusCode, body: JSON.parse(response.body) as Record<string, any> };
    };

    before(async () => {
      database = await createTestDatabase(dialect);
      dir = mkdtempSync(join(tmpdir(), 'lifeboat-console-'));
      serial = await serialPort();
      store = await Store.open({ databaseUrl: database.url, secretBox: SecretBox.fromKeyFile(join(dir, 'secret.key')), deadlines: { requestMs: 600_000, rescueMs: 600_000, exitMs: 600_000 } });
      const queue = new JobQueue(store.database.db, store.dialect, store.now);
      const rescue = new RescueService({ store, queue, lease: { defaultLeaseMs: 3_600_000, maxLeaseMs: 86_400_000 }, images: images.registry });
      hubs = new ConsoleHubs({ drivers: consoleDriverFactory(store.servers), lingerMs: 20 });
      recorder = new ConsoleRecorder({ hubs, store, maxBytes: 4096, flushMs: 50, graceMs: 100 });
      app = await buildApp({ store, queue, rescue, powerDrivers: powerDriverFactory(), consoles: hubs, logger: pino({ level: 'silent' }), signal: stop.signal });
      admin = (await store.tokens.create({ name: 'admin', role: 'operator', tenantId: null })).token;
      const acmeTenant = await store.tenants.add('acme');
      const globexTenant = await store.tenants.add('globex');
      acme = (await store.tokens.create({ name: 'acme', role: 'customer', tenantId: acmeTenant.id })).token;
      globex = (await store.tokens.create({ name: 'globex', role: 'customer', tenantId: globexTenant.id })).token;
      await store.servers.add({ name: 'db-1', tenantId: globexTenant.id, macs: [], bmc: { driver: 'ipmi', url: 'ipmi://127.0.0.1:6230', user: 'admin', password: null }, sshEndpoint: null, profiles: ['linux'] });
    });
    after(async () => {
      stop.abort();
      await recorder?.close();
      await hubs?.close();
      await app?.close();
      await store?.close();
      await serial?.close();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
      images.remove();
    });

    it('registers a server with a tcp:// console, and refuses a console that is not one with CONSOLE_INVALID', async () => {
      const bad = await call('/v1/servers', admin, 'POST', { name: 'web-9', tenant: 'acme', macs: ['52:54:00:00:09:01'], bmc: { url: 'redfish://127.0.0.1:1/redfish/v1/Systems/1', user: 'u' }, console: 'telnet://127.0.0.1:23' });
      assert.deepEqual([bad.status, bad.body.code], [400, 'CONSOLE_INVALID']);
      assert.equal((await store.servers.byName('web-9')), undefined);
      const added = await call('/v1/servers', admin, 'POST', {
        name: 'web-1',
        tenant: 'acme',
        macs: ['52:54:00:00:01:01'],
        bmc: { url: 'redfish://127.0.0.1:1/redfish/v1/Systems/1', user: 'u' },
        console: `tcp://127.0.0.1:${serial.port}`,
      });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      assert.equal(added.body.console, `tcp://127.0.0.1:${serial.port}`);
      assert.equal((await call('/v1/servers/db-1', admin)).body.console, null);
    });

    it('records the console while the session enters rescue, bounded, stops after it, and serves it to its tenant only', async () => {
      const server = (await store.servers.byName('web-1')) as Server;
      const session = await store.sessions.open({ serverId: server.id, profile: 'linux', email: null, sshKeys: [], passwordHash: null, expiresAt: new Date(Date.now() + 3_600_000), requestedBy: 'test' });
      recorder.record(server, session.id);
      recorder.record(server, session.id);
      await waitFor('the recorder on the serial port', () => serial.lines.length === 1, 10_000, 10);
      const boot = ['SeaBIOS (version 1.16.2-debian-1.16.2-1)\r\n', 'iPXE 1.21.1+ -- Open Source Network Boot Firmware\r\n', `${'.'.repeat(5000)}\r\n`, 'Linux version 6.1.0-28-amd64\r\n', '\x1b[0;31mKernel panic - not syncing: VFS: Unable to mount root fs\x1b[0m\r\n'];
      for (const line of boot) serial.print(line);
      const expected = boot.join('');
      const stored = await waitFor('the log flushed', async () => {
        const log = await store.consoleLogs.forSession(session.id);
        return log && log.data.length + log.dropped === Buffer.byteLength(expected) ? log : undefined;
      }, 10_000, 20);
      assert.equal(stored.data.length, 4096, 'the last maxBytes are kept');
      assert.equal(stored.data.toString(), expected.slice(-4096));
      assert.equal(stored.dropped, Buffer.byteLength(expected) - 4096);
      assert.equal(await recorder.tail(session.id, 2), 'Linux version 6.1.0-28-amd64 / Kernel panic - not syncing: VFS: Unable to mount root fs');

      // The session leaves the recorded states: the recording stops after its grace, and the console closes.
      await store.sessions.transition(session.id, 'fail', { reason: 'test' });
      await waitFor('the recording to stop', () => serial.lines.length === 0, 10_000, 20);
      assert.equal(await recorder.tail(session.id, 1), 'Kernel panic - not syncing: VFS: Unable to mount root fs', 'from the stored log');

      const mine = await call(`/v1/servers/web-1/console/log?session=${session.id}`, acme);
      assert.equal(mine.status, 200, JSON.stringify(mine.body));
      assert.equal(Buffer.from(mine.body.data, 'base64').toString(), expected.slice(-4096));
      assert.equal(mine.body.sessionId, session.id);
      assert.equal(mine.body.bytes, 4096);
      assert.equal(mine.body.dropped, Buffer.byteLength(expected) - 4096);
      assert.match(mine.body.tail, /Kernel panic - not syncing/);
      assert.deepEqual((await call('/v1/servers/web-1/console/log', acme)).body.sessionId, session.id, 'the latest by default');

      const foreign = await call('/v1/servers/web-1/console/log', globex);
      const missing = await call('/v1/servers/nope/console/log', globex);
      assert.deepEqual([foreign.status, foreign.body.code], [404, 'SERVER_NOT_FOUND']);
      assert.deepEqual([foreign.status, foreign.body.code, foreign.body.message.replace('web-1', 'nope')], [missing.status, missing.body.code, missing.body.message]);
      const otherSession = await call(`/v1/servers/web-1/console/log?session=00000000-0000-0000-0000-000000000000`, acme);
      assert.deepEqual([otherSession.status, otherSession.body.code], [404, 'SESSION_NOT_FOUND']);
      const none = await call('/v1/servers/db-1/console/log', globex);
      assert.deepEqual([none.status, none.body.code], [404, 'CONSOLE_LOG_NOT_FOUND']);
    });

    it('continues the same log when the session leaves rescue', async () => {
      const server = (await store.servers.byName('web-1')) as Server;
      const session = (await store.sessions.openFor(server.id))!;
      const before = (await store.consoleLogs.forSession(session.id))!;
      await store.sessions.transition(session.id, 'request_exit');
      recorder.record(server, session.id);
      await waitFor('the recorder on the serial port', () => serial.lines.length === 1, 10_000, 10);
      serial.print('You are in emergency mode. After logging in, type "journalctl -xb"\r\n');
      const after = await waitFor('the exit flushed', async () => {
        const log = await store.consoleLogs.forSession(session.id);
        return log && log.data.toString().includes('emergency mode') ? log : undefined;
      }, 10_000, 20);
      assert.equal(after.startedAt.toISOString(), before.startedAt.toISOString());
      assert.ok(after.data.toString().includes('Kernel panic'), 'the enter part is still there');
      assert.match((await recorder.tail(session.id, 1)) ?? '', /^You are in emergency mode/);
      await store.sessions.transition(session.id, 'exit_fail', { reason: 'test' });
      await waitFor('the recording to stop', () => serial.lines.length === 0, 10_000, 20);
    });
  });
}
