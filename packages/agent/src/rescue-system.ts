/**
 * The rescue system the agent configures: files under a root directory (`/` in the image, a temp
 * dir in tests) and the programs it runs (ssh-keygen, sshd, hostname).
 */
import { desktopAuthorizedKeyLine } from '@lifeboat/core/api';
import { authorizedKeysFile, isSha512CryptHash, rewriteShadow } from './credentials.js';
import type { HostCertificate, RescueConfig } from './control-plane-client.js';
import { dirnameOf, joinPath, runChecked } from './platform.js';
import type { Platform, Stop } from './platform.js';
import { sshdConfig } from './sshd-config.js';

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
  /**
   * Whether to wait for the image's init to finish loading drivers (`/run/lifeboat/drivers-loaded`)
   * before the inventory: true in the image, where drivers load while sshd starts.
   */
  readonly waitForDrivers: boolean;
}

/** The rescue system's defaults inside the image. */
export const imageRescueSystem: RescueSystemOptions = { rootDir: '/', sshd: '/usr/sbin/sshd', setKernelHostname: true, waitForDrivers: true };

/** The file the image's init (rescue-rc) writes once every present device's driver is loaded. */
export const driversLoadedMarker = 'run/lifeboat/drivers-loaded';

/** Configures and starts what the customer logs into. */
export class RescueSystem {
  readonly #platform: Platform;
  readonly #o: RescueSystemOptions;
  /** `ssh -X` allowed (a rescue with a desktop, once its credentials are written). */
  #x11Forwarding = false;
  /** The host certificates written by this agent (only those: a file left by an earlier key is not sshd's to load). */
  #certificateFiles: string[] = [];

  constructor(platform: Platform, options: RescueSystemOptions) {
    this.#platform = platform;
    this.#o = options;
  }

