// `lifeboat lab up|status|down`: the lab's command line (the CLI package delegates `lab` here).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createServerDisks, defaultCacheDir, ensureLayoutDisks, ensureWindowsDisk, isLayoutName, layoutNames, windowsScenarioNames, type LayoutName, type WindowsScenarioName } from './disks/index.js';
import { LabError } from './errors.js';
import { labDown, labPowerOn, labStatus, labUp } from './lab.js';
import type { ServerDisks } from './lab.js';
import { labDir, readLab } from './lab-state.js';
import { kvmTrial } from './vm/kvm-trial.js';
import { registerLab } from './register/register.js';
import { run as runCommand } from './disks/run.js';

const usage = `usage:
  lifeboat lab up [--servers N] [--layout NAME] [--scenario NAME]... [--disk FILE]... [--blank]
                  [--boot-url URL] [--off] [--register [--tenant lab] [--bmc ipmi|redfish]
                  [--profile NAME]...] [--accel tcg|kvm|auto] [--memory MIB]
  lifeboat lab status [--json]
  lifeboat lab down
  lifeboat lab console NAME          the server's serial console (Ctrl-] leaves)
  lifeboat lab ssh NAME [COMMAND...] root on the installed system, with the lab key
The lab lives in LIFEBOAT_LAB (default ./lab). Layouts: ${layoutNames.join(', ')}, and windows (a
Windows-like GPT disk: ESP, MSR, NTFS C:, recovery; --scenario hibernated; registered with the profiles
linux and windows, 2048 MiB of RAM; no real Windows: nothing boots from it).
--scenario applies to the last server (the others stay healthy); --disk FILE (repeatable) attaches
copy-on-write overlays of those raw images instead of a layout; --blank gives each server an empty disk.
--boot-url is the iPXE boot file URL as guests see the host (10.0.2.2); by default it is derived
from LIFEBOAT_URL (default http://127.0.0.1:8080): http://10.0.2.2:PORT/boot.ipxe.
--accel: tcg (software emulation, the default), kvm, or auto: KVM only if a trial boot of a lab disk
under KVM reaches SSH (verdict cached in LIFEBOAT_CACHE/lab/kvm-trial.json).
--register adds every server to the control plane (LIFEBOAT_URL, LIFEBOAT_TOKEN: an operator token)
through its HTTP API, with its IPMI BMC (or Redfish with --bmc redfish), MAC and SSH endpoint, and
the rescue profiles it may use (--profile, repeatable: linux, windows; default linux, and both for --layout windows).
--memory: each server's RAM in MiB (default 1024; 2048 with --layout windows).`;

