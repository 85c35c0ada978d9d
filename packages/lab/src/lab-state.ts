import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { VmSpec } from './vm/qemu-command.js';

/** One server of a running lab, as recorded in `lab.json`. */
export interface LabServerRecord {
  /** Server name (also its Redfish system Id and its name in the control plane). */
  readonly name: string;
  /** Fixed MAC of its netboot NIC. */
  readonly mac: string;
  /** Machine UUID. */
  readonly uuid: string;
  /** Disk layout (`plain`, ..., or `custom` for `--disk` files, `blank` for an empty disk). */
  readonly layout: string;
  /** Scenarios applied to its disks. */
  readonly scenarios: readonly string[];
  /** Host port on 127.0.0.1 forwarded to its SSH port. */
  readonly sshPort: number;
  /** UDP port on 127.0.0.1 of its IPMI BMC. */
  readonly ipmiPort: number;
  /**
   * TCP port on 127.0.0.1 of its serial console (the lab's serial fan-out: what ipmi_sim's SOL, a
   * `tcp://` console and `lab console` read and write).
   */
  readonly consolePort: number;
  /** Its disks, in attach order. */
  readonly disks: VmSpec['disks'];
  /** Its NVMe disks (the data disk); absent in labs made before they existed. */
  readonly nvmeDisks?: VmSpec['disks'];
}

/** A lab: what `lab up` started, in `LIFEBOAT_LAB/lab.json`. */
export interface LabRecord {
  /** The lab directory (absolute). */
  readonly dir: string;
  /** The iPXE boot file URL the servers' DHCP hands out (as the guests see it). */
  readonly bootUrl: string;
  /** `tcg` (software emulation) or `kvm`. */
  readonly accel: VmSpec['accel'];
  /** Guest RAM in MiB. */
  readonly memoryMiB: number;
  /** The BMC account of every server (IPMI and Redfish); the password is in `passwordFile` (0600). */
  readonly bmc: { readonly user: string; readonly passwordFile: string };
  /** How to log in to the installed systems (`null` when the disks are not the lab's own). */
  readonly osLogin: { readonly user: string; readonly keyFile: string } | null;
  /** TCP port on 127.0.0.1 of the Redfish service fronting every server. */
  readonly redfishPort: number;
  /** When `lab up` finished. */
  readonly createdAt: string;
  readonly servers: readonly LabServerRecord[];
}

/** The lab directory: `LIFEBOAT_LAB`, else `./lab`. */
export function labDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.LIFEBOAT_LAB || 'lab');
}

/** Where a lab keeps its files. */
export function labFiles(dir: string) {
  return {
    record: join(dir, 'lab.json'),
    bmcPassword: join(dir, 'bmc-password'),
    redfishPidfile: join(dir, 'redfish.pid'),
    redfishLog: join(dir, 'redfish.log'),
    serialPidfile: join(dir, 'serial-fanout.pid'),
    serialLog: join(dir, 'serial-fanout.log'),
    serversDir: join(dir, 'servers'),
  };
}

/** The directory of one server of the lab. */
export function serverDir(dir: string, name: string): string {
  return join(labFiles(dir).serversDir, name);
}

/** Reads `lab.json`; `undefined` when there is no lab in `dir`. */
export function readLab(dir: string): LabRecord | undefined {
  try {
    return JSON.parse(readFileSync(labFiles(dir).record, 'utf8')) as LabRecord;
  } catch {
    return undefined;
  }
}

/** Writes `lab.json` atomically. */
export function writeLab(record: LabRecord): void {
  mkdirSync(record.dir, { recursive: true });
  const file = labFiles(record.dir).record;
  writeFileSync(`${file}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

/** The lab's BMC password (lab-only). */
export function readBmcPassword(record: LabRecord): string {
  return readFileSync(record.bmc.passwordFile, 'utf8').trim();
}
