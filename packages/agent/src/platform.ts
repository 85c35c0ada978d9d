/**
 * What the agent needs of the machine it runs on, in one small interface. The rescue image runs the
 * agent on QuickJS (platform-quickjs.ts: a 1 MB runtime instead of Node's 90 MB); tests of the
 * portable parts run them on Node (platform-node.ts). Everything above this file is the same code on
 * both: no `node:` import, no Buffer, no AbortController, no fetch.
 */
import { LifeboatError } from '@lifeboat/core/errors';

/** What a finished program left. */
export interface RunResult {
  /** Exit status, or 128 + the signal number when a signal ended it. */
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** How a program runs. */
export interface RunOptions {
  /** Written to its standard input, which is then closed (default: nothing, closed at once). */
  readonly stdin?: string;
  /** Kills it (SIGTERM) when stopped. */
  readonly stop?: Stop;
  /**
   * Runs it in a process group of its own (through `setsid`): a stop then kills the whole group
   * (SIGTERM, SIGKILL 3 s later), children included — a hardware test's stress workers, say. Like
   * every program the agent runs, it dies with the agent (see {@link dyingWithAgent}).
   */
  readonly processGroup?: boolean;
  /** Told about output as it arrives (the whole output is still in the result). */
  readonly onOutput?: (text: string, stream: 'stdout' | 'stderr') => void;
}

/** A block device held open with `O_EXCL` (the kernel refuses to mount it while held). */
export interface DeviceHold {
  /** Closes the device; the hold is gone. */
  release(): void;
}

/** An HTTP request (the agent API: small JSON bodies). */
export interface HttpRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Longest time the whole exchange may take. */
  readonly timeoutSeconds: number;
  readonly stop?: Stop;
}

/** An HTTP answer, whatever its status. */
export interface HttpResponse {
  readonly status: number;
  readonly body: string;
}

