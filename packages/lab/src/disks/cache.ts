import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { lifeboatCacheDir } from '@lifeboat/core';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DiskError } from './errors.js';

/** Where lab disk builds are cached: `$LIFEBOAT_CACHE`, else `$XDG_CACHE_HOME/lifeboat`, else `~/.cache/lifeboat`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return lifeboatCacheDir(env, homedir());
}

/** A short, stable digest of a build's inputs: the name of its cache directory. */
export function hashInputs(inputs: unknown): string {
  return createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 16);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Returns `dir` once it holds a finished build, running `build(tmpDir)` first when it does not.
 * The build writes into a fresh sibling directory that is renamed into place only when the build
 * succeeded, so a stopped build never leaves a half-made cache entry. A lock file (with the
 * builder's pid; a dead builder's lock is taken over) keeps two processes from building the same
 * thing at once: the second one waits and reuses the first one's result.
 */
export async function cached(
  dir: string,
  build: (tmpDir: string) => Promise<void>,
  options: { signal?: AbortSignal; waitMs?: number } = {},
): Promise<string> {
  const done = join(dir, '.complete');
  if (await exists(done)) return dir;
  await mkdir(dirname(dir), { recursive: true });
  const lock = `${dir}.lock`;
  const deadline = Date.now() + (options.waitMs ?? 60 * 60 * 1000);
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const handle = await open(lock, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
      if (owner && !pidAlive(owner)) {
        await rm(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new DiskError('LAB_DISK_LOCKED', `${lock} is held by process ${owner}`);
      await sleep(1000);
    }
  }
  try {
    if (await exists(done)) return dir;
    const tmp = `${dir}.tmp-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    try {
      await build(tmp);
      await (await open(join(tmp, '.complete'), 'w')).close();
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
    } catch (error) {
      await rm(tmp, { recursive: true, force: true });
      throw error;
    }
    return dir;
  } finally {
    await rm(lock, { force: true });
  }
}
