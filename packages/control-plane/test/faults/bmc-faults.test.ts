/**
 * Issue 14, "Faults": the BMC stopped, slowed down, or its password changed in the middle of a rescue,
 * with both real drivers against their simulators (OpenIPMI's ipmi_sim through ipmitool, the strict
 * Redfish BMC over HTTP). The enter (or exit) job retries with backoff, then the session fails with a
 * message the customer can act on; refused credentials are final after one more try; once the BMC
 * answers again, a follow-up job sets the boot device back to disk, reading it first.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Principal } from '@lifeboat/core';
import { waitFor } from '@lifeboat/test-support';
import { SecretBox } from '../../src/credentials/secret-box.js';
import { createPowerDriver, powerDriverFactory, type PowerDriverOptions } from '../../src/drivers/power/index.js';
import type { BmcEndpoint } from '../../src/drivers/power/power-driver.js';
import { JobQueue } from '../../src/jobs/job-queue.js';
import { Worker } from '../../src/jobs/worker.js';
import { createTestImages } from '../../src/netboot/testing.js';
import { rescueJobs } from '../../src/rescue/rescue-jobs.js';
import { enterJob, exitJob, restoreDiskBootJob, RescueService } from '../../src/rescue/rescue-service.js';
import { Store } from '../../src/store/store.js';
import { startIpmiSim, type IpmiSim } from '../drivers/ipmi-sim.js';
import { startRedfishBmc, type RedfishBmc } from '../drivers/redfish-bmc.js';

const quiet = { info() {}, warn() {}, error() {} };
const bmcAttempts = 4;
// Short per-call timeouts so that an unanswering BMC fails an attempt in about a second.
const driverOptions: PowerDriverOptions = { ipmi: { answerSeconds: 1, retries: 0, commandMs: 2000 }, redfish: { requestMs: 500 } };

describe('BMC faults in the middle of a rescue (ipmi_sim and the Redfish simulator)', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-bmc-faults-'));
  const images = createTestImages();
  const operator: Principal = { tokenId: 'op', role: 'operator', tenantId: null };
  const stop = new AbortController();
  const bmcs: Array<{ stop(): Promise<void> }> = [];
  let store: Store;
  let rescue: RescueService;
  let tenantId: string;
  let running: Promise<void> | undefined;

  before(async () => {
    store = await Store.open({
      databaseUrl: `sqlite:${join(dir, 'lifeboat.db')}`,
      secretBox: SecretBox.fromKeyFile(join(dir, 'secret.key')),
      deadlines: { requestMs: 600_000, rescueMs: 600_000, exitMs: 600_000 },
    });
    const queue = new JobQueue(store.database.db, store.dialect, store.now);
    rescue = new RescueService({ store, queue, lease: { defaultLeaseMs: 86_400_000, maxLeaseMs: 7 * 86_400_000 }, images: images.registry, bmcAttempts });
    const jobs = rescueJobs({ store, queue, rescue, powerDrivers: powerDriverFactory(driverOptions), agentExitWaitMs: 200, log: quiet });
    const worker = new Worker({ queue, handlers: jobs.handlers, onGiveUp: jobs.onGiveUp, leaseMs: 60_000, backoff: { baseMs: 50, maxMs: 200 }, pollMs: 20, log: quiet });
    running = worker.run(stop.signal);
    tenantId = (await store.tenants.add('acme')).id;
  });
  after(async () => {
    stop.abort();
    await running;
    for (const bmc of bmcs) await bmc.stop();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
    images.remove();
  });

  async function addServer(name: string, bmc: Omit<BmcEndpoint, 'driver'> & { driver: 'ipmi' | 'redfish' }) {
    return store.servers.add({ name, tenantId, macs: [], bmc, sshEndpoint: null, profiles: ['linux'] });
  }

  const jobsOf = async (kind: string, serverName: string) => {
    const server = (await store.servers.byName(serverName))!;
    const sessions = await store.database.db.selectFrom('rescue_sessions').select('id').where('server_id', '=', server.id).execute();
    const ids = new Set(sessions.map((s) => s.id));
    const rows = await store.database.db.selectFrom('jobs').selectAll().where('kind', '=', kind).execute();
    return rows.filter((r) => ids.has((JSON.parse(r.params) as { sessionId: string }).sessionId));
  };

  /** Waits for the server's session to reach `state` and returns its reason. */
  async function settled(name: string, state: string): Promise<string> {
    return waitFor(`${name} to be ${state}`, async () => {
      const server = (await store.servers.byName(name))!;
      const session = await store.sessions.openFor(server.id);
      return session?.state === state ? (session.reason ?? '') : undefined;
    }, 60_000, 50);
  }

  async function restored(name: string): Promise<void> {
    await waitFor(`${name}'s boot device to be restored`, async () => (await jobsOf(restoreDiskBootJob, name)).some((j) => j.state === 'completed'), 60_000, 50);
  }

  describe('redfish', () => {
    let bmc: RedfishBmc;
    let stopAfterBootDevice: ((bmc: RedfishBmc) => void) | undefined;
    const endpoint = () => ({ driver: 'redfish' as const, url: `redfish://127.0.0.1:${bmc.port}/redfish/v1/Systems/1`, user: bmc.user, password: bmc.password });

    before(async () => {
      bmc = await startRedfishBmc({
        afterRequest: (method, path) => {
          if (method === 'PATCH' && path === '/redfish/v1/Systems/1' && stopAfterBootDevice) {
            const fault = stopAfterBootDevice;
            stopAfterBootDevice = undefined;
            fault(bmc);
          }
        },
      });
      bmcs.push(bmc);
    });

    it('stopped after setting the boot device: retried, failed with a message, disk boot restored once it answers', async () => {
      await addServer('rf-stopped', endpoint());
      stopAfterBootDevice = (b) => void b.pause();
      const server = (await store.servers.byName('rf-stopped'))!;
      await rescue.enter(operator, server, {});
      const reason = await settled('rf-stopped', 'rescue_failed');
      assert.match(reason, new RegExp(`^could not start the rescue boot: the server's BMC at 127\\.0\\.0\\.1:${bmc.port} did not answer for \\d+ s; ask your provider to check the BMC, then try again`));
      assert.match(reason, /the server will be set back to boot from its disk as soon as its BMC answers$/);
      const [enter] = await jobsOf(enterJob, 'rf-stopped');
      assert.equal(enter!.state, 'failed');
      assert.equal(Number(enter!.attempts), bmcAttempts, 'retried up to its attempts');
      assert.equal(bmc.state.bootTarget, 'Pxe', 'the BMC stopped with the network boot set');
      assert.deepEqual(bmc.state.resets, [], 'the server was never rebooted');

      await bmc.resume();
      await restored('rf-stopped');
      assert.equal(bmc.state.bootTarget, 'Hdd');
      assert.deepEqual(bmc.state.resets, [], 'a server that never rebooted into rescue is not cycled');
      assert.deepEqual(bmc.violations, []);
    });

    it('its password changed mid-rescue: one more try, then a final failure asking for new credentials', async () => {
      await addServer('rf-password', endpoint());
      const original = bmc.password;
      stopAfterBootDevice = (b) => b.setPassword('changed-by-someone-1');
      const server = (await store.servers.byName('rf-password'))!;
      await rescue.enter(operator, server, {});
      const reason = await settled('rf-password', 'rescue_failed');
      assert.match(reason, new RegExp(`the server's BMC at 127\\.0\\.0\\.1:${bmc.port} refused the credentials Lifeboat has for it; ask your provider to update them`));
      const [enter] = await jobsOf(enterJob, 'rf-password');
      assert.equal(enter!.state, 'failed');
      assert.equal(Number(enter!.attempts), 2, 'refused credentials are not retried up to the attempts');
      // The restore job keeps trying; the operator gives Lifeboat the BMC's new password
      // (`lifeboat servers set-bmc NAME --bmc-password-file F`) and its next attempt succeeds.
      await waitFor('the restore job to be refused twice', async () => Number((await jobsOf(restoreDiskBootJob, 'rf-password'))[0]?.attempts ?? 0) >= 2, 30_000, 50);
      assert.equal(bmc.state.bootTarget, 'Pxe');
      assert.notEqual(bmc.password, original);
      await store.servers.updateBmc(server, { password: bmc.password });
      await restored('rf-password');
      assert.equal(bmc.state.bootTarget, 'Hdd');
    });

    it('slow but within the per-call timeout: the rescue boot starts', async () => {
      await addServer('rf-slow', endpoint());
      bmc.delayMs = 100;
      try {
        const server = (await store.servers.byName('rf-slow'))!;
        const resets = bmc.state.resets.length;
        await rescue.enter(operator, server, {});
        await settled('rf-slow', 'preparing_rescue');
        assert.equal(bmc.state.bootTarget, 'Pxe');
        assert.equal(bmc.state.resets.length, resets + 1, 'rebooted once');
        assert.equal(Number((await jobsOf(enterJob, 'rf-slow'))[0]!.attempts), 1, 'no retry was needed');
      } finally {
        bmc.delayMs = 0;
      }
    });

    it('slower than the per-call timeout: each call times out, the rescue fails, disk boot restored once it is fast again', async () => {
      await addServer('rf-slower', endpoint());
      bmc.delayMs = 1500;
      const server = (await store.servers.byName('rf-slower'))!;
      await rescue.enter(operator, server, {});
      const reason = await settled('rf-slower', 'rescue_failed');
      assert.match(reason, /did not answer for \d+ s; ask your provider to check the BMC, then try again \(the Redfish BMC at http:\/\/127\.0\.0\.1:\d+ did not answer GET \/redfish\/v1\/ within 1 s\)/);
      bmc.delayMs = 0;
      await restored('rf-slower');
      assert.equal(bmc.state.bootTarget, 'Hdd');
    });

    it('stopped while leaving rescue: exit_failed with a message, disk boot set once it answers', async () => {
      await addServer('rf-exit', endpoint());
      const server = (await store.servers.byName('rf-exit'))!;
      await rescue.enter(operator, server, {});
      await settled('rf-exit', 'preparing_rescue');
      await rescue.ready((await store.sessions.openFor(server.id))!);
      await bmc.pause();
      await rescue.exit(operator, (await store.servers.byName('rf-exit'))!);
      const reason = await settled('rf-exit', 'exit_failed');
      assert.match(reason, new RegExp(`^could not leave rescue: the server's BMC at 127\\.0\\.0\\.1:${bmc.port} did not answer for \\d+ s; .*; the server will be set to boot from its disk as soon as its BMC answers$`));
      assert.equal(Number((await jobsOf(exitJob, 'rf-exit'))[0]!.attempts), bmcAttempts);
      const resets = bmc.state.resets.length;
      await bmc.resume();
      await restored('rf-exit');
      assert.equal(bmc.state.bootTarget, 'Hdd');
      assert.equal(bmc.state.resets.length, resets, 'the rescue system is not rebooted under the customer');
    });
  });

  describe('ipmi', () => {
    let sim: IpmiSim;
    const endpoint = () => ({ driver: 'ipmi' as const, url: `ipmi://127.0.0.1:${sim.port}`, user: sim.user, password: sim.password });

    before(async () => {
      sim = await startIpmiSim();
      bmcs.push(sim);
    });

    it('stopped: retried, failed with a message, disk boot restored once it answers again', async () => {
      await addServer('ipmi-stopped', endpoint());
      await createPowerDriver(endpoint(), driverOptions).setBootDevice('network');
      await sim.pause();
      const server = (await store.servers.byName('ipmi-stopped'))!;
      await rescue.enter(operator, server, {});
      const reason = await settled('ipmi-stopped', 'rescue_failed');
      assert.match(reason, new RegExp(`the server's BMC at 127\\.0\\.0\\.1:${sim.port} did not answer for \\d+ s; ask your provider to check the BMC, then try again \\(ipmitool chassis bootdev pxe on 127\\.0\\.0\\.1:${sim.port}: no answer within 2 s\\)`));
      const [enter] = await jobsOf(enterJob, 'ipmi-stopped');
      assert.equal(Number(enter!.attempts), bmcAttempts);
      const sets = sim.sets().length;
      await sim.resume();
      await restored('ipmi-stopped');
      // ipmi_sim does not keep the boot flags' valid bit, so the device reads as none: it is set.
      assert.deepEqual(sim.sets().slice(sets), ['boot default'], 'only the boot device was set (disk): no power action');
    });

    it('its password changed: final after one more try, restored once the password is right again', async () => {
      await addServer('ipmi-password', endpoint());
      const original = sim.password;
      await sim.resume({ password: 'Changed-Pw.2' });
      const server = (await store.servers.byName('ipmi-password'))!;
      await rescue.enter(operator, server, {});
      const reason = await settled('ipmi-password', 'rescue_failed');
      assert.match(reason, /the server's BMC at 127\.0\.0\.1:\d+ refused the credentials Lifeboat has for it; ask your provider to update them/);
      assert.equal(Number((await jobsOf(enterJob, 'ipmi-password'))[0]!.attempts), 2);
      await sim.resume({ password: original });
      await restored('ipmi-password');
      assert.equal(sim.sets().at(-1), 'boot default');
    });
  });
});
