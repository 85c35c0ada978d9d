/**
 * The `ipmi-sol` console driver: IPMI 2.0 Serial-over-LAN through `ipmitool -I lanplus … sol activate`,
 * as Ironic's ipmitool console does. The BMC password reaches ipmitool through its environment (`-E`
 * reads `IPMI_PASSWORD`), never argv. A BMC allows one SOL session: when a stale one (a crashed
 * control plane's) holds it, the driver deactivates it and tries once more.
 *
 * ipmitool reads its escape character (`~`) only right after a carriage return or newline, and sends
 * a doubled one as one: the writer side doubles such an escape character, so every byte a customer
 * types reaches the serial port as typed (`~.` typed by a customer never ends the session).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { dyingWithControlPlane } from '../drivers/power/ipmi.js';
import { Duplex } from 'node:stream';
import { LifeboatError, type Server } from '@lifeboat/core';
import { parseBmcUrl } from '../drivers/power/bmc-url.js';
import type { ConsoleDriver } from './console-driver.js';

/** Options of the SOL driver. */
export interface IpmiSolOptions {
  /** The ipmitool binary. Default `ipmitool` from PATH. */
  readonly ipmitool?: string;
  /** RMCP+ cipher suite when the BMC URL has no `?cipher=N`. Default 3. */
  readonly cipherSuite?: number;
  /** Milliseconds `sol activate` may take to report the session operational. Default 20 000. */
  readonly activateTimeoutMs?: number;
}

/** ipmitool's escape character (its default; set explicitly so a changed default cannot surprise us). */
export const SOL_ESCAPE = 0x7e; // '~'

/** The line ipmitool prints on stdout once the SOL session is up; it is not console output. */
const OPERATIONAL = /\[SOL Session operational\.[^\]\n]*\]\r?\n/;

/** What ipmitool says when the BMC has no SOL payload, or has it disabled. */
const NO_SOL = /Error activating SOL payload: Invalid command|SOL payload disabled|payload is disabled/i;

/** What ipmitool says when another session holds the SOL payload. */
const ALREADY_ACTIVE = /already active on another session|payload already active/i;

/** Where a SOL session goes: the BMC and who logs in (no password: it travels in the environment). */
export interface SolTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly cipherSuite: number;
}

/** The argv of an ipmitool SOL command (`activate` or `deactivate`); it never holds the password. */
export function solArgs(target: SolTarget, command: 'activate' | 'deactivate'): string[] {
  return [
    '-I', 'lanplus',
    '-C', String(target.cipherSuite),
    '-H', target.host,
    '-p', String(target.port),
    '-U', target.user,
    '-E',
    '-e', String.fromCharCode(SOL_ESCAPE),
    'sol', command,
  ];
}

/**
 * Makes customer bytes pass ipmitool's escape handling untouched: an escape character right after CR
 * or LF (or at the very start, where ipmitool also counts as after a newline) is doubled. Keeps its
 * state across chunks: one instance per session.
 */
export class SolEscaper {
  #afterNewline = true;

  /** The bytes to hand to ipmitool for `data`. */
  escape(data: Buffer): Buffer {
    let extra = 0;
    let after = this.#afterNewline;
    for (const byte of data) {
      if (after && byte === SOL_ESCAPE) extra++;
      after = byte === 0x0d || byte === 0x0a;
    }
    if (extra === 0) {
      this.#afterNewline = after;
      return data;
    }
    const out = Buffer.allocUnsafe(data.length + extra);
    let at = 0;
    for (const byte of data) {
      if (this.#afterNewline && byte === SOL_ESCAPE) out[at++] = SOL_ESCAPE;
      out[at++] = byte;
      this.#afterNewline = byte === 0x0d || byte === 0x0a;
    }
    return out;
  }
}

/** A console through the BMC's Serial-over-LAN. */
export class IpmiSolDriver implements ConsoleDriver {
  readonly name = 'ipmi-sol' as const;
  readonly #server: Server;
  readonly #password: () => Promise<string>;
  readonly #options: IpmiSolOptions;
  /** The `sol deactivate` of the last session, awaited before the next activation (it would end it). */
  #releasing: Promise<void> = Promise.resolve();

