/**
 * Lab benchmark: build times of the lab's disk images (first build into an empty cache unless
 * --no-cold, and cached), and seconds from power-on through IPMI to an SSH login on the installed
 * Debian (iPXE told to boot the local disk), per layout.
 *
 *   node --import tsx packages/lab/bench/lab.bench.ts [--runs N] [--layout plain]... [--no-cold]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureLayoutDisks, isLayoutName } from '../src/index.js';
import { cleanUpLab, eventually, firstServer, ipmitool, lab, sshAnswers, startBootServer } from '../test/lab-fixture.js';
import { median } from '../../../scripts/bench-stats.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '2' }, layout: { type: 'string', multiple: true, default: ['plain'] }, 'no-cold': { type: 'boolean', default: false } },
});
const runs = Number(values.runs);
const layouts = values.layout.filter(isLayoutName);
const work = mkdtempSync(join(tmpdir(), 'lifeboat-lab-bench-'));
const rows: string[] = [];
const row = (what: string, value: string, note = ''): void => {
  rows.push(`| ${what} | ${value} | ${note} |`);
  process.stderr.write(`${what}: ${value} ${note}\n`);
};
const load = (): string => loadavg()[0]?.toFixed(1) ?? '?';
const seconds = (since: number): number => (Date.now() - since) / 1000;

const boot = await startBootServer('#!ipxe\nsanboot --no-describe --drive 0x80 || exit\n');
try {
  if (!values['no-cold']) {
    const started = Date.now();
    await ensureLayoutDisks('plain', { cacheDir: join(work, 'cold-cache'), onProgress: (l) => process.stderr.write(`  ${l}\n`) });
    row('plain disk, first build into an empty cache (mmdebstrap + disk image)', `${seconds(started).toFixed(0)} s`, `load ${load()}`);
  }
  for (const layout of layouts) {
    await ensureLayoutDisks(layout, { onProgress: (l) => process.stderr.write(`  ${l}\n`) });
    const started = Date.now();
    await ensureLayoutDisks(layout);
    row(`${layout} disks, cached`, `${seconds(started).toFixed(2)} s`);

    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const dir = join(work, `lab-${layout}-${i}`);
      process.env.LIFEBOAT_LAB = dir;
      try {
        await lab('up', '--servers', '1', '--layout', layout, '--off', '--boot-url', boot.guestUrl);
        const server = firstServer(dir);
        const poweredOn = Date.now();
        await ipmitool(server, 'chassis', 'power', 'on');
        await eventually('SSH login with the lab key', () => sshAnswers(server), 600_000);
        times.push(seconds(poweredOn));
      } finally {
        await cleanUpLab(dir);
      }
    }
    row(`${layout}: IPMI power-on → iPXE → local disk → SSH login (TCG, 1 vCPU, 1 GiB)`, `${times.map((t) => t.toFixed(1)).join(', ')} s`, `median ${median(times).toFixed(1)} s, load ${load()}`);
  }
  console.log(['| measure | value | note |', '| --- | --- | --- |', ...rows].join('\n'));
} finally {
  await boot.close();
  rmSync(work, { recursive: true, force: true });
}