/** The iPXE boot file URL the servers' DHCP hands out, derived from the control plane's URL. */
export function defaultBootUrl(controlPlaneUrl: string): string {
  const url = new URL(controlPlaneUrl);
  if (['127.0.0.1', 'localhost', '[::1]', '0.0.0.0'].includes(url.hostname)) url.hostname = '10.0.2.2';
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/boot.ipxe`;
  return url.toString();
}

/** How a program that embeds the lab's command line (`npm start`) controls it. */
export interface LabMainOptions {
  /** Aborting it stops a `lab up` in progress: nothing more is started, what was started is stopped. */
  readonly signal?: AbortSignal;
}

/** Runs `lifeboat lab ...` with `argv` (after `lab`); resolves with the exit code. */
export async function main(argv: string[], options: LabMainOptions = {}): Promise<number> {
  const [command, ...rest] = argv;
  // `lab up --help`, `lab status -h`: the usage. For console and ssh only right after the command
  // (`lab ssh NAME ls --help` runs `ls --help` on the server).
  const asksHelp = (args: readonly string[]) => args.includes('--help') || args.includes('-h');
  if (command !== undefined && ['up', 'status', 'down'].includes(command) ? asksHelp(rest) : asksHelp(rest.slice(0, 1))) {
    console.log(usage);
    return 0;
  }
  try {
    switch (command) {
      case 'up':
        return await up(rest, options.signal);
      case 'status':
        return status(rest);
      case 'down':
        return await down();
      case 'console':
        return await serialConsole(rest);
      case 'ssh':
        return await ssh(rest);
      case undefined:
      case 'help':
      case '--help':
        console.log(usage);
        return command === undefined ? 2 : 0;
      default:
        console.error(`unknown lab command "${command}"\n${usage}`);
        return 2;
    }
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    console.error(`lifeboat lab ${command}: ${typeof code === 'string' ? `${code}: ` : ''}${(error as Error).message}`);
    return 1;
  }
}

async function up(argv: string[], signal?: AbortSignal): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      servers: { type: 'string', default: '1' },
      layout: { type: 'string', default: 'plain' },
      scenario: { type: 'string', multiple: true, default: [] },
      disk: { type: 'string', multiple: true, default: [] },
      blank: { type: 'boolean', default: false },
      'boot-url': { type: 'string' },
      off: { type: 'boolean', default: false },
      register: { type: 'boolean', default: false },
      tenant: { type: 'string', default: 'lab' },
      bmc: { type: 'string', default: 'ipmi' },
      accel: { type: 'string', default: 'tcg' },
      profile: { type: 'string', multiple: true, default: [] },
      memory: { type: 'string' },
    },
  });
  const count = Number(values.servers);
  if (!Number.isInteger(count) || count < 1 || count > 16) throw new LabError('LAB_USAGE', '--servers must be 1 to 16');
  const layout = values.layout;
  const windows = layout === 'windows';
  if (!windows && !isLayoutName(layout)) throw new LabError('LAB_USAGE', `unknown layout ${layout}; known: ${[...layoutNames, 'windows'].join(', ')}`);
  const windowsScenario = values.scenario.length === 0 ? 'clean' : values.scenario[0]!;
  if (windows && (values.scenario.length > 1 || !(windowsScenarioNames as readonly string[]).includes(windowsScenario))) {
    throw new LabError('LAB_USAGE', `--layout windows takes one --scenario of ${windowsScenarioNames.join(', ')}`);
  }
  if (values.bmc !== 'ipmi' && values.bmc !== 'redfish') throw new LabError('LAB_USAGE', '--bmc is ipmi or redfish');
  if (!['tcg', 'kvm', 'auto'].includes(values.accel)) throw new LabError('LAB_USAGE', '--accel is tcg, kvm or auto');
  // A windows rescue holds its larger image in RAM, and runs a desktop.
  const memoryMiB = Number(values.memory ?? (windows ? '2048' : '1024'));
  if (!Number.isInteger(memoryMiB) || memoryMiB < 256 || memoryMiB > 16384) throw new LabError('LAB_USAGE', '--memory is a number of MiB from 256 to 16384');
  const controlPlaneUrl = process.env.LIFEBOAT_URL || 'http://127.0.0.1:8080';
  const bootUrl = values['boot-url'] ?? defaultBootUrl(controlPlaneUrl);
  const token = process.env.LIFEBOAT_TOKEN;
  if (values.register && !token) throw new LabError('LAB_USAGE', '--register needs LIFEBOAT_TOKEN (an operator token) and LIFEBOAT_URL');
  const files = values.disk.map((f) => resolve(f));
  for (const f of files) if (!existsSync(f)) throw new LabError('LAB_USAGE', `--disk ${f}: no such file`);
  const progress = (line: string) => console.error(line);
  let osLogin: { user: string; keyFile: string } | null = null;

  const prepareDisks = async (index: number, dir: string): Promise<ServerDisks> => {
    if (files.length > 0) {
      const disks = [];
      for (const [i, f] of files.entries()) {
        const overlay = join(dir, `disk${i}.qcow2`);
        await runCommand('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', f, overlay]);
        disks.push({ path: overlay, format: 'qcow2' as const });
      }
      return { layout: 'custom', scenarios: [], disks };
    }
    if (windows) {
      // The Windows-like disk (docs/lab-disks.md): no installed system that boots or answers SSH.
      const made = await ensureWindowsDisk(index === count - 1 ? (windowsScenario as WindowsScenarioName) : 'clean', { onProgress: progress });
      const path = join(dir, 'disk0.qcow2');
      await runCommand('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', made.disk, path]);
      return { layout: 'windows', scenarios: index === count - 1 && windowsScenario !== 'clean' ? [windowsScenario] : [], disks: [{ path, format: 'qcow2' }] };
    }
    if (values.blank) {
      const path = join(dir, 'disk0.qcow2');
      await runCommand('qemu-img', ['create', '-q', '-f', 'qcow2', path, '2G']);
      return { layout: 'blank', scenarios: [], disks: [{ path, format: 'qcow2' }] };
    }
    const scenarios = index === count - 1 ? values.scenario : [];
    const made = await createServerDisks({ layout: layout as LayoutName, scenarios, dir }, { onProgress: progress });
    osLogin = { user: made.base.login.user, keyFile: made.base.login.keyFile };
    return {
      layout,
      scenarios: made.base.scenarios,
      disks: made.disks.map((path) => ({ path, format: 'qcow2' as const })),
      nvmeDisks: [{ path: made.dataDisk, format: 'qcow2' as const }],
    };
  };

  const dir = labDir();
  let accel: 'tcg' | 'kvm' = values.accel === 'kvm' ? 'kvm' : 'tcg';
  if (values.accel === 'auto') {
    const base = await ensureLayoutDisks('plain', { onProgress: progress });
    progress('trying KVM: booting a lab disk under -accel kvm (the verdict is cached)');
    const verdict = await kvmTrial({
      baseDisks: base.disks,
      keyFile: base.login.keyFile,
      workDir: join(dir, 'kvm-trial'),
      verdictFile: join(defaultCacheDir(), 'lab', 'kvm-trial.json'),
    });
    accel = verdict.kvm ? 'kvm' : 'tcg';
    progress(`KVM ${verdict.kvm ? 'works' : 'does not work'} here (${verdict.reason}): the lab uses ${accel === 'kvm' ? 'KVM' : 'software emulation (TCG)'}`);
  }
  const lab = await labUp({
    dir,
    servers: count,
    bootUrl,
    prepareDisks,
    get osLogin() {
      return osLogin;
    },
    // Registered before they first boot, as servers are racked and recorded before power-on.
    powerOn: false,
    accel,
    memoryMiB,
    onProgress: progress,
    ...(signal ? { signal } : {}),
  });
  try {
    if (values.register) {
      await registerLab(lab, { url: controlPlaneUrl, token: token ?? '', tenant: values.tenant, bmc: values.bmc, profiles: values.profile.length > 0 ? values.profile : windows ? ['linux', 'windows'] : [], onProgress: progress });
    }
    if (!values.off) await labPowerOn(lab, progress, signal);
  } catch (error) {
    await labDown(dir);
    throw error;
  }
  printStatus(dir);
  console.log(`lab in ${lab.dir}; iPXE boot file ${lab.bootUrl}; ${lab.accel === 'kvm' ? 'KVM' : 'software emulation (TCG)'}`);
  return 0;
}

function status(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false } } });
  const dir = labDir();
  if (values.json) {
    console.log(JSON.stringify(labStatus(dir), null, 2));
    return 0;
  }
  if (!readLab(dir)) {
    console.log(`no lab in ${dir}; start one with: lifeboat lab up`);
    return 0;
  }
  printStatus(dir);
  return 0;
}

function printStatus(dir: string): void {
  const rows = labStatus(dir).servers.map((s) => [
    s.name, s.state, s.mac, s.layout + (s.scenarios.length ? `+${s.scenarios.join('+')}` : ''),
    `ssh 127.0.0.1:${s.ssh.port}`, `ipmi 127.0.0.1:${s.ipmi.port}`, s.redfish.url, `console ${s.console.url}`, `boot ${s.bootDevice}`, s.accel,
  ]);
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => r[i]!.length))) ?? [];
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  console.log('credentials and key files: lifeboat lab status --json');
}

function serverStatus(name: string | undefined) {
  if (!name) throw new LabError('LAB_USAGE', 'which server? e.g. lab-1');
  const dir = labDir();
  if (!readLab(dir)) throw new LabError('LAB_NOT_RUNNING', `no lab in ${dir}; start one with: lifeboat lab up`);
  const server = labStatus(dir).servers.find((s) => s.name === name);
  if (!server) throw new LabError('SERVER_NOT_FOUND', `no server ${name} in the lab`);
  return { dir, server };
}

/**
 * Attaches the terminal to a server's serial port (its port on the lab's serial fan-out, shared with
 * the BMC's SOL and the control plane) until Ctrl-] is typed.
 */
async function serialConsole(argv: string[]): Promise<number> {
  const { server } = serverStatus(argv[0]);
  const socket = connect(server.console.port, server.console.host);
  await new Promise<void>((resolveConnected, reject) => {
    socket.once('connect', resolveConnected);
    socket.once('error', (error) => reject(new LabError('LAB_NOT_RUNNING', `${server.name}'s serial console does not answer (${error.message}); is the lab up?`)));
  });
  console.error(`connected to ${server.name}'s serial console; Ctrl-] leaves`);
  const stdin = process.stdin;
  if (stdin.isTTY) stdin.setRawMode(true);
  return await new Promise<number>((done) => {
    const finish = () => {
      if (stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
      socket.destroy();
      done(0);
    };
    stdin.on('data', (chunk: Buffer) => {
      if (chunk.includes(0x1d)) return finish();
      socket.write(chunk);
    });
    socket.on('data', (chunk) => process.stdout.write(chunk));
    socket.on('close', finish);
    socket.on('error', finish);
    process.stdout.on('error', finish);
    stdin.resume();
  });
}

/** Runs ssh as root to a server's installed system with the lab key (host keys are not pinned: lab VMs). */
async function ssh(argv: string[]): Promise<number> {
  const { server } = serverStatus(argv[0]);
  if (!server.osLogin) throw new LabError('LAB_USAGE', `${server.name} has no lab login (custom or blank disks)`);
  const args = ['-i', server.osLogin.keyFile, '-p', String(server.ssh.port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'LogLevel=ERROR', `${server.osLogin.user}@${server.ssh.host}`, ...argv.slice(1)];
  return await new Promise<number>((done) => {
    const child = spawn('ssh', args, { stdio: 'inherit' });
    child.on('error', () => done(1));
    child.on('close', (code) => done(code ?? 1));
  });
}

async function down(): Promise<number> {
  const dir = labDir();
  const known = readLab(dir) !== undefined;
  // Without lab.json too: a lab up stopped before writing it may have left processes.
  const left = await labDown(dir);
  if (left.length > 0) {
    console.error(`still running: ${left.join(', ')}`);
    return 1;
  }
  console.log(known ? `lab in ${dir} stopped; no process left` : `no lab in ${dir}`);
  return 0;
}
