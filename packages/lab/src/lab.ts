import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LabError } from './errors.js';
import { startBmc, stopBmc } from './ipmi/bmc.js';
import { bmcFiles } from './ipmi/lan-conf.js';
import { labFiles, readBmcPassword, readLab, serverDir, writeLab } from './lab-state.js';
import type { LabRecord, LabServerRecord } from './lab-state.js';
import { freeTcpPort, freeUdpPort } from './processes/free-port.js';
import { isProcessAlive, livePid, processesNaming, signal, stopProcess, waitUntil } from './processes/processes.js';
import { serconPortBytes, startScript, vmFiles } from './vm/qemu-command.js';
import type { VmSpec } from './vm/qemu-command.js';
import { ServerVm } from './vm/server-vm.js';

const here = dirname(fileURLToPath(import.meta.url));
const redfishMain = join(here, 'redfish', 'main.ts');
const REDFISH_MARKER = 'redfish/main.ts';
const serialMain = join(here, 'serial', 'main.ts');
const SERIAL_MARKER = 'serial/main.ts';
/** The programs a lab runs; a process of one of them whose command line names the lab's directory is the lab's. */
const LAB_PROGRAMS = ['qemu-system', 'ipmi_sim', 'chassis-control.sh', REDFISH_MARKER, SERIAL_MARKER] as const;

/** The processes of the lab in `dir` still alive (QEMU, ipmi_sim, chassis control, Redfish), by /proc. */
export function labProcesses(dir: string): { pid: number; argv: readonly string[] }[] {
  return processesNaming(dir, LAB_PROGRAMS);
}

function throwIfStopped(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new LabError('LAB_STOPPED', 'lab up was stopped before the lab was complete');
}

/** The disks one server of a lab gets, prepared before `lab up` starts anything. */
export interface ServerDisks {
  /** Layout name shown in `lab status` (`custom` for `--disk` files, `blank` for an empty disk). */
  readonly layout: string;
  readonly scenarios: readonly string[];
  readonly disks: VmSpec['disks'];
  /** Disks attached as NVMe (the data disk), not booted from. */
  readonly nvmeDisks?: VmSpec['disks'];
}

/** What `lab up` builds. */
export interface LabUpOptions {
  /** Lab directory (absolute). */
  readonly dir: string;
  /** Number of servers. */
  readonly servers: number;
  /** iPXE boot file URL, as the guests see the host (10.0.2.2). */
  readonly bootUrl: string;
  /** Prepares the disks of server `index` (0-based) inside `serverDir`. */
  readonly prepareDisks: (index: number, serverDir: string) => Promise<ServerDisks>;
  /** How to log in to the installed systems, when the disks are the lab's own. */
  readonly osLogin: LabRecord['osLogin'];
  /** Power the servers on once their BMCs run (default true). */
  readonly powerOn?: boolean;
  /** Guest RAM in MiB (default 1024). */
  readonly memoryMiB?: number;
  /** `tcg` (default) or `kvm`, once a trial boot proved it works (see `vm/kvm-trial.ts`). */
  readonly accel?: 'tcg' | 'kvm';
  /** Progress lines for the user. */
  readonly onProgress?: (line: string) => void;
  /**
   * Stops `lab up` half-way: no process is started once it is aborted, and what was started is
   * stopped (`lab down`) before labUp rejects with `LAB_STOPPED`.
   */
  readonly signal?: AbortSignal;
}

/** MAC of the `index`-th lab server (0-based): QEMU's locally administered prefix, fixed per index. */
export function labMac(index: number): string {
  return `52:54:00:1b:${((index >> 8) & 0xff).toString(16).padStart(2, '0')}:${(index & 0xff).toString(16).padStart(2, '0')}`;
}

/** Whether any process of the lab in `dir` is alive. */
export function labRunning(dir: string): boolean {
  const lab = readLab(dir);
  if (!lab) return false;
  if (livePid(labFiles(dir).redfishPidfile, REDFISH_MARKER) !== undefined) return true;
  if (livePid(labFiles(dir).serialPidfile, SERIAL_MARKER) !== undefined) return true;
  return lab.servers.some((s) => {
    const sdir = serverDir(dir, s.name);
    return livePid(vmFiles(sdir).pidfile, 'qemu-system') !== undefined || livePid(bmcFiles(sdir).pidfile, 'ipmi_sim') !== undefined;
  });
}

