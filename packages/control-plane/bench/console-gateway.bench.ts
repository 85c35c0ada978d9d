/**
 * Console gateway benchmark: the memory of a control plane process (`lifeboat serve`'s main, in a
 * child process) serving 50 SSH viewers (ssh2 client library, in this process) of one console while a
 * TCP serial port streams 10 MiB at full speed into it; then the same at a serial line's pace. The
 * control plane's resident memory is sampled every 100 ms from /proc: it must stay bounded (the hub
 * holds at most 1 MiB per viewer that falls behind, then detaches it).
 *
 *   node --import tsx packages/control-plane/bench/console-gateway.bench.ts [--viewers 50] [--mib 10]
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ssh2 from 'ssh2';
import { api, freePort, waitFor } from '@lifeboat/test-support';
import { startRecordingControlPlane } from '../test/recording-control-plane.js';

const { values } = parseArgs({ options: { viewers: { type: 'string', default: '50' }, mib: { type: 'string', default: '10' } } });
const viewerCount = Number(values.viewers);
const totalBytes = Number(values.mib) * 1024 * 1024;
const work = mkdtempSync(join(tmpdir(), 'lifeboat-console-bench-'));
const rows: string[] = [];
const row = (what: string, value: string, note = ''): void => {
  rows.push(`| ${what} | ${value} | ${note} |`);
  process.stderr.write(`${what}: ${value} ${note}\n`);
};
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

let consoleSocket: Socket | undefined;
const serial = createServer((socket) => {
  consoleSocket = socket;
  socket.on('error', () => undefined);
});
await new Promise<void>((r) => serial.listen(0, '127.0.0.1', r));
const serialPort = (serial.address() as { port: number }).port;

const plane = await startRecordingControlPlane({ dataDir: join(work, 'data'), port: await freePort(), env: { RECORDING_BMC_LOG: join(work, 'bmc.log') } });
const pid = plane.child.pid ?? 0;
const rss = (): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;

try {
  const admin = plane.adminToken();
  await api(plane.url, admin, 'POST', '/v1/tenants', { name: 'acme' });
  const added = await api(plane.url, admin, 'POST', '/v1/servers', {
    name: 'web-1', tenant: 'acme', macs: ['52:54:00:be:00:01'], bmc: { url: 'ipmi://127.0.0.1:6230', user: 'admin', password: 'pw' }, console: `tcp://127.0.0.1:${serialPort}`,
  });
  if (added.status !== 201) throw new Error(`server not added: ${JSON.stringify(added.body)}`);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(work, 'id')]);
  await api(plane.url, admin, 'POST', '/v1/keys', { name: 'bench', publicKey: readFileSync(join(work, 'id.pub'), 'utf8'), tenant: 'acme' });
  const info = (await api(plane.url, admin, 'GET', '/v1/console')).body as { listen: string };
  const gatewayPort = Number(info.listen.split(':').pop());
  const privateKey = readFileSync(join(work, 'id'));
  const idle = rss();

  /** One streaming run: every viewer attaches, the console prints `bytes` (paced when `bytesPerSecond`). */
  async function run(label: string, bytes: number, bytesPerSecond: number | null): Promise<void> {
    const marker = Buffer.from(`\r\nBENCH-${randomBytes(6).toString('hex')}\r\n`);
    const payload = Buffer.concat([marker, randomBytes(bytes)]);
    const expected = createHash('sha256').update(payload).digest('hex');
    const viewers = Array.from({ length: viewerCount }, () => ({ data: [] as Buffer[], length: 0, closed: false, client: new ssh2.Client() }));
    await Promise.all(viewers.map((v) => new Promise<void>((resolve, reject) => {
      v.client.on('ready', () => v.client.shell(false, (error, stream) => {
        if (error) return reject(error);
        stream.on('data', (d: Buffer) => { v.data.push(d); v.length += d.length; });
        stream.on('close', () => { v.closed = true; });
        stream.stderr.once('data', () => resolve());
      })).on('error', reject).connect({ host: '127.0.0.1', port: gatewayPort, username: 'web-1', privateKey });
    })));
    const attached = rss();
    let peak = attached;
    const sampler = setInterval(() => { peak = Math.max(peak, rss()); }, 100);
    const socket = await waitFor('the console connection', () => consoleSocket);
    const started = Date.now();
    const chunk = 64 * 1024;
    for (let at = 0; at < payload.length; at += chunk) {
      if (!socket.write(payload.subarray(at, at + chunk))) await new Promise((r) => socket.once('drain', r));
      if (bytesPerSecond !== null) await new Promise((r) => setTimeout(r, (chunk / bytesPerSecond) * 1000));
    }
    const complete = (v: (typeof viewers)[number]) => v.closed || Buffer.concat(v.data).indexOf(marker) >= 0 && v.length >= Buffer.concat(v.data).indexOf(marker) + payload.length;
    await waitFor('every viewer to have the payload or be detached', () => viewers.every(complete), 600_000, 200);
    const seconds = (Date.now() - started) / 1000;
    clearInterval(sampler);
    peak = Math.max(peak, rss());
    let whole = 0;
    for (const v of viewers) {
      const all = Buffer.concat(v.data);
      const at = all.indexOf(marker);
      if (at >= 0 && createHash('sha256').update(all.subarray(at, at + payload.length)).digest('hex') === expected) whole++;
      v.client.end();
    }
    row(`${label}: bytes streamed`, mib(payload.length), `${(payload.length / 2 ** 20 / seconds).toFixed(1)} MiB/s into the console, ${seconds.toFixed(1)} s until every viewer had it or was detached`);
    row(`${label}: viewers with every byte in order`, `${whole} / ${viewerCount}`, `${viewers.filter((v) => v.closed).length} detached as too slow (1 MiB held for each at most)`);
    row(`${label}: control plane RSS`, `${mib(attached)} attached → peak ${mib(peak)}`, `+${mib(peak - attached)} while streaming`);
  }

  row('control plane RSS, idle', mib(idle), `pid ${pid}, gateway and API in one process`);
  await run('full speed', totalBytes, null);
  await waitFor('the viewers to leave', async () => ((await api(plane.url, admin, 'GET', '/v1/audit?server=web-1&limit=1000')).body as { events: { action: string }[] }).events.filter((e) => e.action === 'console.detach').length >= viewerCount, 60_000, 200);
  await run('115200 baud ×10 (115 KiB/s)', 1024 * 1024, 115_200);
  row('load average after', loadavg()[0]?.toFixed(1) ?? '?', '2 cores shared with other work');
} finally {
  await plane.stop('SIGTERM');
  consoleSocket?.destroy();
  serial.close();
  rmSync(work, { recursive: true, force: true });
}

process.stdout.write(`| measure (${viewerCount} SSH viewers, one console) | value | note |\n| --- | --- | --- |\n${rows.join('\n')}\n`);
