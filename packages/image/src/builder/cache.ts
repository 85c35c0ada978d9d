/** The build cache: `$LIFEBOAT_CACHE/images/`, entries keyed by a hash of their inputs. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { lifeboatCacheDir } from '@lifeboat/core';
import { join } from 'node:path';

/** `$LIFEBOAT_CACHE`, else `$XDG_CACHE_HOME/lifeboat`, else `~/.cache/lifeboat`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return lifeboatCacheDir(env, homedir());
}

/** A short, stable hash of a JSON-able value (the inputs of a build step). */
export function inputHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 20);
}

/** sha256 of a buffer, hex. */
export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 of a file, hex, streamed. */
export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `build` holding `lockPath` (a directory with the holder's pid), so that two processes asking
 * for the same image (a test and `npm start`) do not both build it: the second waits, then finds
 * the first one's result through `isDone`. A lock left by a dead process is taken over.
 */
export async function withBuildLock<T>(lockPath: string, isDone: () => Promise<T | undefined>, build: () => Promise<T>): Promise<T> {
  for (;;) {
    const done = await isDone();
    if (done !== undefined) return done;
    try {
      await mkdir(lockPath);
      await writeFile(join(lockPath, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(await readFile(join(lockPath, 'pid'), 'utf8').catch(() => ''));
      if (pid > 0 && !isAlive(pid)) {
        await rm(lockPath, { recursive: true, force: true });
        continue;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return (await isDone()) ?? (await build());
  } finally {
    await rm(lockPath, { recursive: true, force: true });
  }
}
