/**
 * The doctor's findings mail through a real SMTP server on loopback: queued when the agent's report
 * arrives `done`, sent by the job worker, sent once (a second `done` report sends nothing more).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { brokenDoctorReport } from '@lifeboat/test-support';
import { Worker } from '../jobs/worker.js';
import { startMailCatcher, type MailCatcher, type ReceivedMail } from '../mail/testing.js';
import { putInRescue, startTestApp, type TestApp } from '../http/testing.js';
import { doctorJobs, doctorMailedAction } from './doctor-mail.js';

const quiet = { info() {}, warn() {}, error() {} };

describe("the doctor's findings mail (real SMTP server on loopback)", { timeout: 60_000 }, () => {
  let catcher: MailCatcher;
  let received: ReceivedMail[];
  let testApp: TestApp;
  let worker: Worker;

  async function drain() {
    while (await worker.runOnce()) {
      // keep going
    }
  }

  before(async () => {
    catcher = await startMailCatcher();
    ({ received } = catcher);
    const { mailer } = catcher;
    testApp = await startTestApp({ app: { mailer } });
    worker = new Worker({ queue: testApp.queue, handlers: doctorJobs({ store: testApp.store, mailer }), leaseMs: 60_000, backoff: { baseMs: 1000, maxMs: 1000 }, pollMs: 10, log: quiet });
    const tenant = await testApp.store.tenants.add('acme', 'ops@acme.test');
    const bmc = { driver: 'ipmi' as const, url: 'ipmi://127.0.0.1:6230', user: 'admin', password: null };
    await testApp.store.servers.add({ name: 'web-1', tenantId: tenant.id, macs: [], bmc, sshEndpoint: null, profiles: ['linux'] });
    await testApp.store.servers.add({ name: 'web-2', tenantId: tenant.id, macs: [], bmc, sshEndpoint: null, profiles: ['linux'] });
  });
  after(async () => {
    await catcher?.close();
    await testApp?.close();
  });

  it('mails the findings once the report is done: severity, summary, evidence, the fix command; never twice', async () => {
    const agent = await putInRescue(testApp, 'web-1', new Date(Date.now() + 3_600_000), { email: 'me@acme.test' });
    await testApp.call('POST', '/v1/agent/doctor', agent, { state: 'running', startedAt: '2026-06-01T10:00:05.000Z', findings: [] });
    await drain();
    assert.equal(received.length, 0, 'a running report mails nothing');
    assert.equal((await testApp.call('POST', '/v1/agent/doctor', agent, brokenDoctorReport())).status, 204);
    await drain();
    assert.equal(received.length, 1);
    assert.deepEqual(received[0]!.to, ['me@acme.test']);
    const raw = received[0]!.raw.replace(/=\r\n/g, '').replace(/=3D/g, '=');
    assert.match(raw, /Subject: \[Lifeboat\] web-1: 4 findings on the installed system/);
    assert.match(raw, /Message-ID: <doctor-findings\.[0-9a-f-]+@lifeboat>/i);
    const text = raw.slice(0, raw.indexOf('text/html'));
    assert.match(text, /found 4 findings, 2 of which will stop it from booting or answering SSH/);
    assert.match(text, /\[CRITICAL\] \/etc\/fstab mounts \/data from UUID=5b1e0c2a-/);
    assert.match(text, /\/etc\/fstab:2: UUID=5b1e0c2a-7d4f-4a8e-9a51-3f0c2d9e8b11 \/data ext4 defaults 0 2/);
    assert.match(text, /lifeboat doctor fix web-1 fstab-data/);
    assert.match(text, /lifeboat doctor fix web-1 firewall-nftables/);
    assert.match(text, /\[INFO\] The last boot logged 2 errors/);
    assert.match(text, /\$ journalctl --directory \/var\/log\/journal -b 0 -p err/);
    assert.doesNotMatch(text, /lifeboat doctor fix web-1 journal/, 'no fix command for a finding without a fix');
    assert.ok(text.indexOf('[CRITICAL]') < text.indexOf('[WARNING]') && text.indexOf('[WARNING]') < text.indexOf('[INFO]'), 'the most serious first');

    // The agent runs the doctor again (after a fix, or restarted): no second mail.
    assert.equal((await testApp.call('POST', '/v1/agent/doctor', agent, brokenDoctorReport())).status, 204);
    await drain();
    assert.equal(received.length, 1);
    const mailed = (await testApp.store.audit.list()).filter((e) => e.action === doctorMailedAction);
    assert.equal(mailed.length, 1);
  });

  it('mails nothing without an address or without findings', async () => {
    const agent = await putInRescue(testApp, 'web-2', new Date(Date.now() + 3_600_000));
    assert.equal((await testApp.call('POST', '/v1/agent/doctor', agent, brokenDoctorReport())).status, 204);
    await drain();
    assert.equal(received.length, 1);
  });
});
