/**
 * Benchmark 2 of issue 14 ("Scale"): a registered fleet and many rescues entered at once on two
 * replicas (the real `lifeboat serve`, as processes) on one PostgreSQL, against strict Redfish BMC
 * simulators in this process (real HTTP, one listener per BMC) and simulated agents. A simulated
 * server starts its rescue system when an event stream (on replica B) shows it `preparing_rescue`:
 * it fetches its iPXE script, redeems the boot credential and says ready, from alternating replicas.
 * Measured: the time until every rescue is `rescue` (and how many are not: stuck or failed), the peak
 * RSS of each replica, and the API latency during the run (the enters themselves, and a probe that
 * reads one server at a time from both replicas).
 *
 *   node --import tsx packages/control-plane/bench/fleet-replicas.bench.ts [--servers 1000] [--rescues 100]
 *   full size (issue 14): --servers 10000 --rescues 1000, or through `npm run bench`:
 *   LIFEBOAT_BENCH_SERVERS=10000 LIFEBOAT_BENCH_RESCUES=1000 npm run bench -- fleet-replicas
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { LifeboatClient } from '@lifeboat/core';
import { api, freePort, playAgent, startControlPlaneProcess, type ControlPlaneProcess } from '@lifeboat/test-support';
import { createTestDatabase } from '../src/store/testing.js';
import { startRedfishBmc, type RedfishBmc } from '../test/drivers/redfish-bmc.js';
import { median, percentile } from '../../../scripts/bench-stats.js';

const { values } = parseArgs({ options: { servers: { type: 'string', default: process.env.LIFEBOAT_BENCH_SERVERS ?? '1000' }, rescues: { type: 'string', default: process.env.LIFEBOAT_BENCH_RESCUES ?? '100' }, 'timeout-minutes': { type: 'string', default: '20' } } });
const serverCount = Number(values.servers);
const rescueCount = Number(values.rescues);
if (!(serverCount >= rescueCount && rescueCount > 0)) throw new Error('--servers must be at least --rescues, --rescues above 0');
const timeoutMs = Number(values['timeout-minutes']) * 60_000;

const nameOf = (i: number) => `node-${String(i).padStart(5, '0')}`;
const macOf = (i: number) => `52:54:01:${((i >> 16) & 0xff).toString(16).padStart(2, '0')}:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
/** Resident memory of a process, MB (from /proc). */
const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
/** Runs `work` over `items`, `width` at a time. */
async function inParallel<T>(items: readonly T[], width: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) {
      const i = next++;
      await work(items[i]!, i);
    }
  }));
}

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-fleet-bench-'));
const database = await createTestDatabase('postgres');
const bmcs: RedfishBmc[] = [];
const replicas: ControlPlaneProcess[] = [];
const rows: string[] = [`| size | ${serverCount} servers, ${rescueCount} rescues | --servers ${serverCount} --rescues ${rescueCount}; two replicas and PostgreSQL on this machine |`];
try {
  for (let i = 0; i < rescueCount; i++) bmcs.push(await startRedfishBmc());
  // Rate limits off: one address (127.0.0.1) plays the whole fleet and its operator.
  const flags = ['--database', database.url, '--log-level', 'warn', '--console-listen', 'off', '--limit-enters', 'off', '--limit-boot-scripts', 'off', '--limit-redeems', 'off'];
  const ports = [await freePort(), await freePort()];
  replicas.push(await startControlPlaneProcess({ dataDir: join(dir, 'a'), port: ports[0]!, flags }));
  mkdirSync(join(dir, 'b'), { recursive: true, mode: 0o700 });
  copyFileSync(join(dir, 'a', 'secret.key'), join(dir, 'b', 'secret.key'));
  replicas.push(await startControlPlaneProcess({ dataDir: join(dir, 'b'), port: ports[1]!, flags }));
  const [a, b] = replicas as [ControlPlaneProcess, ControlPlaneProcess];
  const urls = [a.url, b.url];
  const token = a.adminToken();
  const rssAfterStart = replicas.map((r) => rssOf(r.child.pid!));

  // Simulated servers: each boots its rescue system once an event says the BMC rebooted it. The
  // stream opens now, long before the first rescue (registering the fleet takes seconds).
  const inRescue = new Map<string, number>();
  const failed = new Set<string>();
  const booting = new Set<string>();
  const agentErrors: string[] = [];
  const stream = new AbortController();
  const names = new Set(Array.from({ length: rescueCount }, (_, i) => nameOf(i)));
  let allDone: () => void = () => {};
  const done = new Promise<void>((resolve) => (allDone = resolve));
  let enterStarted = 0;
  const watching = (async () => {
    for await (const { server } of new LifeboatClient({ url: b.url, token }).events({ signal: stream.signal })) {
      if (!names.has(server.name)) continue;
      if (server.state === 'preparing_rescue' && !booting.has(server.name)) {
        booting.add(server.name);
        const i = Number(server.name.slice(5));
        playAgent(urls[i % 2]!, macOf(i)).catch((error: unknown) => agentErrors.push(`${server.name}: ${String(error)}`));
      } else if (server.state === 'rescue' && !inRescue.has(server.name)) {
        inRescue.set(server.name, performance.now() - enterStarted);
        if (inRescue.size + failed.size === rescueCount) allDone();
      } else if (server.state === 'rescue_failed') {
        failed.add(server.name);
        if (inRescue.size + failed.size === rescueCount) allDone();
      }
    }
  })().catch((error: unknown) => agentErrors.push(`event stream: ${String(error)}`));

  // The fleet: every server registered with a Redfish BMC (validated without I/O), the first
  // `rescueCount` on their own simulator.
  await api(a.url, token, 'POST', '/v1/tenants', { name: 'fleet' });
  const registerStarted = performance.now();
  await inParallel(Array.from({ length: serverCount }, (_, i) => i), 16, async (i) => {
    const bmc = bmcs[i % rescueCount]!;
    const added = await api(urls[i % 2]!, token, 'POST', '/v1/servers', {
      name: nameOf(i), tenant: 'fleet', macs: [macOf(i)], bmc: { url: `redfish://127.0.0.1:${bmc.port}${bmc.systemPath}`, user: bmc.user, password: bmc.password },
    });
    if (added.status !== 201) throw new Error(`registering ${nameOf(i)}: ${added.status} ${JSON.stringify(added.body)}`);
  });
  const registerSeconds = (performance.now() - registerStarted) / 1000;
  rows.push(`| ${serverCount} servers registered, 16 at a time on both replicas | ${registerSeconds.toFixed(1)} s | ${(serverCount / registerSeconds).toFixed(0)} servers/s |`);

  // Peak memory and a probe of the API (one server read, alternating replicas) during the run.
  const peakRss = [...rssAfterStart];
  const probeLatencies: number[] = [];
  let running = true;
  const sampling = (async () => {
    while (running) {
      replicas.forEach((r, i) => (peakRss[i] = Math.max(peakRss[i]!, rssOf(r.child.pid!))));
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  const probing = (async () => {
    for (let i = 0; running; i++) {
      const started = performance.now();
      const shown = await api(urls[i % 2]!, token, 'GET', `/v1/servers/${nameOf((i * 7919) % serverCount)}`);
      if (shown.status !== 200) throw new Error(`probe: ${shown.status}`);
      probeLatencies.push(performance.now() - started);
    }
  })();

  // All the rescues at once, half on each replica.
  enterStarted = performance.now();
  const enterLatencies: number[] = [];
  const enterStatuses = new Map<number, number>();
  await Promise.all(Array.from({ length: rescueCount }, async (_, i) => {
    const started = performance.now();
    const entered = await api(urls[i % 2]!, token, 'POST', `/v1/servers/${nameOf(i)}/rescue`, {});
    enterLatencies.push(performance.now() - started);
    enterStatuses.set(entered.status, (enterStatuses.get(entered.status) ?? 0) + 1);
  }));
  const enteredSeconds = (performance.now() - enterStarted) / 1000;
  const timedOut = await Promise.race([done.then(() => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(true), timeoutMs).unref())]);
  const allSeconds = (performance.now() - enterStarted) / 1000;
  running = false;
  stream.abort();
  await Promise.all([sampling, probing, watching]);

  // The database's word on every rescue, and on the jobs: how many ran more than once.
  const sql = new pg.Client({ connectionString: database.url });
  await sql.connect();
  const states = (await sql.query(`SELECT state, count(*) AS n FROM rescue_sessions GROUP BY state ORDER BY state`)).rows.map((r) => `${r.n}× ${r.state}`).join(', ');
  const retried = Number((await sql.query(`SELECT count(*) AS n FROM jobs WHERE kind = 'rescue.enter' AND attempts > 1`)).rows[0].n);
  await sql.end();
  const toRescue = [...inRescue.values()];

  rows.push(`| ${rescueCount} enters sent at once, half on each replica | ${enteredSeconds.toFixed(1)} s until all answered | ${[...enterStatuses].map(([s, n]) => `${n}× ${s}`).join(', ')}; latency median ${median(enterLatencies).toFixed(0)} ms, p99 ${percentile(enterLatencies, 99).toFixed(0)} ms |`);
  rows.push(`| time until all ${rescueCount} are in rescue | ${timedOut ? `not reached in ${timeoutMs / 60_000} min` : `${allSeconds.toFixed(1)} s`} | per server from the enter: median ${(median(toRescue) / 1000).toFixed(1)} s, p99 ${(percentile(toRescue, 99) / 1000).toFixed(1)} s |`);
  rows.push(`| stuck or failed | ${rescueCount - inRescue.size} | sessions: ${states}; enter jobs run more than once: ${retried}; agent errors: ${agentErrors.length}${agentErrors.length ? ` (first: ${agentErrors[0]!.slice(0, 120)})` : ''} |`);
  rows.push(`| RSS per replica, after start → peak | A ${rssAfterStart[0]!.toFixed(0)} → ${peakRss[0]!.toFixed(0)} MB, B ${rssAfterStart[1]!.toFixed(0)} → ${peakRss[1]!.toFixed(0)} MB | goal ≤ 200 MB |`);
  rows.push(`| API during the run (GET /v1/servers/NAME, both replicas) | median ${median(probeLatencies).toFixed(1)} ms, p99 ${percentile(probeLatencies, 99).toFixed(1)} ms | ${probeLatencies.length} probes; load ${loadavg()[0]!.toFixed(1)} at the end |`);
  console.log(['| measure | value | note |', '| --- | --- | --- |', ...rows].join('\n'));
} finally {
  for (const replica of replicas) await replica.stop('SIGTERM');
  for (const bmc of bmcs) await bmc.stop();
  await database.drop();
  rmSync(dir, { recursive: true, force: true });
}
