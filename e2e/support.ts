/**
 * End-to-end support: the real CLI as a child process, OpenSSH as the customer runs it, a real SMTP
 * server on loopback, and waits that poll for real signals.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SMTPServer } from 'smtp-server';

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
export { waitFor } from '@lifeboat/test-support';

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

