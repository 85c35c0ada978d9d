// `npm test`: every test of the project, in stages that fail fast.
//   1. typecheck, then unit and in-process tests (packages/*/src/**/*.test.ts), on SQLite;
//   2. integration tests (packages/*/test/**/*.test.ts): PostgreSQL, real child processes, the CLI;
//   3. VM tests (*.vm.test.ts): QEMU virtual machines, one VM at a time per file, two files at a time;
//   4. end-to-end tests that run two lab servers at once (their file says `npm test: two VMs at once`), alone.
// At most two VMs run at once (2 cores). Each file runs in its own `node --test` process; its output is
// printed whole when it ends, with its counts and time. A stage starts its longest files first, by the
// times of the last run on this machine ($LIFEBOAT_CACHE/test-durations.json; without them, the
// end-to-end files first), so that no core waits alone on one long file at the end of a stage.
// Usage: npm test [-- --stage unit|integration|vm|e2e] [-- FILE...]
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
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

/** The process groups of the test files running now. */
const groups = new Set();

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
}

// The test files run in their own process groups (so that a hung one can be ended whole): Ctrl-C or a
// SIGTERM to this script ends them too.
for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15]]) {
  process.on(signal, () => {
    for (const pid of groups) killGroup(pid, 'SIGTERM');
    process.exit(128 + number);
  });
}

/**
 * Runs a command; its output is printed as it comes (`live`) or returned whole, stderr after stdout.
 * With `timeoutMs`, a command still running then is ended with its whole process group (SIGTERM, then
 * SIGKILL 10 s later) and resolves with `timedOut`: a hung test fails with what it printed, instead of
 * holding the run until CI's own limit ends it without a word.
 */
function run(command, argv, { env = {}, live = true, timeoutMs } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, argv, {
      stdio: ['ignore', 'pipe', live ? 'inherit' : 'pipe'],
      env: { ...process.env, ...env },
      detached: timeoutMs !== undefined,
    });
    let out = '';
    let err = '';
    let timedOut = false;
    if (timeoutMs !== undefined) groups.add(child.pid);
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            killGroup(child.pid, 'SIGTERM');
            setTimeout(() => killGroup(child.pid, 'SIGKILL'), 10_000).unref();
          }, timeoutMs);
    child.stdout.on('data', (chunk) => {
      if (live) process.stdout.write(chunk);
      out += chunk.toString();
    });
    child.stderr?.on('data', (chunk) => (err += chunk.toString()));
    child.on('close', (code) => {
      groups.delete(child.pid);
      clearTimeout(timer);
      resolve({ code: code ?? 1, out, err, timedOut });
    });
  });
}

/** How long one test file may run (LIFEBOAT_TEST_FILE_TIMEOUT, seconds): a cold lab-disk build takes about 18 min. */
const fileTimeoutMs = Number(process.env.LIFEBOAT_TEST_FILE_TIMEOUT ?? 1800) * 1000;

// The same directory as core's lifeboatCacheDir (packages/core/src/cache.ts): plain Node.js here.
const cacheDir = process.env.LIFEBOAT_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'lifeboat');
const durationsFile = join(cacheDir, 'test-durations.json');

/** Seconds each file took in the last run that ran it, by path. */
function readDurations() {
  try {
    const value = JSON.parse(readFileSync(durationsFile, 'utf8'));
    return typeof value === 'object' && value !== null ? value : {};
  } catch {
    return {};
  }
}

function writeDurations(durations) {
  try {
    mkdirSync(cacheDir, { recursive: true });
    const temporary = `${durationsFile}.${process.pid}`;
    writeFileSync(temporary, `${JSON.stringify(durations, null, 1)}\n`);
    renameSync(temporary, durationsFile);
  } catch (error) {
    console.log(`# could not record the files' times in ${durationsFile}: ${error.message}`);
  }
}

/** Longest first by the last run's times; a file never timed goes first (it may be long), in the stage's order. */
function longestFirst(files, durations) {
  const known = (f) => typeof durations[f] === 'number';
  return [...files.filter((f) => !known(f)), ...files.filter(known).sort((a, b) => durations[b] - durations[a])];
}

/** Runs a stage's files, `concurrency` processes at a time; resolves with the counts. */
async function runStage(stage, files, durations) {
  const queue = longestFirst(files, durations);
  const counts = { passed: 0, failed: 0, code: 0, failedFiles: [] };
  // One process at a time may print as it goes; two would mix their lines.
  const live = stage.concurrency === 1 || files.length === 1;
  async function worker() {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      const started = Date.now();
      const result = await run(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', file], {
        env: { LIFEBOAT_TEST_STAGE: stage.name },
        live,
        timeoutMs: fileTimeoutMs,
      });
      const seconds = Math.round((Date.now() - started) / 100) / 10;
      durations[file] = seconds;
      const passed = Number(/ℹ pass (\d+)/.exec(result.out)?.[1] ?? 0);
      let failed = Number(/ℹ fail (\d+)/.exec(result.out)?.[1] ?? 0);
      if (result.code !== 0 && failed === 0) failed = 1;
      if (result.timedOut) failed = Math.max(failed, 1);
      counts.passed += passed;
      counts.failed += failed;
      if (result.code !== 0) counts.code = result.code;
      if (failed > 0) counts.failedFiles.push(file);
      if (!live) process.stdout.write(result.out + result.err);
      if (result.timedOut) console.log(`# ${file}: still running after ${fileTimeoutMs / 1000} s (LIFEBOAT_TEST_FILE_TIMEOUT): ended with its process group`);
      console.log(`# ${file}: ${passed} passed, ${failed} failed, ${seconds} s`);
    }
  }
  await Promise.all(Array.from({ length: Math.min(stage.concurrency, files.length) }, worker));
  return counts;
}

ensureSetup();
ensureWebBuild();
// The control plane and the CLI run from bundles built when their sources change: built here once,
// rather than by the first test processes at the same time.
for (const bin of ['packages/control-plane/bin/lifeboat-control-plane.mjs', 'packages/cli/bin/lifeboat.mjs']) {
  const built = await run(process.execPath, [bin, '--help'], { live: false });
  if (built.code !== 0) {
    console.log(`${bin} does not start:\n${built.out}${built.err}`);
    process.exit(1);
  }
}
let passed = 0;
let failed = 0;
let failedStage;
let failedFiles = [];
if (explicit.length === 0 && !onlyStage) {
  console.log('# stage typecheck');
  // The console (DOM, JSX, bundler resolution) has its own project; both at once, one a core.
  const checks = await Promise.all(['tsconfig.json', 'packages/web/tsconfig.json'].map((project) => run('npx', ['tsc', '-p', project, '--noEmit'], { live: false })));
  for (const check of checks) process.stdout.write(check.out + check.err);
  if (checks.some((check) => check.code !== 0)) {
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
  const started = Date.now();
  const durations = readDurations();
  const result = await runStage(stage, files, durations);
  writeDurations({ ...readDurations(), ...durations });
  console.log(`# stage ${stage.name}: ${result.passed} passed, ${result.failed} failed, ${Math.round((Date.now() - started) / 1000)} s`);
  passed += result.passed;
  failed += result.failed;
  if (result.code !== 0 || result.failed > 0) {
    failedStage = stage.name;
    failedFiles = result.failedFiles;
    break;
  }
}
if (failedStage) console.log(`stage ${failedStage} failed (${failedFiles.join(', ')}); later stages not run`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
