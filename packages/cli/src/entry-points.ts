/**
 * `lifeboat serve`, `lifeboat lab ...` and `lifeboat image ...` run the entry point of the deployable
 * that does the work, as a child process with the terminal (stdio inherited): the CLI imports none of
 * them. Ctrl-C and SIGTERM reach the child, and the CLI exits with the child's code.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, exitCodes } from './errors.js';

/** A deployable the CLI dispatches to, by the name of its entry point (its package.json `bin`). */
export interface EntryPoint {
  readonly bin: string;
}

/** The commands that are another deployable's command line. */
export const entryPoints = {
  serve: { bin: 'lifeboat-control-plane' },
  lab: { bin: 'lifeboat-lab' },
  image: { bin: 'lifeboat-image' },
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

/** Where to look: `node_modules/.bin` of the CLI's folder and of each folder above it (as npm links bins), then PATH. */
export interface EntryPointSearch {
  /** The folder the search of `node_modules/.bin` starts from (default: the CLI's own). */
  readonly from?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** The `node_modules/.bin` folders from `dir` up to the root, nearest first. */
function binFolders(dir: string): string[] {
  const folders: string[] = [];
  for (let current = dir; ; current = dirname(current)) {
    folders.push(join(current, 'node_modules', '.bin'));
    if (dirname(current) === current) return folders;
  }
}

/**
 * The Node.js options of the package that holds `file`: the nearest package.json above it, when its
 * `bin` names this very file (a program on PATH that belongs to no package gets none).
 */
function nodeOptionsOf(file: string, bin: string): readonly string[] {
  for (let dir = dirname(file); dirname(dir) !== dir; dir = dirname(dir)) {
    const manifestFile = join(dir, 'package.json');
    if (!existsSync(manifestFile)) continue;
    try {
      const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { bin?: Record<string, string> | string; lifeboat?: { nodeOptions?: unknown } };
      const declared = typeof manifest.bin === 'object' ? manifest.bin[bin] : undefined;
      if (declared === undefined || realpathSync(join(dir, declared)) !== file) return [];
      const options = manifest.lifeboat?.nodeOptions;
      return Array.isArray(options) ? options.filter((o): o is string => typeof o === 'string' && o.startsWith('--')) : [];
    } catch {
      return [];
    }
  }
  return [];
}

/**
 * The program of an entry point, found by its bin name without naming its package: the link npm makes
 * in `node_modules/.bin` (of the workspace, or of the project the CLI is installed in), else the
 * program of that name on PATH (a deployable installed on its own); resolved to its real file, whose
 * package's manifest gives its Node.js options.
 */
export function entryPointProgram(entry: EntryPoint, search: EntryPointSearch = {}): EntryPointProgram | undefined {
  const from = search.from ?? dirname(fileURLToPath(import.meta.url));
  const path = (search.env ?? process.env).PATH ?? '';
  const candidates = [...binFolders(from), ...path.split(delimiter).filter((dir) => dir !== '')].map((dir) => join(dir, entry.bin));
  for (const candidate of candidates) {
    if (!existsSync(candidate)) continue;
    const file = realpathSync(candidate);
    return { file, nodeOptions: nodeOptionsOf(file, entry.bin) };
  }
  return undefined;
}

const forwarded = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const signalNumbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** Runs `command`'s entry point with `argv`; resolves with its exit code (128 + N when signal N ended it). */
export async function runEntryPoint(command: EntryPointCommand, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const entry = entryPoints[command];
  const program = entryPointProgram(entry, { env });
  if (program === undefined) {
    throw new CliError('NOT_INSTALLED', `lifeboat ${command} is not available: its entry point ${entry.bin} is not installed (neither in node_modules/.bin nor on PATH)`, exitCodes.usage);
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
