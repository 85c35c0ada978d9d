/**
 * Test support: a control plane in a child process (the real `main`, BMC double at the driver
 * boundary), on a free port with its own data directory, and small helpers to wait for real signals.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('./serve-with-recording-bmc.ts', import.meta.url));
const controlPlaneManifest = createRequire(import.meta.url).resolve('@lifeboat/control-plane/package.json');
/** The control plane's own entry point (what `lifeboat serve` runs), with the real BMC drivers. */
export const controlPlaneBin = join(dirname(controlPlaneManifest), 'bin', 'lifeboat-control-plane.mjs');
/** The Node.js options `lifeboat serve` runs {@link controlPlaneBin} with (its manifest's `lifeboat.nodeOptions`). */
export const controlPlaneNodeOptions: readonly string[] =
  (JSON.parse(readFileSync(controlPlaneManifest, 'utf8')) as { lifeboat?: { nodeOptions?: string[] } }).lifeboat?.nodeOptions ?? [];

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

/** Writes the three files of a rescue image (small, not bootable) into `dir`; returns `dir`. */
function standInImage(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const file of ['vmlinuz', 'initrd', 'rootfs.squashfs']) writeFileSync(join(dir, file), `stand-in ${file}\n`);
  return dir;
}

/**
 * Starts `serve-with-recording-bmc.ts` with `flags` (or, with `realBmc`, the control plane's own bin
 * and its real IPMI and Redfish drivers); resolves once `/healthz` answers (within `readyTimeoutMs`,
 * default 30 s).
 * `standInImage: false` starts it with no image at all (as `lifeboat serve` without `--image` on a
 * machine: it then looks for the last image built); by default, unless `flags` name one, a stand-in.
 */
export async function startControlPlaneProcess(options: { dataDir: string; port: number; flags?: string[]; env?: Record<string, string>; standInImage?: boolean; realBmc?: boolean; readyTimeoutMs?: number }): Promise<ControlPlaneProcess> {
  const url = `http://127.0.0.1:${options.port}`;
  // A rescue is refused without a complete image: unless the test names one, a stand-in (never booted).
  const image = options.standInImage === false || (options.flags ?? []).includes('--image') ? [] : ['--image', standInImage(`${options.dataDir}-image`)];
  const child = spawn(
    process.execPath,
    [...(options.realBmc ? [...controlPlaneNodeOptions, controlPlaneBin] : ['--import', 'tsx', fixture]), '--data', options.dataDir, '--listen', `127.0.0.1:${options.port}`, '--console-listen', '127.0.0.1:0', '--log-level', 'info', ...image, ...(options.flags ?? [])],
    // Its own (empty) cache unless told: without --image it would serve the image last built here.
    { env: { ...process.env, LIFEBOAT_CACHE: join(options.dataDir, 'cache'), ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
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
