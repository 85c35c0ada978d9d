/** Runs build tools as child processes, with their output kept for error messages. */
import { spawn } from 'node:child_process';
import { ImageError } from '../errors.js';

/** Options of one command. */
export interface RunOptions {
  /** Called with each line the command prints (progress). */
  readonly onLine?: (line: string) => void;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** Runs `command` and resolves with its stdout; rejects with IMAGE_BUILD_FAILED and the output's tail. */
export function runTool(command: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let tail = '';
    let partial = '';
    const onData = (chunk: Buffer, keep: boolean): void => {
      const text = chunk.toString();
      if (keep) stdout += text;
      tail = (tail + text).slice(-4000);
      if (options.onLine) {
        const lines = (partial + text).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) options.onLine(line);
      }
    };
    child.stdout.on('data', (c: Buffer) => onData(c, true));
    child.stderr.on('data', (c: Buffer) => onData(c, false));
    child.on('error', (error: NodeJS.ErrnoException) => {
      const code = error.code === 'ENOENT' ? 'IMAGE_TOOL_MISSING' : 'IMAGE_BUILD_FAILED';
      reject(new ImageError(code, `${command}: ${error.message}`, { cause: error }));
    });
    child.on('close', (code, signal) => {
      if (code === 0) resolve(stdout);
      else reject(new ImageError('IMAGE_BUILD_FAILED', `${command} ${args[0] ?? ''} failed (${signal ?? `exit ${code}`}):\n${tail}`));
    });
  });
}
