/**
 * Issue 14, "Faults": SIGKILL of the control plane at random points of entering and leaving rescue.
 * Each run starts the real control plane (its bin, its real IPMI or Redfish driver) on a fresh SQLite
 * or PostgreSQL database, against a BMC simulator (ipmi_sim through ipmitool, or the Redfish simulator)
 * whose server boots what the BMC says and plays the rescue agent; it enters rescue and exits, killing
 * the control plane at a random moment of one or both, and restarts it on the same data. Then:
 * - the rescue is up after the enter and the server back to `active` after the exit, no task left open;
 * - no BMC action was repeated once its effect was reached: no power-on after the server got its rescue
 *   script (enter) or came back from its disk (exit), no boot override set to what it already was
 *   (Redfish; ipmi_sim never keeps the boot flags' valid bit, so a read of it always says "none");
 * - no ipmitool outlives the killed control plane.
 * `LIFEBOAT_FAULT_RUNS` runs (default 4; `npm run test:faults` runs 50), drawn from the seed printed
 * first: `LIFEBOAT_FAULT_SEED=N` replays them.
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { api, freePort, startControlPlaneProcess, waitFor, type ControlPlaneProcess } from '@lifeboat/test-support';
import { createPowerDriver } from '../src/drivers/power/index.js';
import { createTestImages } from '../src/netboot/testing.js';
import type { DialectName } from '../src/store/database.js';
import { createTestDatabase, testDialects } from '../src/store/testing.js';
import { startIpmiSim } from './drivers/ipmi-sim.js';
import { startRedfishBmc } from './drivers/redfish-bmc.js';
import { ipmiSimBmc, redfishSimBmc, SimulatedServer } from './simulated-server.js';

const seed = Number(process.env.LIFEBOAT_FAULT_SEED ?? randomInt(2 ** 31));
const runs = Number(process.env.LIFEBOAT_FAULT_RUNS ?? 4);
if (!Number.isInteger(seed) || !Number.isInteger(runs) || runs < 1) throw new Error('LIFEBOAT_FAULT_SEED and LIFEBOAT_FAULT_RUNS are integers');

/** mulberry32: a small seeded generator, so that a seed replays the same runs. */
function generator(state: number): () => number {
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type BmcKind = 'ipmi' | 'redfish';
interface Run {
  readonly index: number;
  readonly dialect: DialectName;
  readonly bmc: BmcKind;
  /** Milliseconds after the enter (exit) request when the control plane is killed; none: not killed. */
  readonly killEnterAfterMs: number | undefined;
  readonly killExitAfterMs: number | undefined;
}

// The phases take about 1.5 s on ipmi_sim (each ipmitool call about 0.2 s) and 0.5 s on Redfish: a
// kill point is drawn over a little more than that, so some fall before the first BMC call and after the
// last one too.
const phaseMs: Record<BmcKind, number> = { ipmi: 2000, redfish: 800 };
const random = generator(seed);
const dialects = testDialects();
const plan: Run[] = Array.from({ length: runs }, (_, index) => {
  const dialect = dialects[index % dialects.length]!;
  const bmc: BmcKind = Math.floor(index / dialects.length) % 2 === 0 ? 'ipmi' : 'redfish';
  const where = random();
  const killEnterAfterMs = where < 2 / 3 ? Math.round(random() * phaseMs[bmc]) : undefined;
  const killExitAfterMs = where >= 1 / 3 ? Math.round(random() * phaseMs[bmc]) : undefined;
  return { index, dialect, bmc, killEnterAfterMs, killExitAfterMs };
});

/** The ipmitool processes (alive, not zombies) talking to the BMC on `port`. */
function ipmitoolsOf(port: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
        const at = argv.indexOf('-p');
        return state !== 'Z' && argv.some((a) => a.endsWith('ipmitool')) && at >= 0 && argv[at + 1] === String(port);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe(`random kill points of enter and exit rescue (seed ${seed}, ${runs} runs)`, { timeout: runs * 300_000 }, () => {
  const images = createTestImages();
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-kill-points-'));

  before(() => console.log(`# random kill points: seed ${seed} (replay: LIFEBOAT_FAULT_SEED=${seed} LIFEBOAT_FAULT_RUNS=${runs})`));
  after(() => {
    images.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const run of plan) {
    const kills = `kill ${run.killEnterAfterMs === undefined ? '' : `${run.killEnterAfterMs} ms into the enter`}${run.killEnterAfterMs !== undefined && run.killExitAfterMs !== undefined ? ', ' : ''}${run.killExitAfterMs === undefined ? '' : `${run.killExitAfterMs} ms into the exit`}`;
    it(`run ${run.index}: ${run.dialect}, ${run.bmc} BMC, ${kills}`, { timeout: 300_000 }, async (t) => {
      const cleanups: Array<() => Promise<unknown> | unknown> = [];
      try {
        const took = await oneRun(run, join(dir, `run-${run.index}`), images.dirOf('linux'), cleanups);
        t.diagnostic(`rescue up ${took.enterMs} ms after the enter request, server back ${took.exitMs} ms after the exit request`);
      } finally {
        for (const cleanup of cleanups.reverse()) await cleanup();
      }
    });
  }
});

async function oneRun(run: Run, runDir: string, imageDir: string, cleanups: Array<() => Promise<unknown> | unknown>): Promise<{ enterMs: number; exitMs: number }> {
  const mac = `52:54:00:14:${(run.index >> 8).toString(16).padStart(2, '0')}:${(run.index & 0xff).toString(16).padStart(2, '0')}`;
  const ipmi = run.bmc === 'ipmi' ? await startIpmiSim('kill-Passw0rd.14') : undefined;
  const redfish = run.bmc === 'redfish' ? await startRedfishBmc() : undefined;
  cleanups.push(() => ipmi?.stop(), () => redfish?.stop());
  const bmc = ipmi
    ? { url: `ipmi://127.0.0.1:${ipmi.port}`, user: ipmi.user, password: ipmi.password }
    : { url: `redfish://127.0.0.1:${redfish!.port}${redfish!.systemPath}`, user: redfish!.user, password: redfish!.password };
  const database = await createTestDatabase(run.dialect);
  cleanups.push(() => database.drop());
  const port = await freePort();
  const dataDir = join(runDir, 'data');
  const flags = ['--database', database.url, '--image', imageDir, '--job-lease', '2s', '--exit-agent-timeout', '5s', '--resume-netboot-wait', '30s'];
  const planes: ControlPlaneProcess[] = [];
  const start = async () => {
    // Its first start hashes the first user's password (scrypt) and makes keys: slow on a loaded machine.
    const plane = await startControlPlaneProcess({ dataDir, port, flags, readyTimeoutMs: 90_000 });
    planes.push(plane);
    return plane;
  };
  cleanups.push(async () => {
    for (const p of planes) await p.stop('SIGKILL');
  });
  const server = new SimulatedServer(`http://127.0.0.1:${port}`, mac, ipmi ? ipmiSimBmc(ipmi) : redfishSimBmc(redfish!));
  cleanups.push(() => server.stop());
  // The server runs its installed system when the rescue is asked for.
  await createPowerDriver({ driver: run.bmc, ...bmc }).setPower('on');
  let plane = await start();
  const token = plane.adminToken();
  await waitFor('the installed system to be up', () => server.eventsOf('disk-up').length > 0);

  assert.equal((await api(plane.url, token, 'POST', '/v1/tenants', { name: 'acme' })).status, 201);
  const added = await api(plane.url, token, 'POST', '/v1/servers', { name: 'web-1', tenant: 'acme', macs: [mac], bmc });
  assert.equal(added.status, 201, JSON.stringify(added.body));

  /** Kills the control plane `afterMs` after now, checks that no ipmitool outlives it, restarts it. */
  const killAndRestart = async (afterMs: number) => {
    await sleep(afterMs); // the random kill point itself, not a wait for something
    await plane.stop('SIGKILL');
    if (ipmi) await waitFor('no ipmitool to outlive the control plane', () => ipmitoolsOf(ipmi.port).length === 0, 5_000, 50);
    plane = await start();
  };
  const state = async () => (await api(plane.url, token, 'GET', '/v1/servers/web-1', undefined)).body;
  const diagnostics = async () =>
    JSON.stringify({ server: await state().catch(() => null), tasks: (await api(plane.url, token, 'GET', '/v1/servers/web-1/tasks', undefined).catch(() => null))?.body, events: server.events, ipmi: ipmi?.sets(), redfish: redfish?.state, log: plane.output().slice(-4000) }, null, 1);
  const settle = async (what: string, wanted: string) => {
    try {
      await waitFor(what, async () => {
        const shown = await state().catch(() => undefined);
        if (shown && ['rescue_failed', 'exit_failed'].includes(shown.state)) throw new Error(`the server is ${shown.state}: ${shown.reason}`);
        return shown?.state === wanted;
      }, 90_000);
    } catch (error) {
      assert.fail(`${(error as Error).message}\n${await diagnostics()}`);
    }
  };

  // Enter.
  const enterAt = Date.now();
  const entered = await api(plane.url, token, 'POST', '/v1/servers/web-1/rescue', {});
  assert.equal(entered.status, 202, JSON.stringify(entered.body));
  if (run.killEnterAfterMs !== undefined) await killAndRestart(run.killEnterAfterMs);
  await settle('the rescue to be up', 'rescue');
  const enterMs = Date.now() - enterAt;

  // Exit.
  const exitAt = Date.now();
  const exited = await api(plane.url, token, 'POST', '/v1/servers/web-1/rescue/exit', undefined);
  assert.equal(exited.status, 202, JSON.stringify(exited.body));
  if (run.killExitAfterMs !== undefined) await killAndRestart(run.killExitAfterMs);
  await settle('the server to be back from its disk', 'active');
  const exitMs = Date.now() - exitAt;

  const detail = await diagnostics();
  const tasks = (await api(plane.url, token, 'GET', '/v1/servers/web-1/tasks', undefined)).body.tasks as Array<{ kind: string; state: string; endedAt: string | null }>;
  assert.deepEqual(tasks.map((t) => [t.kind, t.state]).sort(), [['enter_rescue', 'completed'], ['exit_rescue', 'completed']], detail);
  assert.ok(tasks.every((t) => t.endedAt !== null), `no task left open\n${detail}`);

  // The effect of the enter's reboot is reached once iPXE got the rescue script; of the exit's once
  // the installed system is up again.
  const scriptAt = server.eventsOf('rescue-script', enterAt)[0]?.at;
  assert.ok(scriptAt !== undefined && scriptAt < exitAt, `the server got its rescue script during the enter\n${detail}`);
  assert.deepEqual(server.events.filter((e) => e.kind === 'bmc-boot' && e.at > scriptAt && e.at < exitAt), [], `no power-on after the server got its rescue script\n${detail}`);
  const backAt = server.eventsOf('disk-up', exitAt)[0]?.at;
  assert.ok(backAt !== undefined, `the installed system came back\n${detail}`);
  assert.deepEqual(server.events.filter((e) => e.kind === 'bmc-boot' && e.at > backAt), [], `no power-on after the installed system came back\n${detail}`);
  assert.deepEqual(server.eventsOf('agent-failed'), [], `the agent was never refused\n${detail}`);
  if (redfish) {
    const repeated = redfish.state.bootPatches.filter((p) => p.target === p.wasTarget && p.enabled === p.wasEnabled);
    assert.deepEqual(repeated, [], `no boot override set to what it already was\n${detail}`);
    assert.deepEqual(redfish.violations, [], 'every Redfish request was well formed');
  }
  assert.equal(await plane.stop('SIGTERM'), 0, 'SIGTERM shuts down cleanly');
  if (ipmi) assert.deepEqual(ipmitoolsOf(ipmi.port), [], 'no ipmitool left');
  return { enterMs, exitMs };
}
