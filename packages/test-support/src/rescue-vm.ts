/**
 * Test support: boot the rescue image directly (`-kernel/-initrd`, TCG, user-mode network with SSH
 * forwarded to a free loopback port) and talk to it with OpenSSH. One VM at a time.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

/** How to boot the rescue image. */
export interface RescueVmOptions {
  /** Directory with `vmlinuz` and `initrd` (an image of `@lifeboat/image`). */
  readonly imageDir: string;
  /** Kernel command line. */
  readonly append: string;
  /** Loopback port forwarded to the guest's port 22. */
  readonly sshPort: number;
  /** Raw disk images to attach as virtio disks (vda, vdb, ...); writes are discarded (snapshot=on). */
  readonly disks?: readonly string[];
  /**
   * Raw disk images to attach on SATA (AHCI: sda, sdb, ..., after no other SATA disk), where SMART
   * answers as on real hardware; writes are discarded.
   */
  readonly sataDisks?: readonly string[];
  /** Raw disk images to attach as NVMe controllers (nvme0n1, nvme1n1, ...), SMART health log included; writes are discarded. */
  readonly nvmeDisks?: readonly string[];
  /** Serial console log file. */
  readonly serialLog: string;
  readonly memoryMiB?: number;
}


/** A running rescue VM. */
export class RescueVm {
  readonly sshPort: number;
  readonly #child: ChildProcess;
  readonly #serialLog: string;
  #exited = false;

  private constructor(child: ChildProcess, sshPort: number, serialLog: string) {
    this.#child = child;
    this.sshPort = sshPort;
    this.#serialLog = serialLog;
    child.once('exit', () => (this.#exited = true));
  }

  /** Starts QEMU; returns at once (the guest boots in the background). */
  static async start(options: RescueVmOptions): Promise<RescueVm> {
    const sshPort = options.sshPort;
    const args = [
      '-accel', 'tcg', '-smp', '1', '-m', String(options.memoryMiB ?? 1536),
      '-display', 'none', '-no-reboot', '-monitor', 'none',
      '-chardev', `file,id=s0,path=${options.serialLog}`, '-serial', 'chardev:s0',
      '-kernel', join(options.imageDir, 'vmlinuz'), '-initrd', join(options.imageDir, 'initrd'),
      '-append', options.append,
      '-netdev', `user,id=n0,hostfwd=tcp:127.0.0.1:${sshPort}-:22`, '-device', 'virtio-net-pci,netdev=n0',
    ];
    for (const disk of options.disks ?? []) args.push('-drive', `file=${disk},if=virtio,format=raw,snapshot=on`);
    if ((options.sataDisks ?? []).length > 0) args.push('-device', 'ahci,id=ahci0');
    (options.sataDisks ?? []).forEach((disk, i) => {
      args.push('-drive', `if=none,id=sata${i},file=${disk},format=raw,snapshot=on`, '-device', `ide-hd,drive=sata${i},bus=ahci0.${i},serial=LAB-SATA-${i}`);
    });
    (options.nvmeDisks ?? []).forEach((disk, i) => {
      args.push('-drive', `if=none,id=nvme${i},file=${disk},format=raw,snapshot=on`, '-device', `nvme,drive=nvme${i},serial=TEST-NVME-${i}`);
    });
    const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const vm = new RescueVm(child, sshPort, options.serialLog);
    await new Promise((r) => setTimeout(r, 0));
    if (vm.#exited) throw new Error(`qemu exited at once: ${stderr}`);
    child.once('exit', (code) => {
      if (code !== 0 && code !== null) process.stderr.write(`qemu exited with ${code}: ${stderr}\n`);
    });
    return vm;
  }

  /** The serial console so far. */
  serial(): string {
    try {
      return readFileSync(this.#serialLog, 'utf8');
    } catch {
      return '';
    }
  }

  /** Whether QEMU is still running. */
  get running(): boolean {
    return !this.#exited;
  }

  /** Stops QEMU (SIGTERM, then SIGKILL) and waits for it to exit. */
  async stop(): Promise<void> {
    if (this.#exited || this.#child.pid === undefined) return;
    const exited = new Promise((r) => this.#child.once('exit', r));
    process.kill(this.#child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (!this.#exited && this.#child.pid !== undefined) process.kill(this.#child.pid, 'SIGKILL');
    }, 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** Whether an SSH server (not just QEMU's forwarder) answers on a port: it sends its banner. */
export function sshBanner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(3000, () => done(false));
    socket.on('data', (c) => {
      data += c.toString();
      if (data.startsWith('SSH-')) done(true);
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(data.startsWith('SSH-')));
  });
}

/** How to log in. */
export interface SshLogin {
  readonly port: number;
  /** `known_hosts` file with the host keys the control plane published; checked strictly. */
  readonly knownHosts: string;
  /** Password, given to sshpass through SSHPASS (never argv). */
  readonly password?: string;
  /** Private key file. */
  readonly identity?: string;
  /**
   * With a key login: the socket of an OpenSSH master connection that later commands of the same login
   * reuse (ControlMaster=auto, ControlPersist=60 s). A new connection to a rescue system under TCG costs
   * about a second of the guest's CPU for its key exchange; a command through the master, about 0.15 s.
   * The master ends with the VM's connection. Checks of who may log in must not set it.
   */
  readonly controlPath?: string;
}

/** What a command run over SSH gave. */
export interface SshResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The OpenSSH client invocation for `login` as root (`sshpass -e` for a password, given through
 * `SSHPASS` in the returned environment, never argv); `extra` goes before the destination (`-tt`).
 */
export function sshInvocation(login: SshLogin, command?: string, extra: readonly string[] = []): { program: string; args: string[]; env: NodeJS.ProcessEnv } {
  const sshArgs = [
    '-p', String(login.port),
    '-o', `UserKnownHostsFile=${login.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'ConnectTimeout=20', '-o', 'ServerAliveInterval=10', '-o', 'LogLevel=ERROR',
    ...(login.identity
      ? ['-i', login.identity, '-o', 'IdentitiesOnly=yes', '-o', 'PasswordAuthentication=no', '-o', 'BatchMode=yes']
      : ['-o', 'PubkeyAuthentication=no', '-o', 'PreferredAuthentications=password', '-o', 'NumberOfPasswordPrompts=1']),
    ...(login.identity && login.controlPath
      ? ['-o', 'ControlMaster=auto', '-o', `ControlPath=${login.controlPath}`, '-o', 'ControlPersist=60']
      : []),
    ...extra,
    'root@127.0.0.1', ...(command === undefined ? [] : [command]),
  ];
  const env = { ...process.env, ...(login.password !== undefined ? { SSHPASS: login.password } : {}) };
  return login.password !== undefined ? { program: 'sshpass', args: ['-e', 'ssh', ...sshArgs], env } : { program: 'ssh', args: sshArgs, env };
}

/** Runs a command as root over OpenSSH (`sshpass -e` for a password). */
export function ssh(login: SshLogin, command: string, input?: string, timeoutMs = 300_000): Promise<SshResult> {
  const { program, args, env } = sshInvocation(login, command);
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}