/** Builds and starts a lab: per server a VM, an IPMI BMC; one Redfish service for all. */
export async function labUp(options: LabUpOptions): Promise<LabRecord> {
  const { dir } = options;
  if (labRunning(dir)) throw new LabError('LAB_ALREADY_RUNNING', `a lab is running in ${dir}; run lifeboat lab down first`);
  const files = labFiles(dir);
  // A unix socket path holds at most 107 bytes; QEMU's own error for a longer one is obscure.
  const longest = Buffer.byteLength(vmFiles(serverDir(dir, `lab-${options.servers}`)).serialSocket);
  if (longest > 107) throw new LabError('LAB_USAGE', `the lab directory ${dir} is too deep for unix sockets; set LIFEBOAT_LAB to a shorter path`);
  rmSync(files.record, { force: true });
  rmSync(files.serversDir, { recursive: true, force: true });
  mkdirSync(files.serversDir, { recursive: true });
  writeFileSync(files.bmcPassword, `${randomBytes(12).toString('base64url')}\n`, { mode: 0o600 });

  const servers: LabServerRecord[] = [];
  for (let i = 0; i < options.servers; i++) {
    const name = `lab-${i + 1}`;
    const sdir = serverDir(dir, name);
    mkdirSync(sdir, { recursive: true });
    throwIfStopped(options.signal);
    const disks = await options.prepareDisks(i, sdir);
    servers.push({
      name,
      mac: labMac(i + 1),
      uuid: randomUUID(),
      layout: disks.layout,
      scenarios: [...disks.scenarios],
      sshPort: await freeTcpPort(),
      ipmiPort: await freeUdpPort(),
      consolePort: await freeTcpPort(),
      disks: disks.disks,
      ...(disks.nvmeDisks && disks.nvmeDisks.length > 0 ? { nvmeDisks: disks.nvmeDisks } : {}),
    });
  }
  const lab: LabRecord = {
    dir,
    bootUrl: options.bootUrl,
    accel: options.accel ?? 'tcg',
    memoryMiB: options.memoryMiB ?? 1024,
    bmc: { user: 'lab', passwordFile: files.bmcPassword },
    osLogin: options.osLogin,
    redfishPort: await freeTcpPort(),
    createdAt: new Date().toISOString(),
    servers,
  };
  writeLab(lab);
  const password = readBmcPassword(lab);
  try {
    // The serial ports first: each BMC's SOL connects to its server's port when ipmi_sim starts.
    throwIfStopped(options.signal);
    await startSerialFanout(lab);
    for (const s of servers) {
      const sdir = serverDir(dir, s.name);
      const spec: VmSpec = { name: s.name, serverDir: sdir, mac: s.mac, uuid: s.uuid, sshPort: s.sshPort, bootUrl: lab.bootUrl, disks: s.disks, ...(s.nvmeDisks ? { nvmeDisks: s.nvmeDisks } : {}), memoryMiB: lab.memoryMiB, accel: lab.accel };
      writeFileSync(vmFiles(sdir).startScript, startScript(spec), { mode: 0o755 });
      writeFileSync(vmFiles(sdir).bootDevice, 'network\n');
      writeFileSync(vmFiles(sdir).serconPort, serconPortBytes);
      throwIfStopped(options.signal);
      await startBmc(sdir, { name: s.name, port: s.ipmiPort, user: lab.bmc.user, password, guid: s.uuid.replaceAll('-', ''), solPort: s.consolePort }, s.disks.length);
      options.onProgress?.(`${s.name}: IPMI BMC on 127.0.0.1:${s.ipmiPort} (udp, Serial-over-LAN included); serial console on tcp://127.0.0.1:${s.consolePort}`);
    }
    throwIfStopped(options.signal);
    await startRedfish(lab);
    options.onProgress?.(`Redfish service on http://127.0.0.1:${lab.redfishPort}/redfish/v1`);
    if (options.powerOn ?? true) await labPowerOn(lab, options.onProgress, options.signal);
  } catch (error) {
    await labDown(dir);
    throw error;
  }
  return lab;
}

/** Powers on every server of the lab that is off; once `signal` is aborted, none more (`LAB_STOPPED`). */
export async function labPowerOn(lab: LabRecord, onProgress?: (line: string) => void, signal?: AbortSignal): Promise<void> {
  for (const s of lab.servers) {
    const vm = new ServerVm(serverDir(lab.dir, s.name), s.disks.length);
    if (vm.powerState() === 'on') continue;
    throwIfStopped(signal);
    await vm.powerOn();
    onProgress?.(`${s.name}: powered on (SSH on 127.0.0.1:${s.sshPort} once booted)`);
  }
}

/** A long-lived Node.js process of the lab (`node --import tsx MAIN LAB_DIR`), in its own session. */
interface LabService {
  readonly what: string;
  readonly main: string;
  readonly marker: string;
  readonly pidfile: string;
  readonly log: string;
  /** Whether it serves yet. */
  readonly ready: () => Promise<boolean>;
}

async function startService(lab: LabRecord, service: LabService): Promise<void> {
  const log = openSync(service.log, 'a');
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), service.main, lab.dir], {
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  child.unref();
  if (child.pid === undefined) throw new LabError('LAB_START_FAILED', `the ${service.what} did not start; see ${service.log}`);
  writeFileSync(service.pidfile, `${child.pid}\n`);
  const gone = () => livePid(service.pidfile, service.marker) === undefined;
  const answered = await waitUntil(async () => gone() || (await service.ready()), 30_000, 200);
  if (!answered || gone()) throw new LabError('LAB_START_FAILED', `the ${service.what} did not answer; see ${service.log}`);
}

