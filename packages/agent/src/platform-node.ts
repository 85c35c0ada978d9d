/**
 * The agent's platform on Node.js: what tests of the agent's portable parts run on. The rescue image
 * runs platform-quickjs.ts; this file never goes into the image's bundle.
 */
import { execFile, spawn } from 'node:child_process';
import { appendFileSync, closeSync, constants, existsSync, openSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { LifeboatError } from '@lifeboat/core/errors';
import { dyingWithAgent, killGraceMs } from './platform.js';
import { chmod, chown, mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import type { DeviceHold, HttpRequest, HttpResponse, Platform, RunOptions, RunResult } from './platform.js';

/** util-linux's setpriv on PATH, or null. */
const setpriv = (process.env.PATH ?? '/usr/bin:/bin').split(delimiter).filter(Boolean).map((dir) => join(dir, 'setpriv')).find((path) => existsSync(path)) ?? null;

function run(program: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return options.processGroup || options.onOutput ? runStreaming(program, args, options) : runBuffered(program, args, options);
}

/** A program whose output is followed as it comes, in a process group of its own when asked. */
function runStreaming(program: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // `detached` makes the group (setsid); setpriv makes it die with this process, as every program.
    const [file, ...argv] = dyingWithAgent([program, ...args], setpriv);
    const child = spawn(file as string, argv, { detached: options.processGroup === true, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: string[] = [];
    const err: string[] = [];
    let exited = false;
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      out.push(text);
      options.onOutput?.(text, 'stdout');
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      err.push(text);
      options.onOutput?.(text, 'stderr');
    });
    const signalGroup = (signal: NodeJS.Signals): void => {
      try {
        if (options.processGroup && child.pid !== undefined) process.kill(-child.pid, signal);
        else child.kill(signal);
      } catch {
        // already gone
      }
    };
    const removeStop =
      options.stop?.onStop(() => {
        signalGroup('SIGTERM');
        setTimeout(() => {
          if (!exited) signalGroup('SIGKILL');
        }, killGraceMs).unref();
      }) ?? (() => undefined);
    child.on('error', (error) => {
      removeStop();
      reject(error);
    });
    child.on('close', (code, signal) => {
      exited = true;
      removeStop();
      resolve({ status: code ?? (signal ? 128 + signalNumber(signal) : 1), stdout: out.join(''), stderr: err.join('') });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.stdin ?? '');
  });
}

function runBuffered(program: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // As on QuickJS, every program dies with the agent (a missing one is then setpriv's status 127).
    const [file, ...argv] = dyingWithAgent([program, ...args], setpriv);
    const child = execFile(file as string, argv, { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      removeStop();
      if (error && typeof error.code === 'string') {
        reject(error);
        return;
      }
      const status = child.exitCode ?? (child.signalCode ? 128 + signalNumber(child.signalCode) : 1);
      resolve({ status, stdout, stderr });
    });
    const removeStop = options.stop?.onStop(() => child.kill('SIGTERM')) ?? (() => undefined);
    // A program that exits without reading its input closes the pipe first: not a failure of the run.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.stdin ?? '');
  });
}

function signalNumber(name: string): number {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[name] ?? 0;
}

async function http(request: HttpRequest): Promise<HttpResponse> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`timed out after ${request.timeoutSeconds} s`)), request.timeoutSeconds * 1000);
  const removeStop = request.stop?.onStop(() => controller.abort(request.stop?.reason)) ?? (() => undefined);
  try {
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      signal: controller.signal,
      ...(request.body === undefined ? {} : { body: request.body }),
    });
    return { status: response.status, body: await response.text() };
  } catch (error) {
    // fetch says "fetch failed" and hides the reason in `cause` (ECONNREFUSED...)
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    throw new Error(`${error instanceof Error ? error.message : String(error)}${cause}`);
  } finally {
    clearTimeout(timer);
    removeStop();
  }
}

export const nodePlatform: Platform = {
  runtime: `node ${process.version}`,
  setpriv,
  env: (name) => process.env[name],
  pid: () => process.pid,
  readText: (path) => readFile(path, 'utf8'),
  async writeText(path, text, mode) {
    await writeFile(path, text, { mode });
    await chmod(path, mode);
  },
  appendTextSync: (path, text) => appendFileSync(path, text),
  exists: (path) => existsSync(path),
  async mkdir(path, mode) {
    await mkdir(path, { recursive: true, mode });
  },
  readdir: (path) => readdir(path),
  async owner(path) {
    try {
      const s = await stat(path);
      return { uid: s.uid, gid: s.gid };
    } catch {
      return null;
    }
  },
  chown: (path, uid, gid) => chown(path, uid, gid),
  chmod: (path, mode) => chmod(path, mode),
  rename: (from, to) => rename(from, to),
  run,
  async holdDevice(path): Promise<DeviceHold> {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_EXCL);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EBUSY') throw new LifeboatError('DEVICE_BUSY', `${path} is in use (mounted, swap, or held by RAID/LVM or another check)`);
      if (code === 'ENOENT') throw new LifeboatError('DEVICE_NOT_FOUND', `${path} does not exist`);
      throw error;
    }
    let open = true;
    return {
      release() {
        if (open) closeSync(fd);
        open = false;
      },
    };
  },
  http,
  sleep: (ms, stop) =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        remove();
        resolve();
      }, ms);
      const remove = stop?.onStop(() => {
        clearTimeout(timer);
        resolve();
      }) ?? (() => undefined);
    }),
  kill(pid, signal) {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  },
  onSignal: (name, handler) => void process.on(name, handler),
  writeStdout: (text) => void process.stdout.write(text),
  exit: (code) => process.exit(code),
};
