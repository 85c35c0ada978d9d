/**
 * `npm start` stops everything it started (issue 10, item 14): the lab's QEMU, ipmi_sim and Redfish
 * processes and the control plane, whether Ctrl-C reaches the terminal's whole process group, a
 * SIGTERM reaches npm alone, Ctrl-C is pressed twice, or Ctrl-C comes while the lab is still starting.
 * Each case runs the real `npm start` with one lab server (its VM is started; whether it finished
 * booting does not matter here) in its own process group, data and lab directories and port.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from './support.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** A live process (zombies excluded), as /proc shows it. */
interface LiveProcess {
  readonly pid: number;
  readonly pgrp: number;
  readonly cmdline: string;
}

function liveProcesses(): LiveProcess[] {
  const out: LiveProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' || fields[0] === 'X') continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      out.push({ pid: Number(entry), pgrp: Number(fields[2]), cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Every pidfile under `dir` with the pid it holds. */
function pidfiles(dir: string): Map<string, number> {
  const found = new Map<string, number>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.pid')) found.set(path.slice(dir.length + 1), Number(readFileSync(path, 'utf8').trim()));
    }
  };
  walk(dir);
  return found;
}

/** Processes whose command line names the lab directory (QEMU, ipmi_sim, chassis control, Redfish). */
function labProcesses(labDir: string): LiveProcess[] {
  return liveProcesses().filter((p) => p.cmdline.includes(`${labDir}/`) || p.cmdline.includes(`${labDir} `));
}

