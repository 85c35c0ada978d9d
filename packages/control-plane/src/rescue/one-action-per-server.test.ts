import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Principal } from '@lifeboat/core';
import { SecretBox } from '../credentials/secret-box.js';
import type { BmcEndpoint, BootDevice, PowerAction, PowerDriver, PowerDriverFactory, PowerState } from '../drivers/power/power-driver.js';
import { JobQueue } from '../jobs/job-queue.js';
import { DeadlineScheduler, deadlineJob } from '../jobs/scheduler.js';
import { Worker, type JobHandler } from '../jobs/worker.js';
import { createTestImages } from '../netboot/testing.js';
import { Store } from '../store/store.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../store/testing.js';
import { rescueJobs } from './rescue-jobs.js';
import { enterJob, exitJob, RescueService } from './rescue-service.js';

/** Which job issued a BMC command: set around each real handler by the test's worker. */
const issuer = new AsyncLocalStorage<string>();

/**
 * A BMC test double at the PowerDriverFactory boundary (the only part replaced): one BMC shared by
 * every driver instance, as a real one is; it records each command with the job kind that issued it,
 * keeps the power state and the next boot device, and can hold a command (a BMC that takes its time)
 * until the test releases it.
 */
class RecordingBmc {
  readonly commands: Array<[job: string, command: string]> = [];
  power: PowerState = 'on';
  bootDevice: BootDevice = 'disk';
  #held = new Map<string, { reached: () => void; release: Promise<void> }>();

  /** Holds `command` when it is next issued; `reached` resolves then, `release()` lets it finish. */
  hold(command: string): { reached: Promise<void>; release: () => void } {
    let reached!: () => void;
    let release!: () => void;
    const reachedPromise = new Promise<void>((r) => (reached = r));
    const releasePromise = new Promise<void>((r) => (release = r));
    this.#held.set(command, { reached, release: releasePromise });
    return { reached: reachedPromise, release };
  }

  async #record(command: string): Promise<void> {
    this.commands.push([issuer.getStore() ?? 'unknown', command]);
    const held = this.#held.get(command);
    if (held) {
      this.#held.delete(command);
      held.reached();
      await held.release;
    }
  }

  factory: PowerDriverFactory = (bmc: BmcEndpoint): PowerDriver => ({
    name: bmc.driver,
    capabilities: new Set(['power', 'boot-device']),
    validate: () => void this.commands.push([issuer.getStore() ?? 'unknown', 'validate']),
    powerState: async () => {
      await this.#record('powerState');
      return this.power;
    },
    setPower: async (action: PowerAction) => {
      await this.#record(`setPower:${action}`);
      this.power = action === 'off' || action === 'soft' ? 'off' : 'on';
    },
    setBootDevice: async (device: BootDevice) => {
      await this.#record(`setBootDevice:${device}`);
      this.bootDevice = device;
    },
  });

  take(): Array<[string, string]> {
    return this.commands.splice(0);
  }
}

const quiet = { info() {}, warn() {}, error() {} };
const operator: Principal = { tokenId: 'op', role: 'operator', tenantId: null };
const enterCommands = ['validate', 'setBootDevice:network', 'powerState', 'setPower:cycle'];
const exitCommands = ['validate', 'setBootDevice:disk', 'powerState', 'setPower:cycle'];

