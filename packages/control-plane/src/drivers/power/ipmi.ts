/**
 * The `ipmi` power driver: IPMI 2.0 over LAN (RMCP+) through `ipmitool -I lanplus`, like Ironic's
 * ipmitool driver. The password reaches ipmitool through its environment (`-E` reads `IPMI_PASSWORD`),
 * never through argv, where every user of the machine could read it in /proc.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { LifeboatError } from '@lifeboat/core';
import type { BmcEndpoint, BootDevice, PowerAction, PowerCapability, PowerDriver, PowerState } from './power-driver.js';
import { parseBmcUrl } from './bmc-url.js';

/** How long one ipmitool run may take before the BMC counts as unreachable. */
export interface IpmiTimeouts {
  /** Seconds ipmitool waits for one answer (`-N`). Default 2. */
  readonly answerSeconds?: number;
  /** Retries of an unanswered request (`-R`). Default 3. */
  readonly retries?: number;
  /** Hard limit for the whole ipmitool run, in milliseconds. Default 30 000. */
  readonly commandMs?: number;
}

/** Options of the `ipmi` driver. */
export interface IpmiOptions extends IpmiTimeouts {
  /** The ipmitool binary. Default `ipmitool` from PATH. */
  readonly ipmitool?: string;
  /**
   * RMCP+ cipher suite (`-C`) for BMCs whose URL does not say (`ipmi://HOST:PORT?cipher=17`). Default 3
   * (HMAC-SHA1, AES-CBC-128), which most IPMI 2.0 BMCs offer; newer firmware often wants 17 (SHA-256).
   */
  readonly cipherSuite?: number;
}

/** ipmitool's `chassis power status` answer (`Chassis Power is on`) → Lifeboat's power state. */
const powerStates: Readonly<Record<string, PowerState>> = {
  on: 'on',
  off: 'off',
};

/** Lifeboat's power action → ipmitool's `chassis power` argument. */
const powerCommands: Readonly<Record<PowerAction, string>> = {
  on: 'on',
  off: 'off',
  soft: 'soft',
  cycle: 'cycle',
  reset: 'reset',
};

/** Lifeboat's boot device → ipmitool's `chassis bootdev` argument. */
const bootDevices: Readonly<Record<BootDevice, string>> = {
  network: 'pxe',
  disk: 'disk',
};

/**
 * ipmitool's diagnostics (with `-v`, on stderr) → error codes; the first pattern that matches wins.
 * ipmitool prints the same "Unable to establish IPMI v2 / RMCP+ session" for a wrong password and a
 * dead BMC: only the line before it tells them apart.
 */
const failures: ReadonlyArray<readonly [RegExp, 'BMC_AUTH_FAILED' | 'BMC_UNREACHABLE' | 'BMC_UNSUPPORTED', string]> = [
  [/invalid (?:authentication|integrity|confidentiality) algorithm|no matching cipher suite|unsupported cipher suite/i, 'BMC_UNSUPPORTED', 'the BMC does not offer this RMCP+ cipher suite (choose another with ?cipher=N in the BMC URL)'],
  [/RAKP \d HMAC is invalid|unauthorized name|invalid (?:role|name length)|insufficient resources for session|unauthorized role/i, 'BMC_AUTH_FAILED', 'the BMC refused the user name or password'],
  [/Get Auth Capabilities error|Get Channel Authentication Capabilities|No response from remote controller|Address lookup for .* failed|Could not open socket|Unable to establish IPMI v2/i, 'BMC_UNREACHABLE', 'the BMC did not answer'],
];

/**
 * ipmitool must not outlive the control plane: after a `kill -9` an orphaned ipmitool would go on
 * retrying a power action for up to half a minute while the restarted control plane resumes the same
 * step. Node cannot set PR_SET_PDEATHSIG on a child, so ipmitool runs under util-linux's `setpriv
 * --pdeathsig KILL`, which sets it and then execs ipmitool (same pid, so our own SIGKILL on a timeout
 * or abort still reaches ipmitool). The kernel then kills ipmitool the moment the thread that spawned
 * it dies, whatever killed it. Rejected: a process group killed at exit (no exit handler runs on
 * SIGKILL), recording pids to kill at the next start (the BMC action would go on until then, and a pid
 * may be reused), a wrapper polling its parent (a second process per call, and a polling delay). The
 * one gap: a parent killed between fork and setpriv's prctl (microseconds) leaves ipmitool to finish on
 * its own, bounded by its `-N`/`-R` retries. Without setpriv (not Linux), ipmitool runs directly.
 */
