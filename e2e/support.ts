/**
 * End-to-end support: the real CLI as a child process, OpenSSH as the customer runs it, a real SMTP
 * server on loopback, and waits that poll for real signals.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SMTPServer } from 'smtp-server';
import { labStatus, main as lab, type LabServerStatus } from '@lifeboat/lab';

const cliBin = fileURLToPath(new URL('../packages/cli/bin/lifeboat.mjs', import.meta.url));

/** What a command printed and how it ended. */
export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program without a shell; secrets go through `env`, never `args`. */
export function runCommand(
  program: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(
      program,
      [...args],
      { env: options.env ?? process.env, timeout: options.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 255) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** `lifeboat ARGS` as a customer or operator would run it. */
export function lifeboat(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 900_000): Promise<CommandResult> {
  return runCommand(process.execPath, [cliBin, ...args], { env, timeoutMs });
}

/** `lifeboat ARGS --json`, parsed; throws with the CLI's error when it failed. */
export async function lifeboatJson<T>(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs?: number): Promise<T> {
  const result = await lifeboat([...args, '--json'], env, timeoutMs);
  if (result.code !== 0) throw new Error(`lifeboat ${args.join(' ')} exited ${result.code}: ${result.stderr}${result.stdout}`);
  return JSON.parse(result.stdout) as T;
}

/** How OpenSSH logs in. */
export type SshLogin =
  | { readonly password: string; readonly knownHostsFile: string }
  | { readonly keyFile: string; readonly knownHostsFile?: string };

/** Runs `command` over SSH as root on 127.0.0.1:port with OpenSSH (password via sshpass -e). */
export function ssh(port: number, login: SshLogin, command: string, timeoutMs = 120_000): Promise<CommandResult> {
  const common = ['-p', String(port), '-o', 'ConnectTimeout=10', '-o', 'BatchMode=no', '-o', 'LogLevel=ERROR'];
  const hostKeys =
    login.knownHostsFile !== undefined
      ? ['-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${login.knownHostsFile}`, '-o', 'GlobalKnownHostsFile=/dev/null']
      : ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null'];
  if ('password' in login) {
    return runCommand(
      'sshpass',
      ['-e', 'ssh', ...common, ...hostKeys, '-o', 'PreferredAuthentications=password,keyboard-interactive', '-o', 'PubkeyAuthentication=no', 'root@127.0.0.1', command],
      { env: { ...process.env, SSHPASS: login.password }, timeoutMs },
    );
  }
  return runCommand(
    'ssh',
    [...common, ...hostKeys, '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-i', login.keyFile, 'root@127.0.0.1', command],
    { timeoutMs },
  );
}

/** Free ports and waiting for a real signal: the tests' shared support. */
import { freePort } from '@lifeboat/test-support';
export { freePort };
import { waitFor } from '@lifeboat/test-support';
export { waitFor };

/** `lifeboat serve` as an operator runs it (a child process), its output kept for failure reports. */
export class ServeProcess {
  /** Everything it printed, for a failing test's report. */
  log = '';
  #child: ChildProcess | undefined;

  constructor(readonly port: number) {}

  /** Starts `lifeboat serve --listen 127.0.0.1:PORT FLAGS...` and waits until /healthz answers. */
  async start(flags: readonly string[]): Promise<void> {
    const child = spawn(process.execPath, [cliBin, 'serve', '--listen', `127.0.0.1:${this.port}`, ...flags], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LIFEBOAT_LOG_LEVEL: 'info' },
    });
    child.stdout!.on('data', (chunk) => (this.log += chunk));
    child.stderr!.on('data', (chunk) => (this.log += chunk));
    this.#child = child;
    await waitFor('the control plane to answer', async () => {
      if (child.exitCode !== null) throw new Error(`lifeboat serve exited with ${child.exitCode}: ${this.log}`);
      return (await fetch(`http://127.0.0.1:${this.port}/healthz`).catch(() => undefined))?.ok;
    }, 60_000, 200);
  }

  /** SIGTERM, then waits for it to exit; nothing when it is not running. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}

/** A message the SMTP server received. */
export interface ReceivedMail {
  readonly from: string;
  readonly to: string[];
  readonly data: string;
}

/** A real SMTP server on loopback (no auth, no TLS) that keeps what it receives. */
export async function startSmtpServer(): Promise<{ url: string; messages: ReceivedMail[]; close(): Promise<void> }> {
  const messages: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return { url: `smtp://127.0.0.1:${port}`, messages, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** What `E2eWorld.start` starts. */
export interface E2eWorldOptions {
  /** `lifeboat serve` flags besides `--data` (images, timeouts, the console listener). */
  readonly serve: readonly string[];
  /** `lifeboat lab up` arguments besides `--tenant` and `--boot-url` (`--scenario`, `--layout`). */
  readonly lab: readonly string[];
}

/**
 * The world of an end-to-end test on one lab server: a directory of its own (made at once, so the test
 * can put files in it before `start`), the real `lifeboat serve` on a free port with its data there,
 * and one lab server that `lifeboat lab up --register` (as `npm start` runs it) registered with that
 * control plane for the tenant acme, netbooting from it. `close` takes it all down, even half started.
 */
export class E2eWorld {
  /** The test's directory: the control plane's data, the lab, keys, files; removed by `close`. */
  readonly dir: string;
  readonly #dataDir: string;
  readonly #labDir: string;
  #controlPlane: ServeProcess | undefined;
  #base: NodeJS.ProcessEnv | undefined;
  #operator: NodeJS.ProcessEnv | undefined;
  #server: LabServerStatus | undefined;

  /** Makes the directory, `mkdtemp(PREFIX)` in the system's temporary directory. */
  constructor(prefix: string) {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    this.#dataDir = join(this.dir, 'data');
    this.#labDir = join(this.dir, 'lab');
  }

  /** The control plane's port on 127.0.0.1. */
  get port(): number {
    return this.#started(this.#controlPlane).port;
  }

  /** The control plane's URL, as the CLI's LIFEBOAT_URL has it. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The environment of the CLI as the operator (the admin token `serve` wrote). */
  get operator(): NodeJS.ProcessEnv {
    return this.#started(this.#operator);
  }

  /** The lab server, registered for the tenant acme. */
  get server(): LabServerStatus {
    return this.#started(this.#server);
  }

  /** Starts `lifeboat serve --data DIR/data FLAGS`, then the lab server registered with it. */
  async start(options: E2eWorldOptions): Promise<void> {
    this.#controlPlane = new ServeProcess(await freePort());
    mkdirSync(this.#dataDir, { recursive: true });
    await this.#startControlPlane(options.serve);
    this.#base = { ...process.env, LIFEBOAT_URL: this.url };
    this.#operator = { ...this.#base, LIFEBOAT_TOKEN: readFileSync(join(this.#dataDir, 'admin.token'), 'utf8').trim() };
    // The lab as `npm start` makes it: LIFEBOAT_LAB stays set for `close`'s `lab down`; the operator's
    // URL and token are set for the call only.
    process.env.LIFEBOAT_LAB = this.#labDir;
    process.env.LIFEBOAT_URL = this.#operator.LIFEBOAT_URL;
    process.env.LIFEBOAT_TOKEN = this.#operator.LIFEBOAT_TOKEN;
    let up: number;
    try {
      up = await lab(['up', ...options.lab, '--tenant', 'acme', '--boot-url', `http://10.0.2.2:${this.port}/boot.ipxe`, '--register']);
    } finally {
      delete process.env.LIFEBOAT_TOKEN;
      delete process.env.LIFEBOAT_URL;
    }
    assert.equal(up, 0, 'lifeboat lab up --register');
    this.#server = labStatus(this.#labDir).servers[0]!;
  }

  /** The operator restarts the control plane with other flags (the same data, port and lab). */
  async restartControlPlane(serve: readonly string[]): Promise<void> {
    await this.#started(this.#controlPlane).stop();
    await this.#startControlPlane(serve);
  }

  /** The environment of the CLI as a customer of `tenant`, with a new customer token. */
  async customer(tenant: string): Promise<NodeJS.ProcessEnv> {
    const { token } = await lifeboatJson<{ token: string }>(['tokens', 'create', '--tenant', tenant, '--role', 'customer'], this.operator);
    return { ...this.#started(this.#base), LIFEBOAT_TOKEN: token };
  }

  /** Makes an ed25519 key pair without passphrase at DIR/`name` (and `name`.pub); returns the private key's path. */
  sshKey(name: string, comment?: string): string {
    const path = join(this.dir, name);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', ...(comment === undefined ? [] : ['-C', comment]), '-f', path]);
    return path;
  }

  /**
   * `lab down`, the control plane stopped (its log printed when a test failed), the directory removed;
   * then fails when `lab down` left a process.
   */
  async close(): Promise<void> {
    process.env.LIFEBOAT_LAB = this.#labDir;
    const left = await lab(['down']);
    await this.#controlPlane?.stop();
    if (process.exitCode && process.exitCode !== 0) process.stderr.write((this.#controlPlane?.log ?? '').slice(-20_000));
    rmSync(this.dir, { recursive: true, force: true });
    assert.equal(left, 0, 'lab down left no process');
  }

  #startControlPlane(serve: readonly string[]): Promise<void> {
    return this.#started(this.#controlPlane).start(['--data', this.#dataDir, ...serve]);
  }

  #started<T>(value: T | undefined): T {
    if (value === undefined) throw new Error('the e2e world is not started: call start() in before()');
    return value;
  }
}