async function until<T>(what: string, check: () => Promise<T | undefined | null | false>): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const dialect of testDialects()) {
  describe(`one action at a time per server on ${dialect}: rescue exit during an enter`, { timeout: 120_000 }, () => {
    let dir: string;
    let database: TestDatabase;
    const stores: Store[] = [];
    let rescue: RescueService;
    let store: Store;
    const workers: Worker[] = [];
    const bmc = new RecordingBmc();
    const images = createTestImages();
    let stop: AbortController;
    let running: Array<Promise<void>> = [];
    /** The control planes' clock runs ahead of real time by this much (a test moves it to expire a lease or pass a deadline). */
    let skew = 0;
    const leaseMs = 600_000;

    /** A control plane's job side on its own connection: the real handlers, each run tagged with its kind. */
    async function controlPlane(): Promise<{ store: Store; queue: JobQueue; rescue: RescueService; worker: Worker }> {
      const own = await Store.open({
        databaseUrl: database.url,
        secretBox: SecretBox.fromKeyFile(join(dir, 'secret.key')),
        deadlines: { requestMs: 300_000, rescueMs: 900_000, exitMs: 900_000 },
        now: () => new Date(Date.now() + skew),
      });
      stores.push(own);
      const queue = new JobQueue(own.database.db, own.dialect, own.now);
      const service = new RescueService({ store: own, queue, lease: { defaultLeaseMs: 86_400_000, maxLeaseMs: 7 * 86_400_000 }, images: images.registry });
      const jobs = rescueJobs({ store: own, queue, rescue: service, powerDrivers: bmc.factory, probeIntervalMs: 20, log: quiet });
      const tagged: Record<string, JobHandler> = {};
      for (const [kind, handler] of Object.entries(jobs.handlers)) tagged[kind] = (context) => issuer.run(kind, () => handler(context));
      const worker = new Worker({ queue, handlers: tagged, onGiveUp: jobs.onGiveUp, leaseMs, backoff: { baseMs: 50, maxMs: 200 }, pollMs: 10, concurrency: 4, log: quiet });
      return { store: own, queue, rescue: service, worker };
    }

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'lifeboat-one-action-'));
      database = await createTestDatabase(dialect);
      // Two control planes on one database, each with a worker running four jobs at once.
      const first = await controlPlane();
      const second = await controlPlane();
      store = first.store;
      rescue = first.rescue;
      workers.push(first.worker, second.worker);
      const tenant = await store.tenants.add('acme');
      for (const name of ['before-validated', 'after-boot-device', 'after-power-cycle', 'while-preparing', 'crashed-enter', 'deadline-during-enter']) {
        await store.servers.add({
          name,
          tenantId: tenant.id,
          macs: [],
          bmc: { driver: 'ipmi', url: 'ipmi://127.0.0.1:6230', user: 'admin', password: 'pw' },
          sshEndpoint: null,
          profiles: ['linux'],
        });
      }
    });
    after(async () => {
      stop?.abort();
      await Promise.all(running);
      for (const s of stores) await s.close();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
      images.remove();
    });

    function startWorkers(): void {
      stop = new AbortController();
      running = workers.map((w) => w.run(stop.signal));
    }
    async function stopWorkers(): Promise<void> {
      stop.abort();
      await Promise.all(running);
      running = [];
    }

    /** Waits for the server to be back to active, then checks the BMC and the session. */
    async function endsActive(name: string): Promise<Array<[string, string]>> {
      const server = (await store.servers.byName(name))!;
      await until(`${name} to be active`, async () => (await store.servers.byName(name))!.state === 'active');
      const session = (await store.sessions.latestFor(server.id))!;
      // The exit job moves the session to active, then closes its task: wait for both.
      await until(`${name}'s exit task to end`, async () => (await store.tasks.latestFor(session.id, 'exit_rescue'))?.endedAt);
      assert.notEqual(session.endedAt, null);
      assert.equal(bmc.bootDevice, 'disk', 'the next boot is from disk');
      assert.equal(await store.sessions.netboot(session.id), 'disk', 'the netboot server answers "disk"');
      const exitTask = (await store.tasks.latestFor(session.id, 'exit_rescue'))!;
      assert.equal(exitTask.state, 'completed', JSON.stringify(await store.tasks.forServer(server.id)));
      const enterTask = (await store.tasks.latestFor(session.id, 'enter_rescue'))!;
      assert.notEqual(enterTask.endedAt, null, 'the enter timeline is closed');
      return bmc.take();
    }

    /** Asserts that the commands are the enter job's, then the exit job's, never mixed. */
    function notInterleaved(commands: Array<[string, string]>, enter: string[]): void {
      const kinds = commands.map(([job]) => job);
      const firstExit = kinds.indexOf(exitJob);
      assert.ok(firstExit >= 0, 'the exit job acted');
      assert.ok(kinds.slice(firstExit).every((k) => k === exitJob), `an enter command came after the exit began: ${JSON.stringify(commands)}`);
      assert.deepEqual(commands, [...enter.map((c) => [enterJob, c]), ...exitCommands.map((c) => [exitJob, c])]);
    }

    it('exit requested before the enter job validated: the enter does nothing, the exit runs', async () => {
      const server = (await store.servers.byName('before-validated'))!;
      await rescue.enter(operator, server, {});
      await rescue.exit(operator, server);
      startWorkers();
      try {
        notInterleaved(await endsActive('before-validated'), []);
      } finally {
        await stopWorkers();
      }
      const session = (await store.sessions.latestFor(server.id))!;
      const enterTask = (await store.tasks.latestFor(session.id, 'enter_rescue'))!;
      assert.equal(enterTask.steps.find((s) => s.name === 'validated')?.state, 'failed');
      assert.match(enterTask.steps.find((s) => s.name === 'validated')?.detail ?? '', /rescue exit requested/);
    });

    it('exit requested while the boot device is being set: the exit waits, the enter stops before the power cycle', async () => {
      const server = (await store.servers.byName('after-boot-device'))!;
      const held = bmc.hold('setBootDevice:network');
      await rescue.enter(operator, server, {});
      startWorkers();
      try {
        await held.reached;
        await rescue.exit(operator, server);
        const session = (await store.sessions.openFor(server.id))!;
        const exitJobRow = await until('the exit job', async () => {
          const rows = await stores[0]!.database.db.selectFrom('jobs').selectAll().where('kind', '=', exitJob).where('params', 'like', `%${session.id}%`).execute();
          return rows[0];
        });
        // A third worker polling now finds nothing it may claim: the enter job holds the server's key.
        const probe = await controlPlane();
        assert.equal(await probe.worker.runOnce(), false, 'the exit job is not claimable while the enter job runs');
        assert.equal((await probe.queue.byId(exitJobRow.id))?.state, 'pending');
        held.release();
        const commands = await endsActive('after-boot-device');
        notInterleaved(commands, ['validate', 'setBootDevice:network']);
        const enterTask = (await store.tasks.latestFor(session.id, 'enter_rescue'))!;
        assert.equal(enterTask.steps.find((s) => s.name === 'boot_device_set')?.state, 'completed');
        assert.equal(enterTask.steps.find((s) => s.name === 'power_cycled')?.state, 'failed', 'the timeline shows where the enter stopped');
      } finally {
        held.release();
        await stopWorkers();
      }
    });

    it('exit requested during the power cycle: the cycle finishes, then the exit runs', async () => {
      const server = (await store.servers.byName('after-power-cycle'))!;
      const held = bmc.hold('setPower:cycle');
      await rescue.enter(operator, server, {});
      startWorkers();
      try {
        await held.reached;
        await rescue.exit(operator, server);
        held.release();
        notInterleaved(await endsActive('after-power-cycle'), enterCommands);
      } finally {
        held.release();
        await stopWorkers();
      }
    });

    it('exit requested while preparing rescue: the exit runs after the finished enter', async () => {
      const server = (await store.servers.byName('while-preparing'))!;
      await rescue.enter(operator, server, {});
      startWorkers();
      try {
        await until('preparing_rescue', async () => (await store.servers.byName('while-preparing'))!.state === 'preparing_rescue');
        const session = (await store.sessions.openFor(server.id))!;
        assert.equal(await store.sessions.netboot(session.id), 'rescue', 'the netboot server answers the rescue image');
        await rescue.exit(operator, server);
        notInterleaved(await endsActive('while-preparing'), enterCommands);
      } finally {
        await stopWorkers();
      }
    });

    it('an enter job whose worker crashed keeps the server\'s key until its lease expires; it then resumes, stops, and the exit runs', async () => {
      const server = (await store.servers.byName('crashed-enter'))!;
      await rescue.enter(operator, server, {});
      const crashed = await controlPlane();
      const claimed = await crashed.queue.claim('crashed-worker', leaseMs, [enterJob]);
      assert.equal(claimed?.kind, enterJob, 'a worker claimed the enter job, then died');
      await rescue.exit(operator, server);
      assert.equal(await crashed.worker.runOnce(), false, 'the exit job waits for the crashed enter job\'s key');
      startWorkers();
      try {
        skew += leaseMs + 1000;
        notInterleaved(await endsActive('crashed-enter'), []);
        assert.equal((await crashed.queue.byId(claimed!.id))?.attempts, 2, 'the enter job was claimed again after its lease, and stopped');
      } finally {
        await stopWorkers();
      }
    });

    it('a rollback due while the enter job runs waits for it; the enter then finishes and the rollback has nothing to do', async () => {
      const server = (await store.servers.byName('deadline-during-enter'))!;
      const held = bmc.hold('setBootDevice:network');
      await rescue.enter(operator, server, {});
      startWorkers();
      try {
        await held.reached;
        skew += 301_000;
        const scheduler = new DeadlineScheduler({ store, queue: new JobQueue(store.database.db, store.dialect, store.now), intervalMs: 1000, warnBeforeMs: 0, log: quiet });
        assert.ok((await scheduler.tick()) >= 1, 'the request deadline passed');
        const probe = await controlPlane();
        assert.equal(await probe.worker.runOnce(), false, 'the rollback is not claimable while the enter job runs');
        const rollback = await store.database.db.selectFrom('jobs').selectAll().where('kind', '=', deadlineJob).where('state', '=', 'pending').executeTakeFirst();
        assert.equal(rollback?.lock_key, `server:${server.id}`);
        held.release();
        await until('preparing_rescue', async () => (await store.servers.byName('deadline-during-enter'))!.state === 'preparing_rescue');
        await until('the rollback job to end', async () => (await probe.queue.byId(rollback!.id))?.state === 'completed');
        assert.deepEqual(bmc.take(), enterCommands.map((c) => [enterJob, c]), 'no rollback command: the session had moved on');
        await rescue.exit(operator, server);
        notInterleaved([...enterCommands.map((c): [string, string] => [enterJob, c]), ...(await endsActive('deadline-during-enter'))], enterCommands);
      } finally {
        held.release();
        await stopWorkers();
      }
    });
  });
}
