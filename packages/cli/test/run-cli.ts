/** Runs the `lifeboat` command as a script does: its own process, its exit code, its output. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LifeboatClient } from '@lifeboat/core';
import { freePort, startControlPlaneProcess, startTestBmc, type ControlPlaneProcess, type TestBmc } from '@lifeboat/test-support';

/** The `lifeboat` program (packages/cli/bin/lifeboat.mjs). */
export const lifeboatBin = fileURLToPath(new URL('../bin/lifeboat.mjs', import.meta.url));

/** What one run of `lifeboat` gave. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as JSON, when it is JSON (`--json`). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly json: any;
}

/** A `lifeboat` process still running: what it printed so far, and its end. */
export interface CliProcess {
  /** stderr printed so far (a `--wait` command's progress lines). */
  stderr(): string;
  readonly result: Promise<CliRun>;
}

/** Starts `lifeboat ARGS` with `env`; a run that does not end within `timeoutMs` is killed. */
export function startLifeboat(args: readonly string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 120_000): CliProcess {
  const child = spawn(process.execPath, [lifeboatBin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
  const result = new Promise<CliRun>((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code: code ?? 1, stdout, stderr, json });
    });
  });
  return { stderr: () => stderr, result };
}

/** Runs `lifeboat ARGS` with `env`; a run that does not end within `timeoutMs` is killed. */
export function runLifeboat(args: readonly string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 120_000): Promise<CliRun> {
  return startLifeboat(args, env, timeoutMs).result;
}

/**
 * A control plane process with tenant `acme`, its server `web-1` (`mac`) behind a Redfish BMC whose
 * machine only records what it is asked (the test plays the agent), and a customer's environment for
 * `lifeboat`. `stop()` stops the control plane and the BMC.
 */
export async function startCustomerPlane(dir: string, mac: string): Promise<{ plane: ControlPlaneProcess; bmc: TestBmc; env: NodeJS.ProcessEnv; customer: LifeboatClient; stop(): Promise<void> }> {
  const plane = await startControlPlaneProcess({ dataDir: join(dir, 'data'), port: await freePort() });
  const bmc = await startTestBmc({ controlPlaneUrl: plane.url, mac });
  const admin = new LifeboatClient({ url: plane.url, token: plane.adminToken() });
  await admin.addTenant({ name: 'acme' });
  const { token } = await admin.createToken({ tenant: 'acme', role: 'customer' });
  await admin.addServer({ name: 'web-1', tenant: 'acme', macs: [mac], bmc: bmc.record });
  const env = { ...process.env, LIFEBOAT_URL: plane.url, LIFEBOAT_TOKEN: token, LIFEBOAT_DATA: join(dir, 'nowhere') };
  const stop = async (): Promise<void> => {
    await plane.stop('SIGTERM');
    await bmc.close();
  };
  return { plane, bmc, env, customer: new LifeboatClient({ url: plane.url, token }), stop };
}
