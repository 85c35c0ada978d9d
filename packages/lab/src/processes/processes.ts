import { readFileSync, rmSync } from 'node:fs';
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

/**
 * Stops the process recorded in `pidfile` (only if its command line contains `marker`): SIGTERM, then
 * SIGKILL after `timeoutMs`; removes the pidfile. Resolves true when no such process is left.
 */
export async function stopProcess(pidfile: string, marker: string, timeoutMs = 10_000): Promise<boolean> {
  const pid = livePid(pidfile, marker);
  if (pid !== undefined) {
    signal(pid, 'SIGTERM');
    if (!(await waitUntil(() => !isProcessAlive(pid, marker), timeoutMs))) {
      signal(pid, 'SIGKILL');
      if (!(await waitUntil(() => !isProcessAlive(pid, marker), 5_000))) return false;
    }
  }
  rmSync(pidfile, { force: true });
  return true;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}
