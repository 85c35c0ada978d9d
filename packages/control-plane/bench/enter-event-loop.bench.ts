/**
 * `rescue enter` and the event loop (issue 14, finding 3): `/healthz` latency while customers send
 * enters that are refused (the server already in rescue: no hash since the fix) and enters that are
 * accepted (one SHA-512-crypt hash each, computed in slices), and the longest event-loop stall.
 * A real control plane in this process (SQLite, a BMC that answers at once), requests over loopback.
 *
 *   node --import tsx packages/control-plane/bench/enter-event-loop.bench.ts [--enters N]
 */
import { mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/config.js';
import { sha512Crypt } from '../src/credentials/sha512-crypt.js';
import { startControlPlane } from '../src/main.js';
import { median } from '../../../scripts/bench-stats.js';
import { acceptingBmc } from '../src/drivers/power/testing.js';

const { values } = parseArgs({ options: { enters: { type: 'string', default: '300' } } });
const enters = Number(values.enters);
const dir = mkdtempSync(join(tmpdir(), 'lifeboat-enter-bench-'));
const image = join(dir, 'image');
mkdirSync(image);
for (const file of ['vmlinuz', 'initrd', 'rootfs.squashfs']) writeFileSync(join(image, file), `bench ${file}\n`);
const flags = ['--data', join(dir, 'data'), '--listen', '127.0.0.1:0', '--console-listen', 'off', '--log-level', 'error', '--image', image, '--lease-max', '30d', '--limit-enters', 'off'];
const plane = await startControlPlane(parseConfig(flags, {}, dir), { powerDrivers: acceptingBmc });
const rows: string[] = [];
const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)] ?? NaN;

try {
  const admin = readFileSync(join(dir, 'data', 'admin.token'), 'utf8').trim();
  const call = async (method: string, path: string, token: string, body?: unknown) =>
    (await fetch(`${plane.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })).status;
  await call('POST', '/v1/tenants', admin, { name: 'acme' });
  const created = await fetch(`${plane.url}/v1/tokens`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ tenant: 'acme', role: 'customer' }) });
  const customer = ((await created.json()) as { token: string }).token;
  for (let i = 0; i < enters; i++) {
    await call('POST', '/v1/servers', admin, { name: `s-${i}`, tenant: 'acme', macs: [`52:54:00:01:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`], bmc: { url: 'ipmi://127.0.0.1:623' } });
  }

  /** Sends `enter` requests `count` at a time while probing /healthz; returns the probe latencies and the longest stall. */
  const measure = async (path: (i: number) => string) => {
    const latencies: number[] = [];
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    let running = true;
    const probing = (async () => {
      while (running) {
        const started = performance.now();
        await fetch(`${plane.url}/healthz`).then((r) => r.arrayBuffer());
        latencies.push(performance.now() - started);
      }
    })();
    histogram.enable();
    const started = performance.now();
    const statuses = new Map<number, number>();
    for (let i = 0; i < enters; i += 20) {
      const batch = await Promise.all(Array.from({ length: Math.min(20, enters - i) }, (_, j) => call('POST', path(i + j), customer, {})));
      for (const status of batch) statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    const seconds = (performance.now() - started) / 1000;
    histogram.disable();
    running = false;
    await probing;
    return { latencies, maxStallMs: histogram.max / 1e6, seconds, statuses: [...statuses].map(([s, n]) => `${n}×${s}`).join(', ') };
  };

  const hashStarted = performance.now();
  for (let i = 0; i < 20; i++) sha512Crypt('bench-password-of-24-chars', 'saltsaltsaltsalt');
  rows.push(`| one SHA-512-crypt hash, blocking (mean of 20) | ${((performance.now() - hashStarted) / 20).toFixed(1)} ms | the work each accepted enter does, in slices |`);

  const accepted = await measure((i) => `/v1/servers/s-${i}/rescue`);
  rows.push(`| ${enters} accepted enters, 20 at a time | ${(enters / accepted.seconds).toFixed(0)} enters/s | ${accepted.statuses} |`);
  rows.push(`| /healthz during them: median, p99 | ${median(accepted.latencies).toFixed(1)} ms, ${p99(accepted.latencies).toFixed(1)} ms | ${accepted.latencies.length} probes; longest event-loop stall ${accepted.maxStallMs.toFixed(1)} ms |`);
  const refused = await measure((i) => `/v1/servers/s-${i}/rescue`);
  rows.push(`| ${enters} refused enters (already in rescue), 20 at a time | ${(enters / refused.seconds).toFixed(0)} enters/s | ${refused.statuses} |`);
  rows.push(`| /healthz during them: median, p99 | ${median(refused.latencies).toFixed(1)} ms, ${p99(refused.latencies).toFixed(1)} ms | ${refused.latencies.length} probes; longest event-loop stall ${refused.maxStallMs.toFixed(1)} ms; load ${loadavg()[0]?.toFixed(1)} |`);
  console.log(['| measure | value | note |', '| --- | --- | --- |', ...rows].join('\n'));
} finally {
  await plane.close();
  rmSync(dir, { recursive: true, force: true });
}