async function startRedfish(lab: LabRecord): Promise<void> {
  const files = labFiles(lab.dir);
  await startService(lab, {
    what: 'Redfish service',
    main: redfishMain,
    marker: REDFISH_MARKER,
    pidfile: files.redfishPidfile,
    log: files.redfishLog,
    ready: async () => {
      try {
        return (await fetch(`http://127.0.0.1:${lab.redfishPort}/redfish/v1`)).ok;
      } catch {
        return false;
      }
    },
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function tcpAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts the serial fan-out (`serial/main.ts`): every server's console port, before any BMC. */
async function startSerialFanout(lab: LabRecord): Promise<void> {
  const files = labFiles(lab.dir);
  await startService(lab, {
    what: 'serial console fan-out',
    main: serialMain,
    marker: SERIAL_MARKER,
    pidfile: files.serialPidfile,
    log: files.serialLog,
    ready: async () => {
      for (const s of lab.servers) if (!(await tcpAnswers(s.consolePort))) return false;
      return true;
    },
  });
}

/**
 * Stops every process of the lab in `dir` by its pidfile: VMs (QMP `quit`, then signals), BMCs, the
 * Redfish service; then any process of the lab that no pidfile named (a QEMU that a power-on in flight
 * started after its pidfile was read, a lab whose `lab.json` was not written yet). Resolves with the
 * processes still alive afterwards (none, normally).
 */
export async function labDown(dir: string): Promise<string[]> {
  const left: string[] = [];
  // A KVM trial interrupted before it could stop its VM.
  if (!(await stopProcess(join(dir, 'kvm-trial', 'qemu.pid'), 'qemu-system'))) left.push('kvm-trial qemu');
  const lab = readLab(dir);
  if (lab) {
    const files = labFiles(dir);
    // The BMCs first, so nothing powers a VM on again while it is being stopped.
    if (!(await stopProcess(files.redfishPidfile, REDFISH_MARKER, { group: true }))) left.push('redfish');
    for (const s of lab.servers) {
      const sdir = serverDir(dir, s.name);
      if (!(await stopBmc(sdir))) left.push(`${s.name} ipmi_sim`);
      await new ServerVm(sdir, s.disks.length).forceOff().catch(() => undefined);
      if (!(await stopProcess(vmFiles(sdir).pidfile, 'qemu-system'))) left.push(`${s.name} qemu`);
    }
    if (!(await stopProcess(files.serialPidfile, SERIAL_MARKER, { group: true }))) left.push('serial fan-out');
  }
  const strays = labProcesses(dir);
  for (const p of strays) signal(p.pid, 'SIGTERM');
  const gone = (): boolean => strays.every((p) => !isProcessAlive(p.pid, ''));
  if (!(await waitUntil(gone, 5_000))) {
    for (const p of strays) signal(p.pid, 'SIGKILL');
    await waitUntil(gone, 5_000);
  }
  for (const p of strays) if (isProcessAlive(p.pid, '')) left.push(`pid ${p.pid} (${p.argv[0] ?? '?'})`);
  return left;
}

/** What `lab status --json` prints for one server. */
export interface LabServerStatus {
  name: string;
  mac: string;
  state: 'on' | 'off';
  layout: string;
  scenarios: string[];
  ssh: { host: string; port: number };
  osLogin: { user: string; keyFile: string } | null;
  ipmi: { host: string; port: number; user: string; password: string };
  /** Its serial console as a raw TCP stream (what `--console tcp://HOST:PORT` registers). */
  console: { host: string; port: number; url: string };
  redfish: { url: string; user: string; password: string };
  serialLog: string;
  accel: 'tcg' | 'kvm';
  bootDevice: 'network' | 'disk';
}

/** The status of every server of the lab in `dir` (lab-only credentials included). */
export function labStatus(dir: string): { servers: LabServerStatus[] } {
  const lab = readLab(dir);
  if (!lab) return { servers: [] };
  const password = existsSync(lab.bmc.passwordFile) ? readBmcPassword(lab) : '';
  return {
    servers: lab.servers.map((s) => {
      const sdir = serverDir(dir, s.name);
      const vm = new ServerVm(sdir, s.disks.length);
      return {
        name: s.name,
        mac: s.mac,
        state: vm.powerState(),
        layout: s.layout,
        scenarios: [...s.scenarios],
        ssh: { host: '127.0.0.1', port: s.sshPort },
        osLogin: lab.osLogin,
        ipmi: { host: '127.0.0.1', port: s.ipmiPort, user: lab.bmc.user, password },
        console: { host: '127.0.0.1', port: s.consolePort, url: `tcp://127.0.0.1:${s.consolePort}` },
        redfish: { url: `http://127.0.0.1:${lab.redfishPort}/redfish/v1/Systems/${s.name}`, user: lab.bmc.user, password },
        serialLog: vmFiles(sdir).serialLog,
        accel: lab.accel,
        bootDevice: vm.bootDevice(),
      };
    }),
  };
}