/** The machine, as the agent uses it. Paths are absolute. */
export interface Platform {
  /** `quickjs 2025-04-26`, `node v20.1.0`: for the log. */
  readonly runtime: string;
  /**
   * util-linux's `setpriv` on PATH, or null: {@link run} puts every program under it
   * ({@link dyingWithAgent}); a shell script the agent runs gives it to the members of a pipeline,
   * which are the shell's children, not the agent's.
   */
  readonly setpriv: string | null;
  env(name: string): string | undefined;
  pid(): number;
  /** A file's text; rejects when it cannot be read. Works for /proc and /sys files. */
  readText(path: string): Promise<string>;
  /** Creates or truncates a file with exactly these permission bits. */
  writeText(path: string, text: string, mode: number): Promise<void>;
  /** Appends to a file at once (log lines); throws when it cannot. */
  appendTextSync(path: string, text: string): void;
  exists(path: string): boolean;
  /** Creates a directory and its parents; an existing one is left as it is. */
  mkdir(path: string, mode: number): Promise<void>;
  /** A directory's entries, without `.` and `..`. */
  readdir(path: string): Promise<string[]>;
  /** Owner and group of a file, or null when it does not exist. */
  owner(path: string): Promise<{ uid: number; gid: number } | null>;
  chown(path: string, uid: number, gid: number): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /**
   * Runs a program (found on PATH) to its end; a non-zero status does not reject. The program dies
   * with the agent ({@link dyingWithAgent}); a daemon it forks into the background (sshd) lives on.
   */
  run(program: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
  /**
   * Opens a block device read-only with `O_EXCL` and keeps it open: fails with `DEVICE_BUSY` when it
   * is mounted, used as swap, held by an md array or device-mapper, or held by another exclusive open.
   */
  holdDevice(path: string): Promise<DeviceHold>;
  /** One HTTP exchange; rejects on a transport failure (refused, timed out, stopped), never on a status. */
  http(request: HttpRequest): Promise<HttpResponse>;
  /** Resolves after `ms`, or at once when `stop` is stopped. */
  sleep(ms: number, stop?: Stop): Promise<void>;
  /** Sends a signal (0: only checks that the process exists); false when it failed. */
  kill(pid: number, signal: number): boolean;
  /** Calls `handler` when the process receives SIGTERM or SIGINT. */
  onSignal(name: 'SIGTERM' | 'SIGINT', handler: () => void): void;
  writeStdout(text: string): void;
  /** Ends the process now with this status (QuickJS would otherwise wait on its signal handlers). */
  exit(code: number): never;
}

/** A program that exited non-zero, or was killed. */
export class ProgramError extends LifeboatError {
  /** The program's exit status. */
  readonly exitStatus: number;
  constructor(program: string, result: RunResult) {
    const detail = result.stderr.trim().split('\n').slice(-3).join(' / ');
    super('PROGRAM_FAILED', `${program} exited with status ${result.status}${detail ? `: ${detail}` : ''}`);
    this.name = 'ProgramError';
    this.exitStatus = result.status;
  }
}

/**
 * The argv that makes `argv` die with the agent: no program the agent started may outlive an agent
 * that crashed or was killed. A curl of the dead agent's work long poll would take the next work the
 * control plane queues and hand it to no one (the item lost, its user waiting until a timeout); a
 * hardware test's stress-ng or memtester left running would hold the CPUs or the memory (the
 * restarted agent marks its tests `error`, and a new test of the same kind would run beside them).
 * util-linux's `setpriv --pdeathsig KILL` sets PR_SET_PDEATHSIG and execs the program (same pid: the
 * group's id and our own signals are unchanged); the kernel kills it the moment the agent dies, however
 * it died. The setting survives exec but not fork: a daemon the program forks (sshd) lives on, and
 * the members of a shell's pipeline need it themselves (the explorer's `tar | curl`). stress-ng's
 * workers watch their parent; memtester, badblocks and the checkers are one process. One gap: an agent
 * killed between fork and setpriv's prctl (microseconds) leaves that one program to end by itself. The
 * control plane does the same for ipmitool (drivers/power/ipmi.ts), where the approaches rejected are
 * written down. Without setpriv (`setpriv` null), as is.
 */
export function dyingWithAgent(argv: readonly string[], setpriv: string | null): string[] {
  return setpriv === null ? [...argv] : [setpriv, '--pdeathsig', 'KILL', '--', ...argv];
}

/** Milliseconds between the SIGTERM and the SIGKILL of a stopped process group. */
export const killGraceMs = 3000;

/** Runs a program and rejects with a {@link ProgramError} when it does not exit 0. */
export async function runChecked(platform: Platform, program: string, args: readonly string[], options?: RunOptions): Promise<RunResult> {
  const result = await platform.run(program, args, options);
  if (result.status !== 0) throw new ProgramError(program, result);
  return result;
}

/**
 * A one-way "stop now" shared by the parts of the agent (AbortController's role, which QuickJS
 * lacks). Listeners run once, when stopped.
 */
export class Stop {
  #reason: Error | undefined;
  readonly #listeners = new Set<() => void>();

  get stopped(): boolean {
    return this.#reason !== undefined;
  }

  /** Why it stopped; undefined while running. */
  get reason(): Error | undefined {
    return this.#reason;
  }

  stop(reason: Error = new Error('stopped')): void {
    if (this.#reason) return;
    this.#reason = reason;
    for (const listener of [...this.#listeners]) listener();
    this.#listeners.clear();
  }

  /** Calls `listener` when stopped (at once if already); returns a function that removes it. */
  onStop(listener: () => void): () => void {
    if (this.#reason) {
      listener();
      return () => undefined;
    }
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  throwIfStopped(): void {
    if (this.#reason) throw this.#reason;
  }

  /** A Stop that stops with this one, and can also be stopped on its own. */
  child(): Stop {
    const child = new Stop();
    const remove = this.onStop(() => child.stop(this.#reason));
    child.onStop(remove);
    return child;
  }
}

/** Joins path parts with `/`, collapsing repeated slashes (no `..` handling: callers pass plain names). */
export function joinPath(...parts: string[]): string {
  const joined = parts.filter((p) => p.length > 0).join('/');
  return joined.replace(/\/{2,}/g, '/').replace(/(.)\/$/, '$1');
}

/** The directory part of a path. */
export function dirnameOf(path: string): string {
  const i = path.replace(/\/+$/, '').lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}
