/**
 * End-to-end support: the real CLI as a child process, OpenSSH as the customer runs it, a real SMTP
 * server on loopback, and waits that poll for real signals.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SMTPServer } from 'smtp-server';
import { main as lab } from '@lifeboat/lab';

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


/**
 * `lifeboat lab up ARGS --register` as `npm start` runs it: the lab in `labDir` (kept in
 * LIFEBOAT_LAB for the test's later `lab` calls), its servers registered with the control plane
 * through `operator`'s LIFEBOAT_URL and LIFEBOAT_TOKEN (set for the call only). Resolves with the exit code.
 */
export async function labUpRegistered(labDir: string, operator: NodeJS.ProcessEnv, args: readonly string[]): Promise<number> {
  process.env.LIFEBOAT_LAB = labDir;
  process.env.LIFEBOAT_URL = operator.LIFEBOAT_URL;
  process.env.LIFEBOAT_TOKEN = operator.LIFEBOAT_TOKEN;
  try {
    return await lab(['up', ...args, '--register']);
  } finally {
    delete process.env.LIFEBOAT_TOKEN;
    delete process.env.LIFEBOAT_URL;
  }
}
