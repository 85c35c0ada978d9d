/**
 * Boot storm (issue 14, benchmark 1): 1,000 servers in rescue boot at once. wrk with 1,000 connections
 * fetches each server's iPXE script (one path per MAC), then the kernel and the initrd, from:
 *   - Lifeboat alone (its boot listener streams the files itself);
 *   - Lifeboat behind nginx (docs/examples/nginx-netboot.conf: nginx sends the files, X-Accel-Redirect);
 *   - nginx alone, serving the same bytes from static files (the reference).
 * One run interleaves the three, `--rounds` times; the table gives medians and the ratios to nginx.
 * A real control plane in this process (SQLite, a BMC that answers at once), real sockets; the boot
 * script rate limit is off (every wrk connection comes from 127.0.0.1, where 1,000 servers would not).
 *
 *   node --import tsx packages/control-plane/bench/boot-storm.bench.ts [--servers 1000] [--connections 1000] [--seconds 8] [--rounds 3]
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, startNginx, waitFor, type Nginx } from '@lifeboat/test-support';
import { parseConfig } from '../src/config.js';
import { startControlPlane } from '../src/main.js';
import { median } from '../../../scripts/bench-stats.js';
import { acceptingBmc } from '../src/drivers/power/testing.js';

const { values } = parseArgs({
  options: {
    servers: { type: 'string', default: '1000' },
    connections: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
  },
});
const servers = Number(values.servers);
const connections = Number(values.connections);
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
if (spawnSync('wrk', ['--version']).error) throw new Error('wrk is missing: apt-get install wrk (scripts/debian-packages.txt lists it)');

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-boot-storm-'));
const template = fileURLToPath(new URL('../../../docs/examples/nginx-netboot.conf', import.meta.url));

// The rescue image: the one built on this machine when there is one (its real sizes), else files of a
// typical size (an 8.2 MB kernel, a 40 MB initrd).
const image = join(dir, 'image');
mkdirSync(image);
const cache = process.env.LIFEBOAT_CACHE ?? join(process.env.HOME ?? '/root', '.cache/lifeboat');
const built = join(cache, 'images/latest');
let imageNote = 'the rescue image built on this machine';
if (existsSync(join(built, 'vmlinuz')) && existsSync(join(built, 'initrd'))) {
  for (const file of ['vmlinuz', 'initrd']) copyFileSync(join(built, file), join(image, file));
} else {
  imageNote = 'files of typical sizes (no image built on this machine)';
  writeFileSync(join(image, 'vmlinuz'), randomBytes(8_200_000));
  writeFileSync(join(image, 'initrd'), randomBytes(40_000_000));
}
writeFileSync(join(image, 'rootfs.squashfs'), 'unused here\n');
const sizeOf = (file: string) => statSync(join(image, file)).size;


interface WrkFigures {
  readonly requestsPerSecond: number;
  readonly bytesPerSecond: number;
  readonly p99Ms: number;
  readonly errors: number;
}

const unitBytes: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
const unitMs: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

/** Runs wrk over the paths in `pathsFile` (one per line) against `base` (never blocking: the control plane runs in this process). */
async function wrk(base: string, pathsFile: string): Promise<WrkFigures> {
  const script = join(dir, 'paths.lua');
  writeFileSync(
    script,
    `local paths = {}\nfor line in io.lines("${pathsFile}") do paths[#paths + 1] = line end\nlocal i = math.random(#paths)\nrequest = function()\n  i = i % #paths + 1\n  return wrk.format("GET", paths[i])\nend\n`,
  );
  const child = spawn('wrk', ['-t', '2', '-c', String(connections), '-d', `${seconds}s`, '--timeout', '30s', '--latency', '-s', script, base], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (status !== 0) throw new Error(`wrk failed: ${err}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const transfer = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(out);
  const p99 = /\s99%\s+([\d.]+)(\w+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  if (!transfer || !p99 || Number.isNaN(rps)) throw new Error(`cannot read wrk's output:\n${out}`);
  return {
    requestsPerSecond: rps,
    bytesPerSecond: Number(transfer[1]) * (unitBytes[transfer[2]!] ?? NaN),
    p99Ms: Number(p99[1]) * (unitMs[p99[2]!] ?? NaN),
    errors: non2xx + socketErrors,
  };
}

const apiPort = await freePort();
const frontPort = await freePort();
const staticPort = await freePort();
const flags = [
  '--data', join(dir, 'data'), '--listen', `127.0.0.1:${apiPort}`, '--boot-listen', '127.0.0.1:0', '--console-listen', 'off', '--log-level', 'error',
  '--image', image, '--lease-max', '30d', '--limit-enters', 'off', '--limit-boot-scripts', 'off',
  '--trust-proxy', '127.0.0.1', '--image-accel-redirect', '/lifeboat-files',
];
// Lifeboat alone streams the files: the same control plane without the redirect is a second process
// state we cannot switch at run time, so the direct path uses a second control plane on the same data.
const plane = await startControlPlane(parseConfig(flags, {}, dir), { powerDrivers: acceptingBmc, notice: () => undefined });
const nginxes: Nginx[] = [];
const rows: string[] = [];
try {
  const admin = readFileSync(join(dir, 'data', 'admin.token'), 'utf8').trim();
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${plane.url}${path}`, { method, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return response.json() as Promise<Record<string, unknown>>;
  };
  await call('POST', '/v1/tenants', { name: 'storm' });
  const macs = Array.from({ length: servers }, (_, i) => `52:54:00:0a:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`);
  for (let i = 0; i < servers; i += 50) {
    await Promise.all(macs.slice(i, i + 50).map((mac, j) => call('POST', '/v1/servers', { name: `s-${i + j}`, tenant: 'storm', macs: [mac], bmc: { url: 'ipmi://127.0.0.1:623' } })));
  }
  for (let i = 0; i < servers; i += 50) await Promise.all(macs.slice(i, i + 50).map((_, j) => call('POST', `/v1/servers/s-${i + j}/rescue`, {})));

  // Every server's script, once its BMC steps are done: the bytes nginx will serve as static files.
  const boot = plane.bootListenUrl!;
  const staticRoot = join(dir, 'static');
  const scripts: string[] = [];
  const kernels: string[] = [];
  const initrds: string[] = [];
  for (const mac of macs) {
    const path = `/v1/boot/${mac}.ipxe`;
    const text = await waitFor(`the rescue script of ${mac}`, async () => {
      const body = await (await fetch(`${boot}${path}`)).text();
      return body.includes('lifeboat.token=') ? body : undefined;
    }, 120_000);
    mkdirSync(join(staticRoot, 'v1/boot'), { recursive: true });
    writeFileSync(join(staticRoot, path), text);
    scripts.push(path);
    kernels.push(new URL(/kernel --name vmlinuz (\S+)/.exec(text)![1]!).pathname + new URL(/kernel --name vmlinuz (\S+)/.exec(text)![1]!).search);
    initrds.push(new URL(/initrd --name initrd (\S+)/.exec(text)![1]!).pathname + new URL(/initrd --name initrd (\S+)/.exec(text)![1]!).search);
  }
  const imageDir = /^\/v1\/images\/([^/]+)\//.exec(kernels[0]!)![1]!;
  mkdirSync(join(staticRoot, 'v1/images', imageDir), { recursive: true });
  for (const file of ['vmlinuz', 'initrd']) copyFileSync(join(image, file), join(staticRoot, 'v1/images', imageDir, file));
  const lists = { script: scripts, kernel: kernels, initrd: initrds };
  const pathFiles = Object.fromEntries(Object.entries(lists).map(([kind, paths]) => {
    const file = join(dir, `${kind}.paths`);
    writeFileSync(file, `${paths.join('\n')}\n`);
    return [kind, file];
  })) as Record<keyof typeof lists, string>;

  // nginx in front of Lifeboat (the documented configuration), and nginx alone on static files.
  nginxes.push(await startNginx(template, { LISTEN: `127.0.0.1:${frontPort}`, LIFEBOAT: boot.replace(/^http:\/\//, '') }, `127.0.0.1:${frontPort}`));
  const staticConf = join(dir, 'static-nginx.conf');
  writeFileSync(staticConf, `worker_processes auto;\nevents { worker_connections 8192; }\nhttp {\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 100000;\n  access_log off;\n  types { }\n  default_type application/octet-stream;\n  server {\n    listen @LISTEN@ backlog=4096;\n    root ${staticRoot};\n  }\n}\n`);
  nginxes.push(await startNginx(staticConf, { LISTEN: `127.0.0.1:${staticPort}` }, `127.0.0.1:${staticPort}`));

  // Lifeboat alone: a second control plane on the same database, streaming the files itself.
  const directFlags = flags.filter((f, i) => f !== '--image-accel-redirect' && flags[i - 1] !== '--image-accel-redirect' && f !== '--listen' && flags[i - 1] !== '--listen');
  const direct = await startControlPlane(parseConfig([...directFlags, '--listen', '127.0.0.1:0'], {}, dir), { powerDrivers: acceptingBmc, notice: () => undefined });
  try {
    const targets = { 'Lifeboat alone': direct.bootListenUrl!, 'Lifeboat behind nginx': `http://127.0.0.1:${frontPort}`, 'nginx alone (static files)': `http://127.0.0.1:${staticPort}` };
    const figures = new Map<string, WrkFigures[]>();
    for (let round = 0; round < rounds; round++) {
      for (const kind of Object.keys(lists) as (keyof typeof lists)[]) {
        for (const [name, base] of Object.entries(targets)) {
          const key = `${kind}|${name}`;
          figures.set(key, [...(figures.get(key) ?? []), await wrk(base, pathFiles[kind])]);
        }
      }
    }
    const med = (key: string, pick: (f: WrkFigures) => number) => median((figures.get(key) ?? []).map(pick));
    const human = (bytes: number) => (bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(2)} GiB/s` : `${(bytes / 1024 ** 2).toFixed(1)} MiB/s`);
    const sizes = { script: `${readFileSync(join(staticRoot, scripts[0]!)).length} bytes`, kernel: `${(sizeOf('vmlinuz') / 1e6).toFixed(1)} MB`, initrd: `${(sizeOf('initrd') / 1e6).toFixed(1)} MB` };
    for (const kind of Object.keys(lists) as (keyof typeof lists)[]) {
      const reference = `${kind}|nginx alone (static files)`;
      for (const name of Object.keys(targets)) {
        const key = `${kind}|${name}`;
        const rps = med(key, (f) => f.requestsPerSecond);
        const bytes = med(key, (f) => f.bytesPerSecond);
        const p99 = med(key, (f) => f.p99Ms);
        const errors = (figures.get(key) ?? []).reduce((sum, f) => sum + f.errors, 0);
        const ratio = name.startsWith('nginx') ? '1 (reference)' : `${(rps / med(reference, (f) => f.requestsPerSecond)).toFixed(2)} req/s, ${(bytes / med(reference, (f) => f.bytesPerSecond)).toFixed(2)} bytes/s, p99 ${(p99 / med(reference, (f) => f.p99Ms)).toFixed(2)}×`;
        rows.push(`| ${kind} (${sizes[kind]}) | ${name} | ${rps.toFixed(0)} | ${human(bytes)} | ${p99.toFixed(1)} ms | ${ratio} | ${errors} |`);
      }
    }
    const rssMb = (process.memoryUsage().rss / 2 ** 20).toFixed(0);
    console.log(
      [
        `| fetch | served by | req/s | bytes/s | p99 | ratio to nginx alone | errors |`,
        '| --- | --- | --- | --- | --- | --- | --- |',
        ...rows,
        `| — | this process afterwards (both control planes, RSS) | | ${rssMb} MiB | | | |`,
        `| — | set-up | ${servers} servers in rescue, wrk -t2 -c${connections} -d${seconds}s, ${rounds} rounds interleaved (medians); ${imageNote}; load ${loadavg()[0]?.toFixed(1)} after | | | | |`,
      ].join('\n'),
    );
  } finally {
    await direct.close();
  }
} finally {
  for (const nginx of nginxes) await nginx.stop();
  await plane.close();
  rmSync(dir, { recursive: true, force: true });
}