  constructor(server: Server, password: () => Promise<string>, options: IpmiSolOptions = {}) {
    this.#server = server;
    this.#password = password;
    this.#options = options;
  }

  get target(): string {
    return this.#server.bmc.url;
  }

  async validate(): Promise<void> {
    this.#target(await this.#password());
  }

  async connect(signal: AbortSignal): Promise<Duplex> {
    const password = await this.#password();
    const target = this.#target(password);
    await this.#releasing;
    try {
      return await this.#activate(target, password, signal);
    } catch (error) {
      if (!(error instanceof StaleSession)) throw error;
      await this.#deactivate(target, password);
      try {
        return await this.#activate(target, password, signal);
      } catch (again) {
        if (again instanceof StaleSession) throw new LifeboatError('CONSOLE_UNAVAILABLE', `${this.#what(target)}: another SOL session holds the console and would not let go`);
        throw again;
      }
    }
  }

  #target(password: string): SolTarget {
    if (this.#server.bmc.driver !== 'ipmi') throw new LifeboatError('CONSOLE_INVALID', `server ${this.#server.name}: Serial-over-LAN needs an IPMI BMC`);
    const target = parseBmcUrl({ driver: 'ipmi', url: this.#server.bmc.url, user: this.#server.bmc.user, password }, 'ipmi');
    const text = new URL(this.#server.bmc.url).searchParams.get('cipher');
    const cipherSuite = text === null ? (this.#options.cipherSuite ?? 3) : Number(text);
    if (!Number.isInteger(cipherSuite) || cipherSuite < 0 || cipherSuite > 17) throw new LifeboatError('BMC_INVALID', `bmc.url: not an RMCP+ cipher suite: ${text}`);
    return { host: target.host, port: target.port, user: this.#server.bmc.user, cipherSuite };
  }

  #what(target: SolTarget): string {
    return `Serial-over-LAN of ${this.#server.name} (ipmi://${target.host}:${target.port})`;
  }

  #spawn(target: SolTarget, password: string, command: 'activate' | 'deactivate'): ChildProcessWithoutNullStreams {
    // ipmitool's stdout is a pipe here, so its stdio would hold the "operational" line (and console
    // bytes) in a buffer; stdbuf (coreutils) makes it unbuffered, as on a terminal.
    // Like the power driver's, this ipmitool dies with the control plane: an orphaned SOL session would
    // hold the BMC's only SOL payload until the BMC times it out.
    const [program, args] = dyingWithControlPlane('stdbuf', ['-o0', '-e0', this.#options.ipmitool ?? 'ipmitool', ...solArgs(target, command)]);
    return spawn(program, args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', IPMI_PASSWORD: password },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  }

  /** Runs `sol deactivate` (best effort: the BMC may already have dropped the session). */
  #deactivate(target: SolTarget, password: string): Promise<void> {
    return new Promise<void>((resolve) => {
      const child = this.#spawn(target, password, 'deactivate');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.stdin.end();
      child.stdout.resume();
      child.stderr.resume();
      child.on('error', () => undefined);
      child.on('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #activate(target: SolTarget, password: string, signal: AbortSignal): Promise<Duplex> {
    signal.throwIfAborted();
    const what = this.#what(target);
    const timeoutMs = this.#options.activateTimeoutMs ?? 20_000;
    return new Promise<Duplex>((resolve, reject) => {
      const child = this.#spawn(target, password, 'activate');
      let head = Buffer.alloc(0);
      let stderr = '';
      let settled = false;
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        child.kill('SIGKILL');
        reject(error);
      };
      const onAbort = (): void => fail(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      const timer = setTimeout(() => fail(new LifeboatError('CONSOLE_UNAVAILABLE', `${what}: not operational within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      child.on('error', (error: NodeJS.ErrnoException) => {
        fail(new LifeboatError('CONSOLE_UNAVAILABLE', error.code === 'ENOENT' ? 'stdbuf (coreutils) is not installed' : `cannot run ipmitool: ${error.message}`));
      });
      child.stderr.setEncoding('utf8').on('data', (text: string) => {
        // Bounded: only the last words matter for the error message.
        stderr = (stderr + text).slice(-4096);
        if (!settled && ALREADY_ACTIVE.test(stderr)) fail(new StaleSession());
      });
      const onHead = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        const text = head.toString('latin1');
        if (ALREADY_ACTIVE.test(text)) return fail(new StaleSession());
        const match = OPERATIONAL.exec(text);
        if (!match) {
          if (head.length > 4096) fail(new LifeboatError('CONSOLE_UNAVAILABLE', `${what}: ipmitool did not report the session operational`));
          return;
        }
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        child.stdout.off('data', onHead);
        child.off('close', onEarlyClose);
        const rest = head.subarray(match.index + match[0].length);
        const stream = new SolStream(child, rest, () => {
          this.#releasing = this.#deactivate(target, password);
        });
        signal.addEventListener('abort', () => stream.destroy(), { once: true });
        resolve(stream);
      };
      const onEarlyClose = (code: number | null): void => {
        const text = `${stderr}\n${head.toString('latin1')}`;
        if (ALREADY_ACTIVE.test(text)) return fail(new StaleSession());
        // A BMC without SOL (or with it disabled) will not offer it later either: a setup problem.
        if (NO_SOL.test(text)) {
          return fail(new LifeboatError('CONSOLE_INVALID', `${what}: the BMC does not offer Serial-over-LAN; enable it, or register the server with console: "tcp://HOST:PORT"`));
        }
        fail(new LifeboatError('CONSOLE_UNAVAILABLE', `${what}: ${solFailure(text) ?? `ipmitool exited with ${code ?? 'a signal'}`}`));
      };
      child.stdout.on('data', onHead);
      child.on('close', onEarlyClose);
    });
  }
}

/** A stale SOL session holds the payload (internal: the driver deactivates it and retries). */
class StaleSession extends Error {}

/** ipmitool's reason for a failed activation, in a user's words. */
function solFailure(output: string): string | undefined {
  if (/RAKP \d HMAC is invalid|unauthorized name|invalid (?:role|name length)/i.test(output)) return 'the BMC refused the user name or password';
  if (/Unable to establish IPMI v2|No response from remote controller|Get Auth Capabilities error|Address lookup for .* failed/i.test(output)) return 'the BMC did not answer';
  if (/stdbuf: failed to run command|No such file or directory/i.test(output)) return 'ipmitool is not installed (Debian package ipmitool)';
  if (/SOL payload disabled|payload type .* not supported|Error activating SOL payload/i.test(output)) return 'the BMC refused to activate Serial-over-LAN';
  const last = output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^tcgetattr|^\[/.test(line))
    .at(-1);
  return last?.slice(0, 200);
}

/**
 * The console as a stream over one running `ipmitool sol activate`: reading gives what ipmitool
 * printed after its banner, writing goes through the escaper to its stdin. Destroying it ends ipmitool
 * and deactivates the session, so the BMC's single SOL slot is free at once.
 */
class SolStream extends Duplex {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #escaper = new SolEscaper();
  readonly #release: () => void;
  #exited = false;

  constructor(child: ChildProcessWithoutNullStreams, first: Buffer, release: () => void) {
    super();
    this.#child = child;
    this.#release = release;
    if (first.length > 0) this.push(first);
    child.stdout.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) child.stdout.pause();
    });
    child.stdout.on('end', () => this.push(null));
    child.stdin.on('error', () => undefined);
    child.on('close', () => {
      this.#exited = true;
      this.push(null);
      this.destroy();
    });
  }

  override _read(): void {
    this.#child.stdout.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#exited) return callback();
    this.#child.stdin.write(this.#escaper.escape(chunk), () => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#exited) {
      this.#child.kill('SIGTERM');
      this.#release();
    }
    callback(error);
  }
}
