import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Principal } from '@lifeboat/core';
import { SecretBox } from '../credentials/secret-box.js';
import { JobQueue } from '../jobs/job-queue.js';
import { DeadlineScheduler } from '../jobs/scheduler.js';
import { Worker } from '../jobs/worker.js';
import { startMailCatcher, type MailCatcher, type ReceivedMail } from '../mail/testing.js';
import { createTestImages } from '../netboot/testing.js';
import { Store } from '../store/store.js';
import { rescueJobs } from './rescue-jobs.js';
import { mailPasswordSecret, RescueService } from './rescue-service.js';
import { acceptingBmc } from '../drivers/power/testing.js';

const quiet = { info() {}, warn() {}, error() {} };

describe('credentials and expiry warnings by mail (real SMTP server on loopback)', { timeout: 120_000 }, () => {
  let dir: string;
  let store: Store;
  let catcher: MailCatcher;
  let rescue: RescueService;
  const images = createTestImages();
  let worker: Worker;
  let scheduler: DeadlineScheduler;
  let received: ReceivedMail[] = [];
  let clock = new Date('2026-06-01T08:00:00.000Z');
  const operator: Principal = { tokenId: 'op', role: 'operator', tenantId: null };

  async function drain() {
    while (await worker.runOnce()) {
      // keep going
    }
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-mailflow-'));
    catcher = await startMailCatcher();
    ({ received } = catcher);
    const { mailer } = catcher;
    store = await Store.open({
      databaseUrl: `sqlite:${join(dir, 'lifeboat.db')}`,
      secretBox: SecretBox.fromKeyFile(join(dir, 'secret.key')),
      deadlines: { requestMs: 300_000, rescueMs: 600_000, exitMs: 600_000 },
      now: () => clock,
    });
    const queue = new JobQueue(store.database.db, store.dialect, store.now);
    rescue = new RescueService({ store, queue, lease: { defaultLeaseMs: 86_400_000, maxLeaseMs: 7 * 86_400_000 }, images: images.registry, mails: true });
    const jobs = rescueJobs({ store, queue, rescue, powerDrivers: acceptingBmc, mailer, log: quiet });
    worker = new Worker({ queue, handlers: jobs.handlers, onGiveUp: jobs.onGiveUp, leaseMs: 60_000, backoff: { baseMs: 1000, maxMs: 1000 }, pollMs: 10, log: quiet });
    scheduler = new DeadlineScheduler({ store, queue, intervalMs: 1000, warnBeforeMs: 3_600_000, log: quiet });
    const tenant = await store.tenants.add('acme', 'ops@acme.test');
    await store.servers.add({ name: 'web-1', tenantId: tenant.id, macs: [], bmc: { driver: 'ipmi', url: 'ipmi://127.0.0.1:1', user: 'u', password: 'p' }, sshEndpoint: { host: '203.0.113.7', port: 22 }, profiles: ['linux'] });
  });
  after(async () => {
    await catcher?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
    images.remove();
  });

  it('mails the password and known_hosts to the tenant once the rescue system is ready, then forgets the password', async () => {
    const server = (await store.servers.byName('web-1'))!;
    const { view } = await rescue.enter(operator, server, { expiresInMs: 2 * 3_600_000 });
    const password = view.ssh.password!;
    await drain();
    const session = (await store.sessions.openFor(server.id))!;
    assert.equal(session.state, 'preparing_rescue');
    const sealed = await store.database.db.selectFrom('secrets').selectAll().where('id', '=', mailPasswordSecret(session.id)).executeTakeFirst();
    assert.ok(sealed && !sealed.sealed.includes(password), 'the waiting password is sealed');
    await store.sessions.setHostKeys(session.id, [{ type: 'ssh-ed25519', publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3x4Wq2vB7nY5kLmP0s root@rescue', fingerprint: 'SHA256:Nf0e3y2T9jKqL8mW5pR1sV4xZ7aB0cD3eF6gH9iJ2kL' }]);
    clock = new Date(clock.getTime() + 60_000);
    await rescue.ready((await store.sessions.byId(session.id))!);
    const ready = (await store.sessions.byId(session.id))!;
    assert.equal(ready.expiresAt.getTime(), clock.getTime() + 2 * 3_600_000, 'the lease counts from ready');
    assert.equal(ready.deadlineAt?.getTime(), ready.expiresAt.getTime());
    await drain();
    assert.equal(received.length, 1);
    assert.deepEqual(received[0]!.to, ['ops@acme.test']);
    const raw = received[0]!.raw.replace(/=\r\n/g, '');
    assert.ok(raw.includes(password), 'the mail holds the password');
    assert.ok(raw.includes('SHA256:Nf0e3y2T9jKqL8mW5pR1sV4xZ7aB0cD3eF6gH9iJ2kL'));
    assert.ok(raw.includes('203.0.113.7 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3x4Wq2vB7nY5kLmP0s'));
    assert.equal(await store.secrets.get(mailPasswordSecret(session.id)), undefined, 'the password is gone once mailed');
  });

  it('warns before the lease ends', async () => {
    clock = new Date(clock.getTime() + 3_600_000 + 1);
    assert.equal(await scheduler.tick(), 1);
    await drain();
    assert.equal(received.length, 2);
    assert.match(received[1]!.raw, /lifeboat rescue extend web-1/);
  });

  it('mails no password when SSH keys were given', async () => {
    const server = (await store.servers.byName('web-1'))!;
    const open = (await store.sessions.openFor(server.id))!;
    await store.sessions.transition(open.id, 'request_exit');
    await store.sessions.transition(open.id, 'exited');
    await rescue.enter(operator, server, { sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBkFz me@laptop'], email: 'me@example.test' });
    await drain();
    const session = (await store.sessions.openFor(server.id))!;
    await rescue.ready((await store.sessions.byId(session.id))!);
    await drain();
    assert.equal(received.length, 3);
    assert.deepEqual(received[2]!.to, ['me@example.test']);
    assert.doesNotMatch(received[2]!.raw, /password:/i);
    assert.match(received[2]!.raw.replace(/=\r\n/g, ''), /no password exists/);
  });
});
