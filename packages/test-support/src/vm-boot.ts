/**
 * Boots a rescue image in QEMU the way a server netboots it, minus iPXE: `-kernel/-initrd`, the
 * squashfs served over HTTP from the host (10.0.2.2 in user-mode networking), SSH forwarded to a
 * local port, the serial console logged to a file. Used by the VM test and the benchmark.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { freePort } from './ports.js';

/** A loopback HTTP server for a directory's files (by base name), counting requests per path. */
export interface FileServer {
  readonly port: number;
  readonly requests: Map<string, number>;
  close(): Promise<void>;
}

/** Serves `files` (absolute paths) as `/<basename>` on 127.0.0.1 (all interfaces' loopback only). */
export function serveFiles(files: readonly string[]): Promise<FileServer> {
  const byName = new Map(files.map((f) => [`/${basename(f)}`, f]));
  const requests = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    requests.set(path, (requests.get(path) ?? 0) + 1);
    const file = byName.get(path);
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': statSync(file).size, 'content-type': 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({
        port,
        requests,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}

/** How to boot. */
export interface BootOptions {
  readonly vmlinuz: string;
  readonly initrd: string;
  /** Kernel command line (without console=, which is always ttyS0). */
  readonly append: string;
  /** Where the serial log and any disk go. */
  readonly workDir: string;
  readonly memoryMb?: number;
  /** Raw disk images to attach as virtio disks. */
  readonly disks?: readonly string[];
  /** Host port forwarded to the guest's port 22; a free one by default. */
  readonly sshPort?: number;
}

/** A running VM. */
export interface BootedVm {
  readonly pid: number;
  /** Host port forwarded to the guest's port 22. */
  readonly sshPort: number;
  readonly serialLogPath: string;
  /** When QEMU was started (ms since the epoch). */
  readonly startedAt: number;
  serialLog(): string;
  /** CPU seconds QEMU has used so far (all its threads): a load-independent measure of a boot's work. */
  cpuSeconds(): number;
  /** Resolves when the serial log matches `pattern`; rejects after `timeoutMs` or when QEMU exits. */
  waitForSerial(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** Resolves when an SSH server answers with its banner on {@link sshPort}. */
  waitForSshBanner(timeoutMs: number): Promise<string>;
  /** Stops QEMU (SIGTERM, then SIGKILL) and waits for it to exit. */
  stop(): Promise<void>;
}

/** Starts QEMU under TCG (KVM does not work on these machines: LAB-FACTS). */
export async function bootVm(options: BootOptions): Promise<BootedVm> {
  const sshPort = options.sshPort ?? (await freePort());
  const serialLogPath = join(options.workDir, `serial-${sshPort}.log`);
  const args = [
    '-accel', 'tcg', '-m', String(options.memoryMb ?? 1024), '-smp', '1', '-nodefaults', '-no-user-config',
    '-display', 'none', '-serial', `file:${serialLogPath}`,
    '-kernel', options.vmlinuz, '-initrd', options.initrd,
    '-append', `console=ttyS0,115200 ${options.append}`,
    '-netdev', `user,id=n0,hostfwd=tcp:127.0.0.1:${sshPort}-:22`, '-device', 'virtio-net-pci,netdev=n0',
    // A real server seeds the kernel's RNG from RDRAND at once; TCG's CPU has none, and without this
    // device ssh-keygen waits ≈ 15 s for the entropy pool.
    '-device', 'virtio-rng-pci',
    '-no-reboot',
  ];
  for (const [i, disk] of (options.disks ?? []).entries()) args.push('-drive', `file=${disk},if=virtio,format=raw,index=${i}`);
  const startedAt = Date.now();
  const child: ChildProcess = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  if (child.pid === undefined) throw new Error('qemu-system-x86_64 did not start');
  const serialLog = (): string => {
    try {
      return readFileSync(serialLogPath, 'utf8');
    } catch {
      return '';
    }
  };
  const gone = (): Error => new Error(`QEMU exited: ${stderr.trim()}\n--- serial ---\n${serialLog().slice(-3000)}`);
  return {
    pid: child.pid,
    sshPort,
    serialLogPath,
    startedAt,
    serialLog,
    cpuSeconds() {
      // utime and stime, fields 14 and 15 of /proc/PID/stat, in clock ticks (100 per second on Linux).
      const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    },
    async waitForSerial(pattern, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = serialLog().match(pattern);
        if (match) return match;
        if (exited) throw gone();
        if (Date.now() > deadline) throw new Error(`serial console never showed ${pattern}\n--- serial ---\n${serialLog().slice(-3000)}`);
        await sleep(100);
      }
    },
    async waitForSshBanner(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const banner = await sshBanner(sshPort);
        if (banner) return banner;
        if (exited) throw gone();
        if (Date.now() > deadline) throw new Error(`no SSH banner on port ${sshPort}\n--- serial ---\n${serialLog().slice(-3000)}`);
        await sleep(200);
      }
    },
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const killed = await Promise.race([exit.then(() => true), sleep(5000).then(() => false)]);
      if (!killed) {
        child.kill('SIGKILL');
        await exit;
      }
    },
  };
}

/** The first line an SSH server sends on `port`, or undefined (QEMU's forwarder accepts, then closes, until the guest listens). */
function sshBanner(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const done = (value: string | undefined): void => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(1500, () => done(undefined));
    socket.on('data', (c: Buffer) => {
      data += c.toString();
      if (data.includes('\n')) done(data.startsWith('SSH-') ? data.split('\r\n')[0] : undefined);
    });
    socket.on('error', () => done(undefined));
    socket.on('close', () => done(undefined));
  });
}

/** Runs `command` in the guest as root over SSH with `keyFile`; resolves with stdout, rejects on a non-zero exit. */
export function sshRun(port: number, keyFile: string, command: string, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'ssh',
      ['-i', keyFile, '-p', String(port), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
        '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=10', 'root@127.0.0.1', command],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`ssh ${command}: exit ${code}: ${err.trim()}`));
    });
  });
}
