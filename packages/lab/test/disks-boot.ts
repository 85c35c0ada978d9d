// Test support for disks*.vm.test.ts: boots one lab disk set in QEMU (TCG) and watches it.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A running VM booted from lab disks. */
export interface BootedVm {
  process: ChildProcess;
  sshPort: number;
  serialLog: string;
  startedAt: number;
  stop(): Promise<void>;
}

/** A loopback TCP port that was free a moment ago. */
import { freeTcpPort as freePort } from '../src/processes/free-port.js';
export { freePort };

/** Boots `disks` (qcow2 overlays, first one boots) with 1 vCPU, 1 GiB, user-mode net forwarding SSH. */
export async function bootDisks(disks: string[], dir: string): Promise<BootedVm> {
  const sshPort = await freePort();
  const serialLog = join(dir, 'serial.log');
  const args = [
    '-accel', 'tcg', '-m', '1024', '-smp', '1',
    '-display', 'none', '-monitor', 'none',
    '-serial', `file:${serialLog}`,
    '-boot', 'c',
    '-netdev', `user,id=n0,hostfwd=tcp:127.0.0.1:${sshPort}-:22`,
    '-device', 'virtio-net-pci,netdev=n0',
    ...disks.flatMap((disk) => ['-drive', `file=${disk},format=qcow2,if=virtio`]),
  ];
  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const startedAt = Date.now();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    process: child,
    sshPort,
    serialLog,
    startedAt,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(5000)]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      }
      if (stderr.trim()) process.stderr.write(`qemu: ${stderr}`);
    },
  };
}

/** Reads the SSH banner on `port` within `timeoutMs`; resolves undefined when none came. */
export function sshBanner(port: number, timeoutMs = 4000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const done = (value: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString();
      if (data.includes('\n')) done(data.split('\n')[0]!.trim());
    });
    socket.on('error', () => done(undefined));
    socket.on('close', () => done(data ? data.trim() : undefined));
  });
}

/** Runs a command over SSH as root with the lab key; resolves its exit code and output. */
export function sshRun(port: number, keyFile: string, command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      'ssh',
      [
        '-i', keyFile, '-p', String(port),
        '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
        '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR', '-o', 'IdentitiesOnly=yes',
        'root@127.0.0.1', command,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code: code ?? 255, stdout, stderr }));
  });
}

/** Polls `check` until it returns a value or `timeoutMs` passes (then undefined). */
export async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs: number, vm?: BootedVm): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (vm && vm.process.exitCode !== null) return undefined;
    const value = await check();
    if (value !== undefined) return value;
    await sleep(1000);
  }
  return undefined;
}

/** The serial log so far ('' before QEMU created it). */
export async function serialText(vm: BootedVm): Promise<string> {
  return readFile(vm.serialLog, 'utf8').catch(() => '');
}
