/**
 * `lifeboat serve`, `lifeboat lab ...` and `lifeboat image ...` run the entry point of the deployable
 * that does the work, as a child process with the terminal (stdio inherited): the CLI imports none of
 * them. Ctrl-C and SIGTERM reach the child, and the CLI exits with the child's code.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, exitCodes } from './errors.js';

/** A deployable the CLI dispatches to: its package and the name of its entry point (package.json `bin`). */
export interface EntryPoint {
  readonly packageName: string;
  readonly bin: string;
}

/** The commands that are another deployable's command line. */
export const entryPoints = {
  serve: { packageName: '@lifeboat/control-plane', bin: 'lifeboat-control-plane' },
  lab: { packageName: '@lifeboat/lab', bin: 'lifeboat-lab' },
  image: { packageName: '@lifeboat/image', bin: 'lifeboat-image' },
} as const satisfies Record<string, EntryPoint>;

/** A command dispatched to another deployable. */
export type EntryPointCommand = keyof typeof entryPoints;

/** Whether a command is dispatched to another deployable. */
export function isEntryPointCommand(command: string | undefined): command is EntryPointCommand {
  return command !== undefined && Object.hasOwn(entryPoints, command);
}

/** How to run an entry point: its file, and the Node.js options its package asks for. */
export interface EntryPointProgram {
  readonly file: string;
  /**
   * Node.js options from the package's manifest (`"lifeboat": { "nodeOptions": [...] }`): V8 settings
   * that cannot change once the process runs (the control plane's smaller young generation).
   */
  readonly nodeOptions: readonly string[];
}

/**
 * The program of an entry point: from the installed package (its package.json's `bin`, as npm links it),
 * else the program of that name on PATH (a deployable installed on its own).
 */
export function entryPointProgram(entry: EntryPoint, env: NodeJS.ProcessEnv = process.env): EntryPointProgram | undefined {
  try {
    const manifestFile = fileURLToPath(import.meta.resolve(`${entry.packageName}/package.json`));
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { bin?: Record<string, string>; lifeboat?: { nodeOptions?: unknown } };
    const relative = manifest.bin?.[entry.bin];
    const options = manifest.lifeboat?.nodeOptions;
    const nodeOptions = Array.isArray(options) ? options.filter((o): o is string => typeof o === 'string' && o.startsWith('--')) : [];
    if (relative !== undefined) return { file: join(dirname(manifestFile), relative), nodeOptions };
  } catch {
    // not installed beside the CLI: look on PATH
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, entry.bin))) return { file: join(dir, entry.bin), nodeOptions: [] };
  }
  return undefined;
}

const forwarded = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const signalNumbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** Runs `command`'s entry point with `argv`; resolves with its exit code (128 + N when signal N ended it). */
export async function runEntryPoint(command: EntryPointCommand, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const entry = entryPoints[command];
  const program = entryPointProgram(entry, env);
  if (program === undefined) {
    throw new CliError('NOT_INSTALLED', `lifeboat ${command} is not available: ${entry.packageName} (its ${entry.bin} entry point) is not installed`, exitCodes.usage);
  }
  const { file, nodeOptions } = program;
  const child = spawn(process.execPath, [...nodeOptions, file, ...argv], { stdio: 'inherit', env });
  // From a terminal, the child gets Ctrl-C itself (same process group) and its entry point takes the
  // forwarded copy as the same request; sent to the CLI alone, the forwarded copy is the only one.
  const relays = forwarded.map((signal) => {
    const relay = () => {
      child.kill(signal);
    };
    process.on(signal, relay);
    return () => process.off(signal, relay);
  });
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once('error', (error) => reject(new CliError('NOT_INSTALLED', `cannot run ${file}: ${error.message}`, exitCodes.usage)));
      child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? (signalNumbers[signal] ?? 0) : 0)));
    });
  } finally {
    for (const remove of relays) remove();
  }
}
