/**
 * The metrics' own counting, with real parts: the mailer against a real SMTP server (and against a port
 * where none listens), the store's timeline steps, and BMC calls through the real IPMI driver to a BMC
 * address where none answers (its refusal counted by code).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { SecretBox } from '../credentials/secret-box.js';
import { powerDriverFactory } from '../drivers/power/index.js';
import { JobQueue } from '../jobs/job-queue.js';
import { createMailer } from '../mail/index.js';
import { Store } from '../store/store.js';
import { ControlPlaneMetrics } from './metrics.js';

/** The value of one sample (`name{labels} value`), or undefined when absent. */
async function sample(metrics: ControlPlaneMetrics, series: string): Promise<number | undefined> {
  const line = (await metrics.registry.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('ControlPlaneMetrics', () => {
  let dir: string;
  let store: Store;
  let metrics: ControlPlaneMetrics;
  let smtp: SMTPServer;
  let smtpPort: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-metrics-'));
    store = await Store.open({ databaseUrl: `sqlite:${join(dir, 'lifeboat.db')}`, secretBox: SecretBox.fromKeyFile(join(dir, 'secret.key')), deadlines: { requestMs: 300_000, rescueMs: 600_000, exitMs: 600_000 } });
    metrics = new ControlPlaneMetrics({ store, queue: new JobQueue(store.database.db, store.dialect) });
    smtp = new SMTPServer({ disabledCommands: ['STARTTLS', 'AUTH'], logger: false, onData: (stream, _session, callback) => stream.on('data', () => {}).on('end', () => callback()) });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    smtpPort = (smtp.server.address() as AddressInfo).port;
  });

  after(async () => {
    metrics.close();
    await store.close();
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  const warning = { to: 'ops@example.test', server: 'web-1', expiresAt: new Date(Date.now() + 3_600_000), extendCommand: 'lifeboat rescue extend web-1 2h', exitCommand: 'lifeboat rescue exit web-1' };

  it('counts mails sent and failed', async () => {
    const sent = metrics.instrumentMailer(createMailer({ smtpUrl: `smtp://127.0.0.1:${smtpPort}`, from: 'lifeboat@example.test' }));
    await sent.sendExpiryWarning(warning);
    sent.close();
    assert.equal(await sample(metrics, 'lifeboat_mails_total{kind="expiry_warning",result="sent"}'), 1);

    // An SMTP server that is down: the mail fails, and is counted as failed.
    const down = new SMTPServer({ logger: false });
    await new Promise<void>((resolve) => down.listen(0, '127.0.0.1', resolve));
    const downPort = (down.server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => down.close(() => resolve()));
    const failing = metrics.instrumentMailer(createMailer({ smtpUrl: `smtp://127.0.0.1:${downPort}`, from: 'lifeboat@example.test' }));
    await assert.rejects(failing.sendExpiryWarning(warning));
    failing.close();
    assert.equal(await sample(metrics, 'lifeboat_mails_total{kind="expiry_warning",result="failed"}'), 1);
  });

  it('times the timeline steps the store ends', async () => {
    const tenant = await store.tenants.add('acme');
    const server = await store.servers.add({ name: 'web-1', tenantId: tenant.id, macs: ['52:54:00:14:00:99'], bmc: { driver: 'redfish', url: 'redfish://127.0.0.1:1/redfish/v1/Systems/1', user: 'root', password: 'pw' }, sshEndpoint: null, profiles: ['linux'] });
    const task = await store.tasks.create({ serverId: server.id, sessionId: null, kind: 'enter_rescue', steps: ['validated'] });
    await store.tasks.step(task.id, 'validated', 'running');
    await store.tasks.step(task.id, 'validated', 'completed', 'redfish BMC');
    assert.equal(await sample(metrics, 'lifeboat_boot_step_duration_seconds_count{task="enter_rescue",step="validated",result="completed"}'), 1);
    // Ending a step that already ended is no new observation.
    await store.tasks.step(task.id, 'validated', 'completed');
    assert.equal(await sample(metrics, 'lifeboat_boot_step_duration_seconds_count{task="enter_rescue",step="validated",result="completed"}'), 1);
  });

  it('counts BMC calls by result and times them', async () => {
    const drivers = metrics.instrumentPowerDrivers(powerDriverFactory());
    // A Redfish BMC where nothing listens: refused at once, counted by its code.
    const driver = drivers({ driver: 'redfish', url: 'redfish://127.0.0.1:1/redfish/v1/Systems/1', user: 'root', password: 'pw' });
    await assert.rejects(driver.powerState(), { code: 'BMC_UNREACHABLE' });
    assert.equal(await sample(metrics, 'lifeboat_bmc_calls_total{driver="redfish",action="power_state",result="BMC_UNREACHABLE"}'), 1);
    assert.equal(await sample(metrics, 'lifeboat_bmc_call_duration_seconds_count{driver="redfish",action="power_state"}'), 1);
    assert.equal(driver.name, 'redfish');
    assert.ok(driver.capabilities.has('boot-device'));
  });
});
