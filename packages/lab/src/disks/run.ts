import { spawn } from 'node:child_process';
import { DiskError } from './errors.js';

/** How to run one command of a disk build. */
export interface RunOptions {
  /** Written to the command's stdin (the only way secrets reach a command). */
  input?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Exit codes that count as success (default `[0]`). */
  okCodes?: number[];
}

/** What a finished command printed. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command without a shell and collects its output; fails with `LAB_DISK_COMMAND_FAILED`
 * (naming the command and the end of its stderr) on an exit code outside `okCodes`.
 */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      signal: options.signal,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) =>
      reject(new DiskError('LAB_DISK_COMMAND_FAILED', `${command} could not run: ${error.message}`, { cause: error })),
    );
    child.on('close', (code) => {
      const exit = code ?? 1;
      if ((options.okCodes ?? [0]).includes(exit)) resolve({ code: exit, stdout, stderr });
      else
        reject(
          new DiskError(
            'LAB_DISK_COMMAND_FAILED',
            `${command} ${args.slice(0, 3).join(' ')} exited with ${exit}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`,
          ),
        );
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}
