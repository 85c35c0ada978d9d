import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LifeboatError, type Principal } from '@lifeboat/core';
import { waitFor } from '@lifeboat/test-support';
import { consoleDriverFactory } from '../console/console-driver.js';
import { ConsoleHubs } from '../console/console-hub.js';
import { ConsoleRecorder } from '../console/console-recorder.js';
import { serialPort } from '../console/testing.js';
import { SecretBox } from '../credentials/secret-box.js';
import { hashToken } from '../credentials/tokens.js';
import type { BmcEndpoint, BootDevice, PowerAction, PowerDriver, PowerDriverFactory, PowerState } from '../drivers/power/power-driver.js';
import { JobQueue } from '../jobs/job-queue.js';
import { DeadlineScheduler } from '../jobs/scheduler.js';
import { Worker } from '../jobs/worker.js';
import { createTestImages } from '../netboot/testing.js';
import { Store } from '../store/store.js';
import { rescueJobs } from './rescue-jobs.js';
import { RescueService } from './rescue-service.js';

/**
 * A BMC test double at the PowerDriverFactory boundary (the only one replaced here): it records every
 * call in order, keeps a power state, and fails the calls a test tells it to.
 */
class RecordingBmc {
  readonly calls: string[] = [];
  power: PowerState = 'on';
  failures = new Map<string, LifeboatError>();
  passwords: string[] = [];
  /** Whether the BMC can ask the OS to shut down (ACPI). */
  soft = false;

  factory: PowerDriverFactory = (bmc: BmcEndpoint): PowerDriver => {
    this.passwords.push(bmc.password);
    const record = (call: string) => {
      this.calls.push(call);
      const failure = this.failures.get(call);
      if (failure) throw failure;
    };
    return {
      name: bmc.driver,
      capabilities: new Set(this.soft ? ['power', 'soft-power', 'boot-device'] : ['power', 'boot-device']),
      validate: () => record('validate'),
      powerState: async () => {
        record('powerState');
        return this.power;
      },
      setPower: async (action: PowerAction) => {
        record(`setPower:${action}`);
        this.power = action === 'off' || action === 'soft' ? 'off' : 'on';
      },
      setBootDevice: async (device: BootDevice) => record(`setBootDevice:${device}`),
    };
  };

  take(): string[] {
    return this.calls.splice(0);
  }
}

const quiet = { info() {}, warn() {}, error() {} };

