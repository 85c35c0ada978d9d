// `npm run bench`: runs every benchmark (packages/*/bench/*.bench.ts, e2e/bench/*.bench.ts) one after
// the other and writes docs/benchmarks.md: each benchmark's markdown table (its stdout), with the
// command, the date and the machine. Speed and memory targets are judged there, never in tests.
//   npm run bench [-- NAME-SUBSTRING...]   only the benchmarks whose path contains one of the words
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSetup } from './setup.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
ensureSetup();

const dirs = [...readdirSync('packages').map((p) => join('packages', p, 'bench')), join('e2e', 'bench')].filter(existsSync);
const filters = process.argv.slice(2);
const benches = dirs
  .flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.bench.ts')).map((f) => join(d, f)))
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort();

const out = join(root, 'docs/benchmarks.md');
const previous = existsSync(out) ? readFileSync(out, 'utf8') : '';
const sections = new Map();
for (const match of previous.matchAll(/^## (\S+)\n([\s\S]*?)(?=^## |(?![\s\S]))/gm)) sections.set(match[1], match[0]);

const kvm = spawnSync('sh', ['-c', 'grep -cwE "vmx|svm" /proc/cpuinfo'], { encoding: 'utf8' }).stdout.trim();
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${
  kvm === '0' ? 'no hardware virtualisation (QEMU runs under TCG)' : 'vmx/svm present'
}`;
// A benchmark's stdout may carry progress of the tools it drives (the lab prints its status):
// its result is the markdown table.
const tableOf = (stdout) => stdout.split('\n').filter((line) => line.startsWith('|')).join('\n');
let failed = 0;
for (const bench of benches) {
  console.error(`# ${bench}`);
  const started = new Date();
  const loadBefore = loadavg()[0].toFixed(1);
  const result = spawnSync(process.execPath, ['--import', 'tsx', bench], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (result.status !== 0) {
    console.error(`${bench} failed (exit ${result.status}); its section is left as it was`);
    failed++;
    continue;
  }
  sections.set(
    bench,
    `## ${bench}\nCommand: \`node --import tsx ${bench}\` (all: \`npm run bench\`). Run ${started.toISOString().slice(0, 16)} UTC on ${machine}; load average before: ${loadBefore}.\n\n${tableOf(result.stdout)}\n\n`,
  );
}
const header = `# Benchmarks\n\nWritten by \`npm run bench\` (scripts/bench.mjs). Each section is one benchmark's own table, with\nthe command that produced it and the machine it ran on. Figures from a shared machine are inflated by\nwhatever else ran (the load average says how busy it was).\n\n`;
writeFileSync(out, header + [...sections.values()].join(''));
console.error(`wrote ${out}`);
process.exit(failed > 0 ? 1 : 0);
