/** Runs the `lifeboat` command as a script does: its own process, its exit code, its output. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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

/** Runs `lifeboat ARGS` with `env`; a run that does not end within `timeoutMs` is killed. */
export function runLifeboat(args: readonly string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 120_000): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [lifeboatBin, ...args], { env, timeout: timeoutMs }, (error, stdout, stderr) => {
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr, json });
    });
  });
}