describe('rescue flow as durable jobs', { timeout: 120_000 }, () => {
  let dir: string;
  let store: Store;
  let queue: JobQueue;
  let rescue: RescueService;
  let worker: Worker;
  let scheduler: DeadlineScheduler;
  let sshd: NetServer | undefined;
  let sshPort: number;
  let windowsSshPort: number;
  const bmc = new RecordingBmc();
  const images = createTestImages();
  let clock = new Date('2026-05-01T08:00:00.000Z');
  const operator: Principal = { tokenId: 'op', role: 'operator', tenantId: null };

  /** Runs jobs until none is runnable now. */
  async function drain(): Promise<void> {
    while (await worker.runOnce()) {
      // keep going
    }
  }

  async function state(name: string): Promise<string> {
    return (await store.servers.byName(name))!.state;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-rescue-'));
    store = await Store.open({
      databaseUrl: `sqlite:${join(dir, 'lifeboat.db')}`,
      secretBox: SecretBox.fromKeyFile(join(dir, 'secret.key')),
      deadlines: { requestMs: 300_000, rescueMs: 600_000, exitMs: 600_000 },
      now: () => clock,
    });
    queue = new JobQueue(store.database.db, store.dialect, store.now);
    rescue = new RescueService({ store, queue, lease: { defaultLeaseMs: 86_400_000, maxLeaseMs: 7 * 86_400_000 }, images: images.registry, bmcAttempts: 3 });
    const jobs = rescueJobs({ store, queue, rescue, powerDrivers: bmc.factory, probeIntervalMs: 20, agentExitWaitMs: 1000, log: quiet });
    worker = new Worker({ queue, handlers: jobs.handlers, onGiveUp: jobs.onGiveUp, leaseMs: 60_000, backoff: { baseMs: 1000, maxMs: 4000 }, pollMs: 10, log: quiet });
    scheduler = new DeadlineScheduler({ store, queue, intervalMs: 1000, warnBeforeMs: 3_600_000, log: quiet });
    // A port where the "installed system" will answer later; reserve it now.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    sshPort = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const tenant = await store.tenants.add('acme');
    // A Windows server: its installed system answers RDP, not SSH.
    const rdpOnly = createServer();
    await new Promise<void>((r) => rdpOnly.listen(0, '127.0.0.1', r));
    windowsSshPort = (rdpOnly.address() as { port: number }).port;
    await new Promise((r) => rdpOnly.close(r));
    await store.servers.add({
      name: 'win-1',
      tenantId: tenant.id,
      macs: [],
      bmc: { driver: 'ipmi', url: 'ipmi://127.0.0.1:6230', user: 'admin', password: 'pw-win-1' },
      sshEndpoint: { host: '127.0.0.1', port: windowsSshPort },
      profiles: ['linux', 'windows'],
    });
    for (const name of ['web-1', 'web-2', 'web-3']) {
      await store.servers.add({
        name,
        tenantId: tenant.id,
        macs: [],
        bmc: { driver: 'ipmi', url: 'ipmi://127.0.0.1:6230', user: 'admin', password: `pw-${name}` },
        sshEndpoint: { host: '127.0.0.1', port: sshPort },
        profiles: ['linux'],
      });
    }
  });
  after(async () => {
    sshd?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
    images.remove();
  });

  it('enters rescue: validate, boot from network, power cycle, then waits for the agent', async () => {
    const server = (await store.servers.byName('web-1'))!;
    const { task } = await rescue.enter(operator, server, {});
    await drain();
    assert.deepEqual(bmc.take(), ['validate', 'setBootDevice:network', 'powerState', 'setPower:cycle']);
    assert.deepEqual(bmc.passwords.splice(0), ['pw-web-1'], 'the driver got the decrypted BMC password');
    assert.equal(await state('web-1'), 'preparing_rescue');
    const steps = (await store.tasks.byId(task.id))!.steps;
    assert.deepEqual(steps.slice(0, 4).map((s) => [s.name, s.state]), [
      ['validated', 'completed'],
      ['boot_device_set', 'completed'],
      ['power_cycled', 'completed'],
      ['ipxe_script_served', 'pending'],
    ]);
    assert.ok(steps[2]!.startedAt && steps[2]!.endedAt);
  });

  it('refuses a profile without an image before any session, job or BMC command', async () => {
    const server = (await store.servers.byName('web-2'))!;
    await assert.rejects(rescue.enter(operator, { ...server, profiles: ['linux', 'windows'] }, { profile: 'windows' }), (error: LifeboatError) => error.code === 'IMAGE_NOT_FOUND');
    await drain();
    assert.deepEqual(bmc.take(), [], 'the BMC was not touched');
    assert.equal(await store.sessions.latestFor(server.id), undefined);
  });

  it('rolls back to disk boot when the rescue system is not ready by its deadline', async () => {
    assert.equal(await scheduler.tick(), 0);
    clock = new Date(clock.getTime() + 600_000);
    assert.equal(await scheduler.tick(), 1);
    await drain();
    assert.deepEqual(bmc.take(), ['setBootDevice:disk', 'powerState', 'setPower:cycle']);
    const server = (await store.servers.byName('web-1'))!;
    const session = (await store.sessions.openFor(server.id))!;
    assert.equal(session.state, 'rescue_failed');
    assert.match(session.reason ?? '', /did not report ready within 10 min.*set back to boot from its disk/);
    const [task] = await store.tasks.forServer(server.id);
    assert.equal(task?.state, 'failed');
    const waiting = task?.steps.find((s) => s.name === 'ipxe_script_served');
    assert.equal(waiting?.state, 'failed', 'the timeline shows where it stopped');
    assert.match(waiting?.detail ?? '', /did not report ready within 10 min/);
    assert.equal(task?.steps.find((s) => s.name === 'kernel_fetched')?.state, 'skipped');
  });

  it('retries a failing BMC with backoff, then fails the rescue with the reason', async () => {
    const server = (await store.servers.byName('web-2'))!;
    bmc.failures.set('setBootDevice:network', new LifeboatError('BMC_UNREACHABLE', 'ipmi://127.0.0.1:6230: no answer within 20 s'));
    await rescue.enter(operator, server, {});
    await drain();
    assert.deepEqual(bmc.take(), ['validate', 'setBootDevice:network']);
    assert.equal(await state('web-2'), 'rescue_requested');
    clock = new Date(clock.getTime() + 1000);
    await drain();
    assert.deepEqual(bmc.take(), ['setBootDevice:network'], 'validated stays done; the failed step is retried');
    clock = new Date(clock.getTime() + 2000);
    await drain();
    bmc.failures.clear();
    assert.deepEqual(bmc.take(), ['setBootDevice:network', 'setBootDevice:disk', 'powerState', 'setPower:cycle']);
    const session = (await store.sessions.latestFor(server.id))!;
    assert.equal(session.state, 'rescue_failed');
    assert.match(session.reason ?? '', /could not start the rescue boot: .*no answer within 20 s/);
    const [task] = await store.tasks.forServer(server.id);
    assert.deepEqual(task?.steps.slice(0, 3).map((s) => s.state), ['completed', 'failed', 'skipped'], 'one step shows the failure');
  });

  it('takes a redeem that comes before the enter job recorded the reboot (a restart in between) and reboots nothing again', async () => {
    const tenant = (await store.tenants.byName('acme'))!;
    const server = await store.servers.add({ name: 'web-8', tenantId: tenant.id, macs: [], bmc: { driver: 'ipmi', url: 'ipmi://127.0.0.1:6230', user: 'admin', password: 'pw-web-8' }, sshEndpoint: null, profiles: ['linux'] });
    await rescue.enter(operator, server, {});
    // The job set the boot device and the BMC rebooted the server; the control plane died before the
    // job recorded the reboot. The server netboots: script, then redeem, still in rescue_requested.
    const session = (await store.sessions.openFor(server.id))!;
    await store.sessions.setNetboot(session.id, 'rescue');
    const boot = await store.bootCredentials.issue(session.id, '127.0.0.1');
    assert.ok(boot.kind === 'issued');
    assert.equal(session.state, 'rescue_requested');
    assert.equal((await store.bootCredentials.redeem(server.id, hashToken(boot.token), 'agent-hash-8', '127.0.0.1')).kind, 'redeemed');
    await rescue.bootedBeforeRecorded(session);
    assert.equal(await state('web-8'), 'preparing_rescue');
    const [task] = await store.tasks.forServer(server.id);
    const cycled = task?.steps.find((s) => s.name === 'power_cycled');
    assert.equal(cycled?.state, 'completed');
    assert.match(cycled?.detail ?? '', /netbooted the rescue system before the reboot was recorded/);
    // The enter job, resumed, finds the session moved on: no BMC command, the task still open for the agent.
    bmc.take();
    await drain();
    assert.deepEqual(bmc.take(), []);
    assert.equal((await store.tasks.byId(task!.id))?.endedAt, null);
    // Leave nothing for the later tests' clocks: its rescue deadline would roll it back through the BMC.
    await store.sessions.transition(session.id, 'fail', { reason: 'end of this test' });
  });

  it('exits rescue: boot from disk, reboot, wait for the installed system, revoke the agent token', async () => {
    const server = (await store.servers.byName('web-3'))!;
    await rescue.enter(operator, server, {});
    await drain();
    bmc.take();
    const session = (await store.sessions.openFor(server.id))!;
    const boot = await store.bootCredentials.issue(session.id, '127.0.0.1');
    assert.ok(boot.kind === 'issued');
    assert.equal((await store.bootCredentials.redeem(server.id, hashToken(boot.token), 'agent-hash', '127.0.0.1')).kind, 'redeemed');
    await store.sessions.transition(session.id, 'ready');
    const { task } = await rescue.exit(operator, server);
    assert.equal(await state('web-3'), 'exiting_rescue');
    const running = drain();
    // The installed system comes back a little later.
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(await state('web-3'), 'exiting_rescue', 'still waiting for SSH');
    sshd = createServer((socket) => socket.end('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'));
    await new Promise<void>((r) => sshd!.listen(sshPort, '127.0.0.1', r));
    await running;
    assert.deepEqual(bmc.take(), ['validate', 'setBootDevice:disk', 'powerState', 'setPower:cycle']);
    assert.equal(await state('web-3'), 'active');
    assert.equal((await store.sessions.byAgentToken('agent-hash'))?.agentTokenRevoked, true);
    const done = (await store.tasks.byId(task.id))!;
    assert.equal(done.state, 'completed');
    assert.deepEqual(done.steps.map((s) => s.state), ['completed', 'completed', 'completed', 'completed']);
  });

  /** web-3 in rescue with its agent ready (as the agent API's ready does it); returns the session id. */
  async function readyRescue(): Promise<string> {
    const server = (await store.servers.byName('web-3'))!;
    await rescue.enter(operator, server, {});
    await drain();
    bmc.take();
    const session = (await store.sessions.openFor(server.id))!;
    await rescue.ready(session);
    return session.id;
  }

  /** The agent's side of the work channel: takes `leave_rescue` and answers with this report. */
  async function agentAnswers(sessionId: string, report: unknown): Promise<void> {
    for (;;) {
      const taken = await store.agentWork.take(sessionId);
      for (const work of taken) {
        assert.equal(work.kind, 'leave_rescue');
        assert.ok(typeof (work.params as { taskId?: unknown }).taskId === 'string', 'the work names the exit task');
        await store.agentWork.complete(sessionId, work.id, 'completed', report, null);
      }
      if (taken.length > 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it('exits through the agent: it unmounts and reboots, the BMC only sets the boot device', async () => {
    const sessionId = await readyRescue();
    const server = (await store.servers.byName('web-3'))!;
    // Work of the same kind queued earlier by someone else is not this exit's answer.
    const earlier = await store.agentWork.add(sessionId, 'leave_rescue', {});
    await store.agentWork.complete(sessionId, earlier, 'completed', { unmounted: [], clean: true, detail: 'an earlier answer' }, null);
    const { task } = await rescue.exit(operator, server);
    await Promise.all([drain(), agentAnswers(sessionId, { unmounted: ['/mnt/var', '/mnt'], clean: true, detail: 'unmounted /mnt/var, /mnt' })]);
    assert.deepEqual(bmc.take(), ['validate', 'setBootDevice:disk'], 'no power action');
    assert.equal(await state('web-3'), 'active');
    const rebooted = (await store.tasks.byId(task.id))!.steps.find((s) => s.name === 'rebooted');
    assert.equal(rebooted?.detail, 'agent rebooted cleanly (unmounted /mnt/var, /mnt)');
  });

  it('says so when the agent rebooted with something still busy', async () => {
    const sessionId = await readyRescue();
    const { task } = await rescue.exit(operator, (await store.servers.byName('web-3'))!);
    await Promise.all([drain(), agentAnswers(sessionId, { unmounted: ['/mnt/var'], clean: false, detail: 'unmounted /mnt/var; /mnt busy: remounted read-only' })]);
    assert.deepEqual(bmc.take(), ['validate', 'setBootDevice:disk']);
    const rebooted = (await store.tasks.byId(task.id))!.steps.find((s) => s.name === 'rebooted');
    assert.equal(rebooted?.detail, 'agent rebooted, not cleanly: unmounted /mnt/var; /mnt busy: remounted read-only');
  });

  it('power cycles through the BMC when the agent does not answer in time', async () => {
    const sessionId = await readyRescue();
    const { task } = await rescue.exit(operator, (await store.servers.byName('web-3'))!);
    const started = Date.now();
    await drain();
    assert.ok(Date.now() - started >= 1000, 'waited for the agent');
    assert.deepEqual(bmc.take(), ['validate', 'setBootDevice:disk', 'powerState', 'setPower:cycle']);
    const rebooted = (await store.tasks.byId(task.id))!.steps.find((s) => s.name === 'rebooted');
    assert.equal(rebooted?.detail, 'the agent did not answer within 1 s: power cycled through the BMC');
    assert.deepEqual((await store.agentWork.ofKind(sessionId, 'leave_rescue')).map((w) => w.state), ['pending'], 'asked once');
  });

  it('a resumed exit job does not ask the agent twice nor cycle the power after its clean reboot', async () => {
    const sessionId = await readyRescue();
    const { task } = await rescue.exit(operator, (await store.servers.byName('web-3'))!);
    // As if the job had asked and the agent answered before the worker crashed.
    const asked = await store.agentWork.add(sessionId, 'leave_rescue', { taskId: task.id });
    await store.tasks.step(task.id, 'boot_device_set', 'completed', 'next boot: disk');
    await store.tasks.step(task.id, 'rebooted', 'running');
    await store.agentWork.complete(sessionId, asked, 'completed', { unmounted: [], clean: true, detail: 'nothing of the installed system was mounted' }, null);
    await drain();
    assert.deepEqual(bmc.take(), [], 'no BMC action at all');
    assert.deepEqual((await store.agentWork.ofKind(sessionId, 'leave_rescue')).map((w) => w.id), [asked]);
    assert.equal((await store.tasks.byId(task.id))!.steps.find((s) => s.name === 'rebooted')?.detail, 'agent rebooted cleanly (nothing of the installed system was mounted)');
    assert.equal(await state('web-3'), 'active');
  });

  it('stops waiting for the agent when the exit deadline ended the exit meanwhile: no power action', async () => {
    const sessionId = await readyRescue();
    const server = (await store.servers.byName('web-3'))!;
    const { task } = await rescue.exit(operator, server);
    const stop = new AbortController();
    const running = worker.run(stop.signal);
    while ((await store.tasks.byId(task.id))?.steps.find((s) => s.name === 'rebooted')?.state !== 'running') await new Promise((r) => setTimeout(r, 10));
    clock = new Date(clock.getTime() + 600_000);
    await scheduler.tick();
    while ((await store.tasks.byId(task.id))?.steps.find((s) => s.name === 'rebooted')?.state === 'running') await new Promise((r) => setTimeout(r, 10));
    // The exit job itself stops (it sees the exit ended): a worker never runs a job twice at once, so
    // the job must end on its own before the worker stops, or it would wait for its lease.
    const exitRunning = () => store.database.db.selectFrom('jobs').select('id').where('kind', '=', 'rescue.exit').where('state', '=', 'running').executeTakeFirst();
    while ((await exitRunning()) !== undefined) await new Promise((r) => setTimeout(r, 10));
    stop.abort();
    await running;
    assert.equal(await state('web-3'), 'exit_failed');
    assert.deepEqual(bmc.take(), ['validate', 'setBootDevice:disk'], 'no power action after the exit ended');
    assert.equal((await store.tasks.byId(task.id))!.steps.find((s) => s.name === 'rebooted')?.state, 'failed');
    // A retried exit asks again (the earlier question belongs to the failed exit) and ends active.
    await rescue.exit(operator, server);
    await Promise.all([drain(), agentAnswers(sessionId, { unmounted: [], clean: true, detail: 'nothing of the installed system was mounted' })]);
    assert.equal(await state('web-3'), 'active');
    assert.equal((await store.agentWork.ofKind(sessionId, 'leave_rescue')).length, 2);
    bmc.take();
  });

  it('exit while the rescue system is still being prepared goes straight to the BMC', async () => {
    const server = (await store.servers.byName('web-3'))!;
    await rescue.enter(operator, server, {});
    await drain();
    bmc.take();
    const { task } = await rescue.exit(operator, server);
    await drain();
    assert.deepEqual(bmc.take(), ['validate', 'setBootDevice:disk', 'powerState', 'setPower:cycle']);
    assert.equal((await store.tasks.byId(task.id))!.steps.find((s) => s.name === 'rebooted')?.detail, 'the rescue system was not ready: power cycled through the BMC');
  });

  it('lets a running installed system shut down cleanly before the rescue boot, when the BMC can ask it', async () => {
    bmc.soft = true;
    try {
      const server = (await store.servers.byName('web-3'))!;
      const { task } = await rescue.enter(operator, server, {});
      await drain();
      assert.deepEqual(bmc.take(), ['validate', 'setBootDevice:network', 'powerState', 'setPower:soft', 'powerState', 'setPower:on']);
      const step = (await store.tasks.byId(task.id))!.steps.find((s) => s.name === 'power_cycled');
      assert.match(step?.detail ?? '', /shut down cleanly/);
      await rescue.exit(operator, server);
      await drain();
      bmc.take();
      assert.equal(await state('web-3'), 'active');
    } finally {
      bmc.soft = false;
    }
  });

  it('shows an agent that stopped heartbeating as not responding, and as responding again when it is back', async () => {
    const server = (await store.servers.byName('web-3'))!;
    await rescue.enter(operator, server, {});
    await drain();
    bmc.take();
    const session = (await store.sessions.openFor(server.id))!;
    assert.deepEqual((await rescue.show(server)).agent, { lastSeenAt: null, responding: null }, 'nothing expected while preparing');
    await store.sessions.transition(session.id, 'ready');
    await store.sessions.heartbeat(session.id);
    assert.deepEqual((await rescue.show(server)).agent, { lastSeenAt: clock.toISOString(), responding: true });
    clock = new Date(clock.getTime() + 91_000);
    assert.equal((await rescue.show(server)).agent.responding, false, '91 s without a heartbeat');
    await store.sessions.heartbeat(session.id);
    assert.deepEqual((await rescue.show(server)).agent, { lastSeenAt: clock.toISOString(), responding: true });
    await rescue.exit(operator, server);
    await drain();
    bmc.take();
    assert.deepEqual((await rescue.show(server)).agent, { lastSeenAt: null, responding: null }, 'a finished session has no agent');
  });

  it('ends a lease by itself: expiry exits rescue and the server comes back', async () => {
    const server = (await store.servers.byName('web-3'))!;
    await rescue.enter(operator, server, { expiresInMs: 3_600_000 * 2 });
    await drain();
    bmc.take();
    const session = (await store.sessions.openFor(server.id))!;
    await store.sessions.transition(session.id, 'ready');
    clock = new Date(clock.getTime() + 3_600_000 + 1);
    assert.equal(await scheduler.tick(), 1, 'a warning one hour before the end');
    await drain();
    assert.equal((await store.audit.list({ serverId: server.id }))[0]?.action, 'rescue.expiry_warning');
    clock = new Date(clock.getTime() + 3_600_000);
    assert.equal(await scheduler.tick(), 1);
    await drain();
    assert.deepEqual(bmc.take(), ['validate', 'setBootDevice:disk', 'powerState', 'setPower:cycle']);
    assert.equal(await state('web-3'), 'active');
    assert.ok((await store.audit.list({ serverId: server.id })).some((e) => e.action === 'rescue.expire'));
  });

  it('fails an exit as soon as the recorded console shows the installed system stopped in emergency mode', async () => {
    // A server whose console is a serial port on TCP, recorded by the real hub and recorder.
    const serial = await serialPort();
    const hubs = new ConsoleHubs({ drivers: consoleDriverFactory(store.servers) });
    const recorder = new ConsoleRecorder({ hubs, store, flushMs: 50 });
    const jobs = rescueJobs({ store, queue, rescue, powerDrivers: bmc.factory, recorder, probeIntervalMs: 20, agentExitWaitMs: 1000, log: quiet });
    const recording = new Worker({ queue, handlers: jobs.handlers, onGiveUp: jobs.onGiveUp, leaseMs: 60_000, backoff: { baseMs: 1000, maxMs: 4000 }, pollMs: 10, log: quiet });
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    const stop = new AbortController();
    try {
      const tenant = (await store.tenants.byName('acme'))!;
      const server = await store.servers.add({
        name: 'db-1',
        tenantId: tenant.id,
        macs: [],
        bmc: { driver: 'ipmi', url: 'ipmi://127.0.0.1:6230', user: 'admin', password: 'pw-db-1' },
        sshEndpoint: { host: '127.0.0.1', port: deadPort },
        profiles: ['linux'],
        console: `tcp://127.0.0.1:${serial.port}`,
      });
      await rescue.enter(operator, server, {});
      while (await recording.runOnce()) {
        // keep going
      }
      await waitFor('the recorder attached', () => hubs.occupancy(server).viewers.some((v) => v.who === 'recorder'), 10_000, 10);
      const session = (await store.sessions.openFor(server.id))!;
      // The boot before the rescue stopped in emergency mode too: that is not this exit's boot.
      serial.print('You are in emergency mode. After logging in, type "journalctl -xb" to view\r\nGive root password for maintenance\r\n(or press Control-D to continue): ');
      serial.print('\r\nSeaBIOS\r\niPXE\r\nLinux version 6.1.0 (rescue)\r\nlifeboat-rescue login: ');
      await waitFor('the earlier emergency mode in the recording', () => recorder.since(session.id, 0)?.includes('rescue login:') === true, 10_000, 10);
      await rescue.ready(session);
      const { task } = await rescue.exit(operator, server);
      bmc.take();
      const running = recording.run(stop.signal);
      const osAnswered = async () => (await store.tasks.byId(task.id))?.steps.find((s) => s.name === 'os_answered');
      await waitFor('the exit waiting for the installed system', async () => (await osAnswered())?.state === 'running', 10_000, 10);
      // Still waiting a while later: the emergency mode recorded before the reboot does not count.
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(await state('db-1'), 'exiting_rescue');
      serial.print('SeaBIOS\r\nLinux version 6.1.0-28-amd64\r\n[ TIME ] Timed out waiting for device dev-disk-by\\x2duuid-0bad.device.\r\n');
      serial.print('You are in emergency mode. After logging in, type "journalctl -xb" to view\r\nsystem logs, "systemctl reboot" to reboot.\r\n');
      // The prompt comes a moment later (as systemd's does): the reason waits for the console to settle.
      await new Promise((r) => setTimeout(r, 300));
      serial.print('Give root password for maintenance\r\n(or press Control-D to continue): ');
      await waitFor('the exit to fail', async () => (await state('db-1')) === 'exit_failed', 10_000, 10);
      stop.abort();
      await running;
      const failed = (await store.sessions.byId(session.id))!;
      assert.equal(
        failed.reason,
        "the installed system did not come back: it stopped in emergency mode: the console shows 'You are in emergency mode. After logging in, type \"journalctl -xb\" to view / system logs, \"systemctl reboot\" to reboot. / Give root password for maintenance / (or press Control-D to continue):'",
      );
      const ended = (await store.tasks.byId(task.id))!;
      assert.equal(ended.state, 'failed');
      assert.equal(ended.steps.find((s) => s.name === 'os_answered')?.state, 'failed');
      assert.match(ended.steps.find((s) => s.name === 'os_answered')?.detail ?? '', /^it stopped in emergency mode: the console shows 'You are in emergency mode/);
      assert.equal(ended.steps.find((s) => s.name === 'agent_token_revoked')?.state, 'skipped', 'not a success');
    } finally {
      stop.abort();
      await recorder.close();
      await hubs.close();
      await serial.close();
    }
  });

  it('exits a windows rescue once the rescue system has left the server\'s address: Windows answers RDP, not SSH', async () => {
    // The windows image appears (until now its absence was the point of an earlier test).
    mkdirSync(images.dirOf('windows'));
    for (const file of ['vmlinuz', 'initrd', 'rootfs.squashfs']) writeFileSync(join(images.dirOf('windows'), file), `test ${file}\n`);
    const server = (await store.servers.byName('win-1'))!;
    await rescue.enter(operator, server, { profile: 'windows' });
    await drain();
    bmc.take();
    const session = (await store.sessions.openFor(server.id))!;
    assert.equal(session.profile, 'windows');
    await rescue.ready(session);
    // The rescue system's sshd, still up while the exit begins.
    const rescueSshd = createServer((socket) => socket.end('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'));
    await new Promise<void>((r) => rescueSshd.listen(windowsSshPort, '127.0.0.1', r));
    const { task } = await rescue.exit(operator, server);
    const running = drain();
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(await state('win-1'), 'exiting_rescue', 'the rescue system still answers: it has not left');
    // It reboots into Windows: nothing answers SSH there any more.
    await new Promise((r) => rescueSshd.close(r));
    await running;
    assert.equal(await state('win-1'), 'active');
    const done = (await store.tasks.byId(task.id))!;
    assert.equal(done.state, 'completed');
    assert.match(done.steps.find((s) => s.name === 'os_answered')?.detail ?? '', /^the rescue system left 127\.0\.0\.1:\d+; a windows system answers RDP, not SSH: its start is not checked$/);
  });

  it('fails an exit whose installed system never answers, and lets it be retried', async () => {
    sshd?.close();
    sshd = undefined;
    const server = (await store.servers.byName('web-3'))!;
    await rescue.enter(operator, server, {});
    await drain();
    const session = (await store.sessions.openFor(server.id))!;
    await store.sessions.transition(session.id, 'ready');
    await rescue.exit(operator, server);
    bmc.take();
    const stop = new AbortController();
    const running = worker.run(stop.signal);
    while ((await store.tasks.latestFor(session.id, 'exit_rescue'))?.steps.find((s) => s.name === 'os_answered')?.state !== 'running') {
      await new Promise((r) => setTimeout(r, 20));
    }
    clock = new Date(clock.getTime() + 600_000);
    await scheduler.tick();
    while ((await state('web-3')) !== 'exit_failed') await new Promise((r) => setTimeout(r, 20));
    stop.abort();
    await running;
    const failed = (await store.sessions.openFor(server.id))!;
    assert.match(failed.reason ?? '', /did not answer on SSH within 10 min/);
    const retried = await rescue.exit(operator, server);
    assert.equal(retried.view.state, 'exiting_rescue');
  });
});