const deathSignalWrapper = findProgram('setpriv');

/**
 * The program and argv that run `program args` so that it dies with the control plane (see above):
 * every ipmitool the control plane starts (power and boot device here, Serial-over-LAN in `console/`).
 */
export function dyingWithControlPlane(program: string, args: readonly string[]): [string, string[]] {
  return deathSignalWrapper === undefined ? [program, [...args]] : [deathSignalWrapper, ['--pdeathsig', 'KILL', '--', program, ...args]];
}

/** The absolute path of a program on PATH, or undefined. */
function findProgram(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The `ipmi` driver bound to one BMC (`ipmi://HOST[:PORT]`, port 623 by default). */
export class IpmiPowerDriver implements PowerDriver {
  readonly name = 'ipmi' as const;
  readonly capabilities: ReadonlySet<PowerCapability> = new Set<PowerCapability>(['power', 'soft-power', 'boot-device', 'persistent-boot-device']);
  readonly #bmc: BmcEndpoint;
  readonly #options: IpmiOptions;

  constructor(bmc: BmcEndpoint, options: IpmiOptions = {}) {
    this.#bmc = bmc;
    this.#options = options;
  }

  validate(): void {
    const target = parseBmcUrl(this.#bmc, 'ipmi');
    if (target.path !== '' && target.path !== '/') {
      throw new LifeboatError('BMC_INVALID', `bmc.url: an IPMI BMC URL has no path: ipmi://${target.host}:${target.port}`);
    }
    this.#cipherSuite();
    // IPMI 2.0 fields are bytes: a user name of 16, a password of 20 (RAKP).
    if (Buffer.byteLength(this.#bmc.user) > 16) throw new LifeboatError('BMC_INVALID', 'bmc.user: IPMI user names are at most 16 bytes');
    if (Buffer.byteLength(this.#bmc.password) > 20) throw new LifeboatError('BMC_INVALID', 'bmc.password: IPMI 2.0 passwords are at most 20 bytes');
  }

  async powerState(signal?: AbortSignal): Promise<PowerState> {
    const out = await this.#ipmitool(['chassis', 'power', 'status'], signal);
    const word = /Chassis Power is (\w+)/i.exec(out)?.[1]?.toLowerCase();
    const state = word === undefined ? undefined : powerStates[word];
    if (state === undefined) throw new LifeboatError('BMC_ERROR', `unexpected answer from the IPMI BMC to power status: ${out.trim().slice(0, 200)}`);
    return state;
  }

  async setPower(action: PowerAction, signal?: AbortSignal): Promise<void> {
    // BMCs refuse a power cycle of a server that is off (completion code 0xD5); off then on is what
    // the caller asked for, and the server is already off.
    if (action === 'cycle' && (await this.powerState(signal)) === 'off') action = 'on';
    await this.#ipmitool(['chassis', 'power', powerCommands[action]], signal);
  }

  async setBootDevice(device: BootDevice, options: { persistent?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    const args = ['chassis', 'bootdev', bootDevices[device]];
    if (options.persistent) args.push('options=persistent');
    await this.#ipmitool(args, options.signal);
  }

  async bootDevice(signal?: AbortSignal): Promise<BootDevice | 'none'> {
    // Boot parameter 5 (boot flags). Without its valid bit the BMC ignores the selector at the next boot
    // (BMCs clear the bit after a boot, or 60 s after it was set without one), so it counts as none.
    return bootDeviceOfBootFlags(await this.#ipmitool(['chassis', 'bootparam', 'get', '5'], signal));
  }

  /** The cipher suite: `?cipher=N` in the URL, else the operator's default, else 3. */
  #cipherSuite(): number {
    const query = new URL(this.#bmc.url).searchParams;
    const unknown = [...query.keys()].filter((key) => key !== 'cipher');
    if (unknown.length > 0) throw new LifeboatError('BMC_INVALID', `bmc.url: unknown IPMI URL parameter ${unknown[0]} (only ?cipher=N)`);
    const text = query.get('cipher');
    const suite = text === null ? (this.#options.cipherSuite ?? 3) : Number(text);
    if (!Number.isInteger(suite) || suite < 0 || suite > 17 || (text !== null && !/^\d{1,2}$/.test(text))) {
      throw new LifeboatError('BMC_INVALID', `bmc.url: not an RMCP+ cipher suite: ${text ?? suite} (0-17)`);
    }
    return suite;
  }

  /** Runs ipmitool against this BMC; resolves with its stdout, or throws a `BMC_*` error. */
  async #ipmitool(command: readonly string[], signal?: AbortSignal): Promise<string> {
    this.validate();
    signal?.throwIfAborted();
    const target = parseBmcUrl(this.#bmc, 'ipmi');
    const options = this.#options;
    const args = [
      '-v',
      '-I', 'lanplus',
      '-C', String(this.#cipherSuite()),
      '-N', String(options.answerSeconds ?? 2),
      '-R', String(options.retries ?? 3),
      '-H', target.host,
      '-p', String(target.port),
      '-U', this.#bmc.user,
      '-E',
      ...command,
    ];
    const commandMs = options.commandMs ?? 30_000;
    const what = `ipmitool ${command.join(' ')} on ${target.host}:${target.port}`;
    return new Promise<string>((resolve, reject) => {
      const ipmitool = options.ipmitool ?? 'ipmitool';
      const [program, programArgs] = dyingWithControlPlane(ipmitool, args);
      const child = spawn(program, programArgs, {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', IPMI_PASSWORD: this.#bmc.password },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      let settled = false;
      const finish = (error: Error | undefined, value = ''): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve(value);
      };
      const onAbort = (): void => {
        child.kill('SIGKILL');
        finish(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        finish(new LifeboatError('BMC_UNREACHABLE', `${what}: no answer within ${Math.round(commandMs / 1000)} s`));
      }, commandMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.on('error', (error: NodeJS.ErrnoException) => {
        const message = error.code === 'ENOENT' ? 'ipmitool is not installed (Debian package ipmitool)' : `cannot run ipmitool: ${error.message}`;
        finish(new LifeboatError('BMC_ERROR', message));
      });
      child.on('close', (code) => {
        if (code === 0) return finish(undefined, stdout);
        // setpriv's own "failed to execute ipmitool: No such file or directory" (exit 127).
        if (code === 127 && /failed to execute/.test(stderr)) return finish(new LifeboatError('BMC_ERROR', 'ipmitool is not installed (Debian package ipmitool)'));
        finish(classify(what, `${stderr}\n${stdout}`));
      });
    });
  }
}

/** ipmitool's `chassis bootparam get 5` answer → the next boot device (`none` without the valid bit). */
export function bootDeviceOfBootFlags(out: string): BootDevice | 'none' {
  if (!/Boot Flag Valid/i.test(out)) return 'none';
  const selector = /Boot Device Selector\s*:\s*(.+)/i.exec(out)?.[1]?.trim() ?? '';
  if (/^Force PXE/i.test(selector)) return 'network';
  if (/^Force Boot from default Hard-Drive/i.test(selector)) return 'disk';
  return 'none';
}

/** Turns a failed ipmitool run's output into a `BMC_*` error with ipmitool's own last word. */
function classify(what: string, output: string): LifeboatError {
  for (const [pattern, code, meaning] of failures) {
    if (pattern.test(output)) return new LifeboatError(code, `${what}: ${meaning}`);
  }
  const lines = output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^(Loading IANA|Running Get VSO|Invalid completion code received: Invalid command|Discovered IPMB)/.test(line));
  return new LifeboatError('BMC_ERROR', `${what} failed: ${lines.at(-1)?.slice(0, 200) ?? 'no message'}`);
}