interface Started {
  readonly labDir: string;
  readonly pgid: number;
  output(): string;
  hasExited(): boolean;
  /** Resolves once npm has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function npmStart(t: { after(fn: () => void): void }): Promise<Started> {
  // Short: the lab's unix sockets live under it (107 bytes at most).
  const dir = mkdtempSync(join(tmpdir(), 'lb-start-'));
  const labDir = join(dir, 'lab');
  const env: NodeJS.ProcessEnv = { ...process.env, LIFEBOAT_DATA: join(dir, 'data'), LIFEBOAT_LAB: labDir };
  for (const name of ['LIFEBOAT_URL', 'LIFEBOAT_TOKEN', 'LIFEBOAT_IMAGE', 'LIFEBOAT_LISTEN', 'LIFEBOAT_DATABASE_URL']) delete env[name];
  const port = await freePort();
  // detached: its own process group, as a terminal gives a foreground job.
  const child = spawn('npm', ['start', '--', '--servers', '1', '--listen', `127.0.0.1:${port}`, '--console-listen', '127.0.0.1:0'], {
    cwd: root,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  let ended = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      ended = true;
      resolve({ code, signal });
    }),
  );
  const pgid = child.pid!;
  t.after(() => {
    // Whatever a failed case left: the test's own processes only (its group, its lab directory).
    for (const p of liveProcesses()) if (p.pgrp === pgid || p.cmdline.includes(`${labDir}`)) try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
    rmSync(dir, { recursive: true, force: true });
  });
  return { labDir, pgid, output: () => text, hasExited: () => ended, exited };
}

/** Waits for npm start to exit; reports how long the stop took from the signal. */
async function waitForExit(t: { diagnostic(message: string): void }, started: Started, signalledAt: number): Promise<void> {
  await waitFor('npm start to exit', async () => started.hasExited(), stopTimeoutMs, 100);
  t.diagnostic(`npm start exited ${Date.now() - signalledAt} ms after the signal`);
}

/** Waits for `text` in the output of `npm start` (it fails at once if npm exited). */
async function waitForOutput(started: Started, text: string, timeoutMs: number): Promise<void> {
  await waitFor(
    `"${text}" from npm start`,
    async () => {
      if (started.output().includes(text)) return true;
      if (started.hasExited()) throw new Error(`npm start exited:\n${started.output()}`);
      return false;
    },
    timeoutMs,
    200,
  );
}

/** The lab's QEMU, ipmi_sim and Redfish are running, by their pidfiles and by /proc. */
function assertLabRunning(labDir: string): number[] {
  const pids = pidfiles(labDir);
  const running = labProcesses(labDir);
  for (const [program, pidfile] of [['qemu-system', 'servers/lab-1/qemu.pid'], ['ipmi_sim', 'servers/lab-1/ipmi/ipmi_sim.pid'], ['redfish', 'redfish.pid']] as const) {
    const pid = pids.get(pidfile);
    assert.ok(pid, `${pidfile} is written`);
    assert.ok(running.some((p) => p.pid === pid && p.cmdline.includes(program)), `${program} (pid ${pid}) runs`);
  }
  return running.map((p) => p.pid);
}

/** Nothing is left: no process of the lab (by the pids it had and by /proc) and none of npm's group. */
function assertNothingLeft(started: Started, labPids: readonly number[]): void {
  const live = liveProcesses();
  const left = live.filter((p) => labPids.includes(p.pid) || p.pgrp === started.pgid);
  assert.deepEqual(left.map((p) => `${p.pid} ${p.cmdline}`), [], `processes left:\n${started.output()}`);
  assert.deepEqual(labProcesses(started.labDir).map((p) => `${p.pid} ${p.cmdline}`), [], 'no process names the lab directory');
  const pids = pidfiles(started.labDir);
  for (const [file, pid] of pids) assert.ok(!live.some((p) => p.pid === pid), `${file}: pid ${pid} is gone`);
}

const stopTimeoutMs = 90_000;
const upTimeoutMs = 15 * 60_000; // the first run may build the rescue image and the lab disks

test('Ctrl-C (SIGINT to the process group) stops the lab and the control plane', { timeout: upTimeoutMs + stopTimeoutMs }, async (t) => {
  const started = await npmStart(t);
  await waitForOutput(started, 'Lifeboat is running', upTimeoutMs);
  const labPids = assertLabRunning(started.labDir);
  const signalledAt = Date.now();
  process.kill(-started.pgid, 'SIGINT');
  await waitForExit(t, started, signalledAt);
  assert.match(started.output(), /stopping: lab down, control plane/);
  assert.match(started.output(), /stopped; no process left/);
  assertNothingLeft(started, labPids);
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} to npm alone stops the lab and the control plane`, { timeout: upTimeoutMs + stopTimeoutMs }, async (t) => {
    const started = await npmStart(t);
    await waitForOutput(started, 'Lifeboat is running', upTimeoutMs);
    const labPids = assertLabRunning(started.labDir);
    const signalledAt = Date.now();
    process.kill(started.pgid, signal);
    await waitForExit(t, started, signalledAt);
    assert.match(started.output(), /stopped; no process left/);
    assertNothingLeft(started, labPids);
  });
}

test('a second Ctrl-C while stopping does not cut the stop short', { timeout: upTimeoutMs + stopTimeoutMs }, async (t) => {
  const started = await npmStart(t);
  await waitForOutput(started, 'Lifeboat is running', upTimeoutMs);
  const labPids = assertLabRunning(started.labDir);
  const signalledAt = Date.now();
  process.kill(-started.pgid, 'SIGINT');
  await waitForOutput(started, 'stopping: lab down', stopTimeoutMs);
  process.kill(-started.pgid, 'SIGINT');
  await waitForExit(t, started, signalledAt);
  assertNothingLeft(started, labPids);
});

test('Ctrl-C while the lab is starting stops what it started', { timeout: upTimeoutMs + stopTimeoutMs }, async (t) => {
  const started = await npmStart(t);
  await waitForOutput(started, 'lab-1: IPMI BMC on', upTimeoutMs);
  const labPids = labProcesses(started.labDir).map((p) => p.pid);
  assert.ok(labPids.length > 0, 'the BMC of lab-1 runs');
  const signalledAt = Date.now();
  process.kill(-started.pgid, 'SIGINT');
  await waitForExit(t, started, signalledAt);
  assert.doesNotMatch(started.output(), /Lifeboat is running/);
  assertNothingLeft(started, labPids);
});
