// `npm test`: every test of the project, in stages that fail fast.
//   1. typecheck, then unit and in-process tests (packages/*/src/**/*.test.ts), on SQLite;
//   2. integration tests (packages/*/test/**/*.test.ts): PostgreSQL, real child processes, the CLI;
//   3. VM tests (*.vm.test.ts): QEMU virtual machines, one VM at a time per file, two files at a time
//      (the end-to-end files first: they are the longest);
//   4. end-to-end tests that run two lab servers at once (their file says `npm test: two VMs at once`), alone.
// At most two VMs run at once (2 cores). Usage: npm test [-- --stage unit|integration|vm|e2e] [-- FILE...]
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureSetup } from './setup.mjs';
import { ensureWebBuild } from './web-build.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

function walk(dir, out = []) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

const all = [...readdirSync('packages').flatMap((p) => walk(join('packages', p))), ...walk('e2e')].sort();
const isVm = (f) => f.endsWith('.vm.test.ts');
const twoVms = (f) => isVm(f) && readFileSync(f, 'utf8').includes('npm test: two VMs at once');
const e2eFirst = (a, b) => Number(b.startsWith('e2e/')) - Number(a.startsWith('e2e/')) || a.localeCompare(b);
const stages = [
  { name: 'unit', files: all.filter((f) => /^packages\/[^/]+\/src\//.test(f) && !isVm(f)), concurrency: 2 },
  // Mostly waiting on child processes, sockets and PostgreSQL: two files at once.
  { name: 'integration', files: all.filter((f) => /^packages\/[^/]+\/test\//.test(f) && !isVm(f)), concurrency: 2 },
  // Each of these files runs one VM at a time: two files at once keep two VMs on the two cores.
  { name: 'vm', files: all.filter((f) => isVm(f) && !twoVms(f)).sort(e2eFirst), concurrency: 2 },
  // The end-to-end story runs two lab servers at once: alone.
  { name: 'e2e', files: all.filter(twoVms), concurrency: 1 },
];

const args = process.argv.slice(2);
const usage = 'usage: npm test [-- --stage unit|integration|vm|e2e] [-- FILE.test.ts...]';
if (args.includes('--help') || args.includes('-h')) {
  console.log(usage);
  process.exit(0);
}
const unknown = args.filter((a, i) => a.startsWith('-') && a !== '--stage' && args[i - 1] !== '--stage');
if (unknown.length > 0) {
  console.error(`unknown option ${unknown[0]}\n${usage}`);
  process.exit(2);
}
const stageArg = args.indexOf('--stage');
const onlyStage = stageArg >= 0 ? args[stageArg + 1] : undefined;
if (onlyStage !== undefined && !stages.some((s) => s.name === onlyStage)) {
  console.error(`unknown stage ${onlyStage}\n${usage}`);
  process.exit(2);
}
const explicit = args.filter((a, i) => a.endsWith('.ts') && (stageArg < 0 || i !== stageArg + 1));

function run(command, argv, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      out += chunk.toString();
    });
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

ensureSetup();
ensureWebBuild();
let passed = 0;
let failed = 0;
let failedStage;
if (explicit.length === 0 && !onlyStage) {
  console.log('# stage typecheck');
  let tc = await run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']);
  // The console (DOM, JSX, bundler resolution) has its own project.
  if (tc.code === 0) tc = await run('npx', ['tsc', '-p', 'packages/web/tsconfig.json', '--noEmit']);
  if (tc.code !== 0) {
    console.log('typecheck failed');
    console.log(`0 passed, 1 failed`);
    process.exit(1);
  }
}
for (const stage of stages) {
  if (onlyStage && stage.name !== onlyStage) continue;
  const files = explicit.length > 0 ? stage.files.filter((f) => explicit.includes(f)) : stage.files;
  if (files.length === 0) continue;
  console.log(`# stage ${stage.name}: ${files.length} files`);
  const result = await run(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-concurrency=${stage.concurrency}`, ...files],
    { LIFEBOAT_TEST_STAGE: stage.name },
  );
  passed += Number(/ℹ pass (\d+)/.exec(result.out)?.[1] ?? 0);
  failed += Number(/ℹ fail (\d+)/.exec(result.out)?.[1] ?? 0);
  if (result.code !== 0) {
    failedStage = stage.name;
    if (failed === 0) failed = 1;
    break;
  }
}
if (failedStage) console.log(`stage ${failedStage} failed; later stages not run`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
