import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { accessSync, constants, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { freeTcpPort } from '../processes/free-port.js';
import { waitUntil } from '../processes/processes.js';
import { serconPortBytes, startScript, vmFiles } from './qemu-command.js';
import { ServerVm } from './server-vm.js';

const run = promisify(execFile);

/** What a KVM trial boots: a lab disk with an installed system that accepts the lab key. */
export interface KvmTrialInput {
  /** Raw base images of a layout (never written: the trial boots qcow2 overlays). */
  readonly baseDisks: readonly string[];
  /** Root's private key for SSH into the installed system. */
  readonly keyFile: string;
  /** Scratch directory (its unix sockets must fit in 107 bytes). */
  readonly workDir: string;
  /** Where the verdict is cached (a JSON file). */
  readonly verdictFile: string;
  /** Seconds to wait for SSH before calling KVM broken (default 90). */
  readonly timeoutSeconds?: number;
}

/** The outcome of a KVM trial. */
export interface KvmVerdict {
  readonly kvm: boolean;
  /** Why, in words (e.g. "/dev/kvm is not accessible", "SSH answered after 9.1 s"). */
  readonly reason: string;
  /** Host kernel and QEMU version the verdict holds for. */
  readonly host: string;
}

async function hostKey(): Promise<string> {
  const { stdout } = await run('qemu-system-x86_64', ['--version']);
  return `${release()} ${stdout.split('\n')[0] ?? ''}`;
}

/**
 * Whether KVM really works for lab servers on this host: boots the installed system of a lab disk
 * under `-accel kvm` and waits for its SSH. `/dev/kvm` existing proves nothing (a nested paravirtual
 * hypervisor may accept KVM and then stall the guest, see LAB-FACTS). The verdict is cached per host
 * kernel and QEMU version.
 */
export async function kvmTrial(input: KvmTrialInput): Promise<KvmVerdict> {
  const host = await hostKey();
  try {
    const cachedVerdict = JSON.parse(readFileSync(input.verdictFile, 'utf8')) as KvmVerdict;
    if (cachedVerdict.host === host) return cachedVerdict;
  } catch {
    // no verdict yet
  }
  const verdict = await boot(input, host);
  mkdirSync(dirname(input.verdictFile), { recursive: true });
  writeFileSync(input.verdictFile, `${JSON.stringify(verdict, null, 2)}\n`);
  return verdict;
}

async function boot(input: KvmTrialInput, host: string): Promise<KvmVerdict> {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return { kvm: false, reason: '/dev/kvm is not accessible', host };
  }
  const dir = input.workDir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const disks = [];
  for (const [i, base] of input.baseDisks.entries()) {
    const path = join(dir, `disk${i}.qcow2`);
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', base, path]);
    disks.push({ path, format: 'qcow2' as const });
  }
  const sshPort = await freeTcpPort();
  const spec = { name: 'kvm-trial', serverDir: dir, mac: '52:54:00:1b:ff:ff', uuid: randomUUID(), sshPort, bootUrl: 'http://10.0.2.2:9/none', disks, memoryMiB: 1024, accel: 'kvm' as const };
  const files = vmFiles(dir);
  writeFileSync(files.startScript, startScript(spec), { mode: 0o755 });
  writeFileSync(files.bootDevice, 'disk\n');
  writeFileSync(files.serconPort, serconPortBytes);
  const vm = new ServerVm(dir, disks.length);
  const started = Date.now();
  try {
    await vm.powerOn();
    const ssh = async () => {
      if (vm.powerState() === 'off') return true;
      try {
        await run('ssh', ['-i', input.keyFile, '-p', String(sshPort), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no',
          '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR', 'root@127.0.0.1', 'true'], { timeout: 15_000 });
        return true;
      } catch {
        return false;
      }
    };
    const answered = await waitUntil(ssh, (input.timeoutSeconds ?? 90) * 1000, 1000);
    if (vm.powerState() === 'off') return { kvm: false, reason: `QEMU ended under KVM (see ${files.qemuLog})`, host };
    if (!answered) return { kvm: false, reason: `no SSH within ${input.timeoutSeconds ?? 90} s under KVM`, host };
    return { kvm: true, reason: `SSH answered after ${((Date.now() - started) / 1000).toFixed(1)} s under KVM`, host };
  } catch (error) {
    return { kvm: false, reason: `QEMU did not start under KVM: ${(error as Error).message}`, host };
  } finally {
    await vm.forceOff().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
