import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Reads a pidfile; `undefined` when it is missing or does not hold a pid. */
export function readPid(pidfile: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(pidfile, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` is a live process (not a zombie) whose command line contains `marker`: a pid reused by
 * an unrelated process after ours died must never count as ours, let alone be killed.
 */
export function isProcessAlive(pid: number, marker: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    return false;
  }
}

/** The live pid recorded in `pidfile` whose command line contains `marker`, if any. */
export function livePid(pidfile: string, marker: string): number | undefined {
  const pid = readPid(pidfile);
  return pid !== undefined && isProcessAlive(pid, marker) ? pid : undefined;
}

/** Polls `check` every `intervalMs` until it returns true; false when `timeoutMs` passed first. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}

/** How {@link stopProcess} stops a process. */
export interface StopOptions {
  /** Grace period between SIGTERM and SIGKILL (default 10 s). */
  readonly timeoutMs?: number;
  /**
   * Signal the process's whole process group, not just the process: for a program started in its own
   * session (`detached`) whose children must not outlive it, e.g. ipmi_sim's chassis-control script
   * caught half-way through a power-on.
   */
  readonly group?: boolean;
}

/**
 * Stops the process recorded in `pidfile` (only if its command line contains `marker`): SIGTERM, then
 * SIGKILL after the grace period; removes the pidfile. Resolves true when no such process is left.
 */
export async function stopProcess(pidfile: string, marker: string, options: StopOptions = {}): Promise<boolean> {
  const pid = livePid(pidfile, marker);
  if (pid !== undefined) {
    // A group is only signalled when the process leads it (it was started in its own session).
    const target = options.group && processGroup(pid) === pid ? -pid : pid;
    signal(target, 'SIGTERM');
    if (!(await waitUntil(() => !isProcessAlive(pid, marker), options.timeoutMs ?? 10_000))) {
      signal(target, 'SIGKILL');
      if (!(await waitUntil(() => !isProcessAlive(pid, marker), 5_000))) return false;
    }
    if (target < 0) signal(target, 'SIGKILL'); // what is left of the group once its leader is gone
  }
  rmSync(pidfile, { force: true });
  return true;
}

/** The process group of `pid`, from /proc (undefined when it is gone). */
function processGroup(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name: state, ppid, pgrp, ...
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return undefined;
  }
}

/** A live process found by {@link processesNaming}. */
export interface FoundProcess {
  readonly pid: number;
  /** Its arguments (argv), as /proc shows them. */
  readonly argv: readonly string[];
}

/**
 * Live processes (zombies excluded) whose command line contains one of `markers` and names `dir`
 * (an argument that is `dir` or a path under it): the lab's own programs still running for a lab
 * directory, found even when their pidfile is missing or was written too late to be read.
 */
export function processesNaming(dir: string, markers: readonly string[]): FoundProcess[] {
  const found: FoundProcess[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue;
    }
    const names = argv.some((arg) => arg === dir || arg.includes(`${dir}/`));
    if (!names || !markers.some((m) => argv.some((arg) => arg.includes(m)))) continue;
    if (!isProcessAlive(pid, '')) continue;
    found.push({ pid, argv });
  }
  return found;
}

/** Sends `name` to `pid` (a negative pid: its process group), ignoring a process already gone. */
export function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}