  /** An absolute path inside the rescue system. */
  path(p: string): string {
    return joinPath(this.#o.rootDir, p);
  }

  /** Generates host keys when none exist (the image's init normally did it at this boot). */
  async ensureHostKeys(): Promise<void> {
    if (this.#platform.exists(this.path('etc/ssh/ssh_host_ed25519_key.pub'))) return;
    await this.#platform.mkdir(this.path('etc/ssh'), 0o755);
    await runChecked(this.#platform, 'ssh-keygen', ['-A', '-f', this.#o.rootDir]);
  }

  /**
   * Writes each host certificate beside the host key it certifies (`ssh_host_ed25519_key-cert.pub`);
   * the next {@link startSshd} serves them. A certificate for no key here is left out. Returns the
   * certificate files written.
   */
  async writeHostCertificates(certificates: readonly HostCertificate[]): Promise<string[]> {
    const sshDir = this.path('etc/ssh');
    const written: string[] = [];
    const keyOf = (line: string): string => line.trim().split(/\s+/).slice(0, 2).join(' ');
    for (const name of (await this.#platform.readdir(sshDir)).filter((n) => /^ssh_host_.*_key\.pub$/.test(n)).sort()) {
      const publicKey = keyOf(await this.#platform.readText(joinPath(sshDir, name)));
      const certificate = certificates.find((c) => keyOf(c.publicKey) === publicKey);
      if (!certificate || /[\r\n]/.test(certificate.certificate)) continue;
      const file = joinPath(sshDir, name.replace(/\.pub$/, '-cert.pub'));
      await this.#replaceFile(file, `${certificate.certificate.trim()}\n`, 0o644);
      written.push(file);
    }
    this.#certificateFiles = written;
    return written;
  }

  /**
   * Waits until the image's init has loaded the drivers of every device (so that the inventory sees
   * every disk), at most `limitMs`. Returns whether it did; false also when this system does not wait.
   */
  async driversLoaded(limitMs: number, stop: Stop): Promise<boolean> {
    if (!this.#o.waitForDrivers) return false;
    const marker = this.path(driversLoadedMarker);
    const deadline = Date.now() + limitMs;
    while (!this.#platform.exists(marker)) {
      if (Date.now() >= deadline || stop.stopped) return false;
      await this.#platform.sleep(200, stop);
    }
    return true;
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
    const shadow = this.#platform.exists(shadowPath) ? await this.#platform.readText(shadowPath) : '';
    await this.#replaceFile(shadowPath, rewriteShadow(shadow, 'root', usePassword ? (config.rootPasswordHash as string) : '*', days), 0o640);
    const sshDir = this.path('root/.ssh');
    await this.#platform.mkdir(sshDir, 0o700);
    await this.#platform.chmod(sshDir, 0o700);
    // A rescue with a desktop: the control plane's desktop key, allowed to forward to the VNC server only.
    const desktop = config.desktopKey === undefined ? '' : `${desktopAuthorizedKeyLine(config.desktopKey)}\n`;
    await this.#replaceFile(joinPath(sshDir, 'authorized_keys'), keys + desktop, 0o600);
    this.#x11Forwarding = config.desktopKey !== undefined && this.#platform.exists(this.path('usr/bin/xauth'));
    return usePassword;
  }

  /** Writes the hostname, /etc/hosts' own line, the MOTD and the facts the login menu shows. */
  async writeIdentity(config: RescueConfig): Promise<void> {
    const hostname = config.hostname.replace(/[^A-Za-z0-9.-]/g, '-').slice(0, 63) || 'rescue';
    await this.#replaceFile(this.path('etc/hostname'), `${hostname}\n`, 0o644);
    const hostsPath = this.path('etc/hosts');
    const hosts = this.#platform.exists(hostsPath) ? await this.#platform.readText(hostsPath) : '127.0.0.1\tlocalhost\n';
    const kept = hosts.split('\n').filter((l) => l.length > 0 && !/^127\.0\.1\.1\s/.test(l));
    await this.#replaceFile(hostsPath, `${[...kept, `127.0.1.1\t${hostname}`].join('\n')}\n`, 0o644);
    if (this.#o.setKernelHostname) await runChecked(this.#platform, 'hostname', [hostname]);
    await this.#replaceFile(this.path('etc/motd'), config.motd.endsWith('\n') || config.motd === '' ? config.motd : `${config.motd}\n`, 0o644);
    await this.#platform.mkdir(this.path('etc/lifeboat'), 0o755);
    await this.#replaceFile(this.path('etc/lifeboat/server-name'), `${config.serverName}\n`, 0o644);
    await this.#replaceFile(this.path('etc/lifeboat/expires-at'), `${config.expiresAt}\n`, 0o644);
  }

  /**
   * Writes sshd_config, then starts sshd (or makes a running one reload). No separate `sshd -t`: sshd
   * checks its configuration and keys itself and exits non-zero on an error, and under emulation each
   * extra start of sshd costs seconds.
   */
  async startSshd(passwordLogin: boolean): Promise<void> {
    const hostKeyFiles = ['ed25519', 'ecdsa', 'rsa']
      .map((t) => this.path(`etc/ssh/ssh_host_${t}_key`))
      .filter((f) => this.#platform.exists(f));
    const configPath = this.path('etc/ssh/sshd_config');
    const hostCertificateFiles = this.#certificateFiles.filter((f) => hostKeyFiles.includes(f.replace(/-cert\.pub$/, '')));
    await this.#replaceFile(configPath, sshdConfig({ passwordLogin, hostKeyFiles, hostCertificateFiles, x11Forwarding: this.#x11Forwarding, ...(this.#o.sshPort ? { port: this.#o.sshPort } : {}) }), 0o644);
    await this.#platform.mkdir(this.path('run/sshd'), 0o755);
    const pidFile = this.path('run/sshd.pid');
    const args = ['-f', configPath, '-o', `PidFile=${pidFile}`];
    const running = await this.#runningPid(pidFile);
    if (running !== null) {
      await runChecked(this.#platform, this.#o.sshd, ['-t', ...args]);
      this.#platform.kill(running, 1); // SIGHUP: sshd re-reads its configuration
      return;
    }
    // sshd daemonizes: the call returns once the listener is bound and the parent exited.
    await runChecked(this.#platform, this.#o.sshd, args);
  }

  async #runningPid(pidFile: string): Promise<number | null> {
    try {
      const pid = Number((await this.#platform.readText(pidFile)).trim());
      return Number.isInteger(pid) && pid > 0 && this.#platform.kill(pid, 0) ? pid : null;
    } catch {
      return null;
    }
  }

  /** Replaces a file atomically, keeping its owner (and using `mode`). */
  async #replaceFile(path: string, content: string, mode: number): Promise<void> {
    await this.#platform.mkdir(dirnameOf(path), 0o755);
    const tmp = `${path}.lifeboat-tmp`;
    await this.#platform.writeText(tmp, content, mode);
    const old = await this.#platform.owner(path);
    const now = await this.#platform.owner(tmp);
    // a new file is owned by whoever runs the agent (root in the image)
    if (old && now && (old.uid !== now.uid || old.gid !== now.gid)) await this.#platform.chown(tmp, old.uid, old.gid);
    await this.#platform.rename(tmp, path);
  }
}
