/** Waiting for a real signal (a state, a file, an answer), never for a fixed time. */
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `check` every `intervalMs` until it returns a value other than `undefined` or `false`, and
 * resolves with that value; rejects after `timeoutMs` naming `what`. An error thrown by `check` ends
 * the wait at once (a check throws when the awaited thing can no longer happen: the process exited,
 * the rescue failed): a check for something that is not up yet returns undefined instead of throwing,
 * e.g. `(await fetch(url).catch(() => undefined))?.ok`.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(intervalMs);
  }
}
