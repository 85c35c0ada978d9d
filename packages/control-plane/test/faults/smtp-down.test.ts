/**
 * Issue 14, "Faults": the SMTP server is down when a rescue becomes ready. The enter answer still
 * carries the password; the credentials mail is retried with backoff for as long as the session is in
 * rescue (well past the five attempts it once had) and delivered once the SMTP server is back, exactly
 * once, with the Message-ID every attempt of that session's mail shares.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SMTPServer } from 'smtp-server';
import type { Principal } from '@lifeboat/core';
import { waitFor } from '@lifeboat/test-support';
import { SecretBox } from '../../src/credentials/secret-box.js';
import { JobQueue } from '../../src/jobs/job-queue.js';
import { Worker } from '../../src/jobs/worker.js';
import { createMailer, type Mailer } from '../../src/mail/index.js';
import { createTestImages } from '../../src/netboot/testing.js';
import { rescueJobs } from '../../src/rescue/rescue-jobs.js';
import { mailCredentialsJob, mailPasswordSecret, RescueService } from '../../src/rescue/rescue-service.js';
import { Store } from '../../src/store/store.js';
import { acceptingBmc } from '../../src/drivers/power/testing.js';

const quiet = { info() {}, warn() {}, error() {} };

/** The project's SMTP test server (smtp-server), on a fixed port so that it can be stopped and started again. */
async function startSmtp(port: number, received: string[]): Promise<SMTPServer> {
  const smtp = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push(Buffer.concat(chunks).toString('utf8'));
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(port, '127.0.0.1', resolve));
  return smtp;
}

const stopSmtp = (smtp: SMTPServer) => new Promise<void>((resolve) => smtp.close(() => resolve()));

describe('the SMTP server down when a rescue becomes ready', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-smtp-down-'));
  const images = createTestImages();
  const received: string[] = [];
  const operator: Principal = { tokenId: 'op', role: 'operator', tenantId: null };
  const stop = new AbortController();
  let store: Store;
  let queue: JobQueue;
  let rescue: RescueService;
  let mailer: Mailer;
  let smtp: SMTPServer | undefined;
  let smtpPort: number;
  let running: Promise<void> | undefined;

  before(async () => {
    smtp = await startSmtp(0, received);
    smtpPort = (smtp.server.address() as AddressInfo).port;
    mailer = createMailer({ smtpUrl: `smtp://127.0.0.1:${smtpPort}`, from: 'Lifeboat <lifeboat@example.test>' });
    store = await Store.open({
      databaseUrl: `sqlite:${join(dir, 'lifeboat.db')}`,
      secretBox: SecretBox.fromKeyFile(join(dir, 'secret.key')),
      deadlines: { requestMs: 300_000, rescueMs: 600_000, exitMs: 600_000 },
    });
    queue = new JobQueue(store.database.db, store.dialect, store.now);
    rescue = new RescueService({ store, queue, lease: { defaultLeaseMs: 86_400_000, maxLeaseMs: 7 * 86_400_000 }, images: images.registry, mails: true });
    const jobs = rescueJobs({ store, queue, rescue, powerDrivers: acceptingBmc, mailer, log: quiet });
    const worker = new Worker({ queue, handlers: jobs.handlers, onGiveUp: jobs.onGiveUp, leaseMs: 60_000, backoff: { baseMs: 20, maxMs: 100 }, pollMs: 10, log: quiet });
    running = worker.run(stop.signal);
    const tenant = await store.tenants.add('acme', 'ops@acme.test');
    await store.servers.add({ name: 'web-1', tenantId: tenant.id, macs: [], bmc: { driver: 'ipmi', url: 'ipmi://127.0.0.1:1', user: 'u', password: 'p' }, sshEndpoint: { host: '203.0.113.7', port: 22 }, profiles: ['linux'] });
  });
  after(async () => {
    stop.abort();
    await running;
    mailer?.close();
    if (smtp) await stopSmtp(smtp);
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
    images.remove();
  });

  it('answers with the password, retries the mail past five attempts, and delivers it once when SMTP is back', async () => {
    await stopSmtp(smtp!);
    smtp = undefined;
    const server = (await store.servers.byName('web-1'))!;
    const { view } = await rescue.enter(operator, server, {});
    const password = view.ssh.password;
    assert.ok(password, 'the enter answer carries the password although no mail can go out');
    await waitFor('the rescue boot to start', async () => (await store.sessions.openFor(server.id))?.state === 'preparing_rescue');
    const session = (await store.sessions.openFor(server.id))!;
    await rescue.ready(session);

    const mailJob = () => store.database.db.selectFrom('jobs').selectAll().where('kind', '=', mailCredentialsJob).executeTakeFirstOrThrow();
    await waitFor('the mail to fail eight times', async () => Number((await mailJob()).attempts) >= 8);
    const failing = await mailJob();
    // Still retried: waiting for its next attempt, or already in it (the worker may have claimed it again).
    assert.ok(['pending', 'running'].includes(failing.state), `still retried after eight failures (state ${failing.state})`);
    assert.match(failing.last_error ?? '', /could not send mail through 127\.0\.0\.1:\d+ \(ESOCKET\)/);
    assert.equal(await store.secrets.get(mailPasswordSecret(session.id)), password, 'the password waits, sealed, for the mail');

    smtp = await startSmtp(smtpPort, received);
    await waitFor('the mail to be delivered', async () => (await mailJob()).state === 'completed');
    assert.equal(received.length, 1);
    const raw = received[0]!.replace(/=\r\n/g, '');
    assert.ok(raw.includes(password), 'the delivered mail holds the password of the enter answer');
    assert.match(raw, new RegExp(`^Message-ID:\\s*<rescue-credentials\\.${session.id}@lifeboat>`, 'im'));
    assert.equal(await store.secrets.get(mailPasswordSecret(session.id)), undefined, 'the password is forgotten once mailed');

    // The job running again (a replica resuming it, a crash after the record) sends nothing.
    await queue.add(mailCredentialsJob, { sessionId: session.id }, { dedupeKey: `mail-again:${session.id}` });
    await waitFor('the second run to finish', async () => {
      const jobs = await store.database.db.selectFrom('jobs').select('state').where('kind', '=', mailCredentialsJob).execute();
      return jobs.every((j) => j.state === 'completed');
    });
    assert.equal(received.length, 1, 'never sent twice');
  });

  it('stops retrying once the session leaves rescue', async () => {
    await stopSmtp(smtp!);
    smtp = undefined;
    const server = (await store.servers.byName('web-1'))!;
    const open = (await store.sessions.openFor(server.id))!;
    await store.sessions.transition(open.id, 'request_exit');
    await store.sessions.transition(open.id, 'exited');
    await rescue.enter(operator, server, {});
    await waitFor('the rescue boot to start', async () => (await store.sessions.openFor(server.id))?.state === 'preparing_rescue');
    const session = (await store.sessions.openFor(server.id))!;
    await rescue.ready(session);
    const mailJob = () =>
      store.database.db.selectFrom('jobs').selectAll().where('kind', '=', mailCredentialsJob).where('dedupe_key', '=', `mail:${session.id}`).executeTakeFirstOrThrow();
    await waitFor('the mail to fail twice', async () => Number((await mailJob()).attempts) >= 2);
    await store.sessions.transition(session.id, 'request_exit');
    await waitFor('the mail job to end', async () => (await mailJob()).state === 'completed');
    assert.equal(received.length, 1, 'nothing mailed for a rescue that is over');
  });
});
