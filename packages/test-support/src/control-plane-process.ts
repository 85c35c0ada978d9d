/**
 * Test support: a control plane as a child process (the real entry point, `lifeboat-control-plane`,
 * with its real BMC drivers), on a port of the test's choosing with its own data directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { controlPlaneProgram } from './control-plane-program.js';
import { waitFor } from './wait.js';

/** A control plane child process. */
export interface ControlPlaneProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** The operator token written on first start. */
  adminToken(): string;
  /** Output so far (stdout and stderr). */
  output(): string;
  /** Stops it with a signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** How a control plane process is started. */
export interface ControlPlaneProcessOptions {
  /** Data directory (SQLite, `admin.token`). */
  readonly dataDir: string;
  /** Port of its API on 127.0.0.1 (`freePort()`). */
  readonly port: number;
  /** More `lifeboat serve` flags. */
  readonly flags?: readonly string[];
  /** Environment of the process, over the test's own without its `LIFEBOAT_*` settings. */
  readonly env?: Record<string, string>;
  /**
   * `false` starts it with no image at all (as `lifeboat serve` without `--image` on a machine: it
   * then looks for the last image built); by default, unless `flags` name one, a stand-in.
   */
  readonly standInImage?: boolean;
  /** How long it may take to answer `/healthz` (default 30 s). */
  readonly readyTimeoutMs?: number;
  /**
   * The Node.js arguments that run it, before the flags (default: the entry point with its manifest's
   * Node.js options). The control plane's own tests run a variant of its `main` this way.
   */
  readonly program?: readonly string[];
}

/** Writes the three files of a rescue image (small, not bootable) into `dir`; returns `dir`. */
export function standInImage(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const file of ['vmlinuz', 'initrd', 'rootfs.squashfs']) writeFileSync(join(dir, file), `stand-in ${file}\n`);
  return dir;
}

/** The Node.js arguments of the control plane's entry point: its Node.js options, then its file. */
function entryPoint(): readonly string[] {
  const { file, nodeOptions } = controlPlaneProgram();
  return [...nodeOptions, file];
}

/**
 * The test's environment without the control plane's settings (`LIFEBOAT_*`): nothing of the
 * machine leaks into a test's control plane but what the test says. Running from source is kept.
 */
function childEnvironment(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('LIFEBOAT_') || key === 'LIFEBOAT_CONTROL_PLANE_FROM_SOURCE') env[key] = value;
  }
  return { ...env, ...extra };
}

/**
 * Starts the control plane on `127.0.0.1:port` with `flags`; resolves once `/healthz` answers. A rescue
 * is refused without a complete image: unless the test names one (or says `standInImage: false`), it
 * serves a stand-in that is never booted.
 */
export async function startControlPlaneProcess(options: ControlPlaneProcessOptions): Promise<ControlPlaneProcess> {
  const url = `http://127.0.0.1:${options.port}`;
  const flags = options.flags ?? [];
  const image = options.standInImage === false || flags.includes('--image') ? [] : ['--image', standInImage(`${options.dataDir}-image`)];
  const program = options.program ?? entryPoint();
  const child = spawn(
    process.execPath,
    [...program, '--data', options.dataDir, '--listen', `127.0.0.1:${options.port}`, '--console-listen', '127.0.0.1:0', '--log-level', 'info', ...image, ...flags],
    // Its own (empty) cache unless told: without --image it would serve the image last built here.
    { env: childEnvironment({ LIFEBOAT_CACHE: join(options.dataDir, 'cache'), ...options.env }), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitFor(`the control plane on ${url}`, async () => {
      if (child.exitCode !== null) throw new Error(`it exited with ${child.exitCode}: ${output}`);
      return (await fetch(`${url}/healthz`).catch(() => undefined))?.ok;
    }, options.readyTimeoutMs);
  } catch (error) {
    // The caller never gets a handle to stop it: leave no control plane running.
    child.kill('SIGKILL');
    await exited;
    throw new Error(`${(error as Error).message}; its output:\n${output.slice(-4000)}`);
  }
  return {
    url,
    child,
    adminToken: () => readFileSync(join(options.dataDir, 'admin.token'), 'utf8').trim(),
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Calls the user API with a token; resolves to status and JSON body. */
export async function api(url: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}
