/**
 * The rescue system the agent configures: files under a root directory (`/` in the image, a temp
 * dir in tests) and the programs it runs (ssh-keygen, sshd, hostname).
 */
import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { authorizedKeysFile, isSha512CryptHash, rewriteShadow } from './credentials.js';
import type { RescueConfig } from './control-plane-client.js';
import { sshdConfig } from './sshd-config.js';

const run = promisify(execFile);

/** Where the rescue system lives and how its programs are called. */
export interface RescueSystemOptions {
  /** `/` in the image. */
  readonly rootDir: string;
  /** The sshd program (`/usr/sbin/sshd`). */
  readonly sshd: string;
  /** sshd's port; 22 unless a test says otherwise. */
  readonly sshPort?: number;
  /** Whether to set the kernel's hostname (only in the real rescue system). */
  readonly setKernelHostname: boolean;
}

/** The rescue system's defaults inside the image. */
export const imageRescueSystem: RescueSystemOptions = { rootDir: '/', sshd: '/usr/sbin/sshd', setKernelHostname: true };

/** Configures and starts what the customer logs into. */
export class RescueSystem {
  readonly #o: RescueSystemOptions;

  constructor(options: RescueSystemOptions) {
    this.#o = options;
  }

  /** An absolute path inside the rescue system. */
  path(p: string): string {
    return join(this.#o.rootDir, p);
  }

  /** Generates host keys when none exist (the image's init normally did it at this boot). */
  async ensureHostKeys(): Promise<void> {
    if (existsSync(this.path('etc/ssh/ssh_host_ed25519_key'))) return;
    await mkdir(this.path('etc/ssh'), { recursive: true });
    await run('ssh-keygen', ['-A', '-f', this.#o.rootDir]);
  }

  /**
   * Writes root's credentials: the password hash into /etc/shadow, or the keys into
   * /root/.ssh/authorized_keys with the password field set to `*` (no password can match it).
   * Returns whether password login is allowed.
   */
  async writeCredentials(config: RescueConfig): Promise<boolean> {
    const keys = authorizedKeysFile(config.authorizedKeys);
    const usePassword = keys.length === 0 && config.rootPasswordHash !== null && config.passwordLogin;
    if (usePassword && !isSha512CryptHash(config.rootPasswordHash as string)) {
      throw new Error('the control plane sent a root password hash that is not a SHA-512 crypt hash');
    }
    if (!usePassword && keys.length === 0) throw new Error('the session has neither a password hash nor SSH keys');
    const days = Math.floor(Date.now() / 86_400_000);
    const shadowPath = this.path('etc/shadow');
    const shadow = existsSync(shadowPath) ? await readFile(shadowPath, 'utf8') : '';
    await replaceFile(shadowPath, rewriteShadow(shadow, 'root', usePassword ? (config.rootPasswordHash as string) : '*', days), 0o640);
    const sshDir = this.path('root/.ssh');
    await mkdir(sshDir, { recursive: true, mode: 0o700 });
    await chmod(sshDir, 0o700);
    await replaceFile(join(sshDir, 'authorized_keys'), keys, 0o600);
    return usePassword;
  }

  /** Writes the hostname, /etc/hosts' own line, the MOTD and the facts the login menu shows. */
  async writeIdentity(config: RescueConfig): Promise<void> {
    const hostname = config.hostname.replace(/[^A-Za-z0-9.-]/g, '-').slice(0, 63) || 'rescue';
    await replaceFile(this.path('etc/hostname'), `${hostname}\n`, 0o644);
    const hostsPath = this.path('etc/hosts');
    const hosts = existsSync(hostsPath) ? await readFile(hostsPath, 'utf8') : '127.0.0.1\tlocalhost\n';
    const kept = hosts.split('\n').filter((l) => l.length > 0 && !/^127\.0\.1\.1\s/.test(l));
    await replaceFile(hostsPath, `${[...kept, `127.0.1.1\t${hostname}`].join('\n')}\n`, 0o644);
    if (this.#o.setKernelHostname) await run('hostname', [hostname]);
    await replaceFile(this.path('etc/motd'), config.motd.endsWith('\n') || config.motd === '' ? config.motd : `${config.motd}\n`, 0o644);
    await mkdir(this.path('etc/lifeboat'), { recursive: true });
    await replaceFile(this.path('etc/lifeboat/server-name'), `${config.serverName}\n`, 0o644);
    await replaceFile(this.path('etc/lifeboat/expires-at'), `${config.expiresAt}\n`, 0o644);
  }

  /**
   * Writes sshd_config, then starts sshd (or makes a running one reload). No separate `sshd -t`: sshd
   * checks its configuration and keys itself and exits non-zero on an error, and under emulation each
   * extra start of sshd costs seconds.
   */
  async startSshd(passwordLogin: boolean): Promise<void> {
    const hostKeyFiles = ['ed25519', 'ecdsa', 'rsa']
      .map((t) => this.path(`etc/ssh/ssh_host_${t}_key`))
      .filter((f) => existsSync(f));
    const configPath = this.path('etc/ssh/sshd_config');
    await replaceFile(configPath, sshdConfig({ passwordLogin, hostKeyFiles, ...(this.#o.sshPort ? { port: this.#o.sshPort } : {}) }), 0o644);
    await mkdir(this.path('run/sshd'), { recursive: true, mode: 0o755 });
    const pidFile = this.path('run/sshd.pid');
    const args = ['-f', configPath, '-o', `PidFile=${pidFile}`];
    const running = await runningPid(pidFile);
    if (running !== null) {
      await run(this.#o.sshd, ['-t', ...args]);
      process.kill(running, 'SIGHUP');
      return;
    }
    // sshd daemonizes: execFile returns once the listener is bound and the parent exited.
    await run(this.#o.sshd, args);
  }
}

async function runningPid(pidFile: string): Promise<number | null> {
  try {
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    if (!Number.isInteger(pid) || pid <= 0) return null;
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

/** Replaces a file atomically, keeping its owner (and using `mode`). */
async function replaceFile(path: string, content: string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.lifeboat-tmp`;
  await writeFile(tmp, content, { mode });
  await chmod(tmp, mode);
  try {
    const old = await stat(path);
    await chown(tmp, old.uid, old.gid);
  } catch {
    // a new file: owned by whoever runs the agent (root in the image)
  }
  await rename(tmp, path);
}
