/**
 * Debian's nginx as a child process on a configuration file of the project (docs/examples), with its
 * `@NAME@` placeholders replaced: for the tests and benchmarks of Lifeboat behind a web server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { waitFor } from './wait.js';

/** A running nginx. */
export interface Nginx {
  readonly pid: number;
  /** Stops it (SIGQUIT: graceful) and removes its files. */
  stop(): Promise<void>;
}

/** The nginx binary, or a sentence saying how to install it. */
export function nginxBinary(): string {
  if (existsSync('/usr/sbin/nginx')) return '/usr/sbin/nginx';
  throw new Error('nginx is missing: apt-get install nginx (scripts/debian-packages.txt lists it; npm test installs it)');
}

function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** Starts nginx on `template` with `vars` replaced; resolves once `listen` (HOST:PORT) accepts connections. */
export async function startNginx(template: string, vars: Record<string, string>, listen: string): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-nginx-'));
  let text = readFileSync(template, 'utf8');
  for (const [name, value] of Object.entries(vars)) text = text.replaceAll(`@${name}@`, value);
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, text);
  // As root, the workers would run as nobody and could not read a test's private directory.
  const globals = `daemon off; master_process on; pid ${join(dir, 'nginx.pid')}; error_log ${join(dir, 'error.log')} warn;${process.getuid?.() === 0 ? ' user root;' : ''}`;
  const child: ChildProcess = spawn(nginxBinary(), ['-p', dir, '-e', join(dir, 'error.log'), '-c', conf, '-g', globals], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const [host = '127.0.0.1', port = '0'] = [listen.slice(0, listen.lastIndexOf(':')), listen.slice(listen.lastIndexOf(':') + 1)];
  try {
    await waitFor('nginx to listen', async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited ${child.exitCode}: ${stderr}${existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : ''}`);
      return (await listening(host, Number(port))) || undefined;
    }, 10_000);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGQUIT');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
