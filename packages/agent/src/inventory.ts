/**
 * What the rescue system sees of the server: CPUs, memory, disks (`lsblk`), NICs and DMI data.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { cpus, networkInterfaces, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A network interface as the inventory reports it. */
export interface NicReport {
  readonly name: string;
  readonly mac: string;
  readonly addresses: string[];
}

/** The body of the agent API's `POST /inventory`. */
export interface Inventory {
  readonly cpus: number;
  readonly memoryBytes: number;
  /** `lsblk --json --bytes --output-all` `.blockdevices`, as lsblk prints them. */
  readonly disks: unknown[];
  readonly nics: NicReport[];
  readonly dmi: { vendor: string | null; product: string | null; serial: string | null };
}

/** Where the inventory reads from; the defaults are the running system's. */
export interface InventorySources {
  /** `/sys` (the NICs under `class/net`, DMI under `class/dmi/id`). */
  readonly sysDir?: string;
  /** The `lsblk` program. */
  readonly lsblk?: string;
}

/** Collects the inventory. A source that fails yields an empty part, never an exception. */
export async function collectInventory(sources: InventorySources = {}): Promise<Inventory> {
  const sysDir = sources.sysDir ?? '/sys';
  return {
    cpus: cpus().length,
    memoryBytes: totalmem(),
    disks: await listDisks(sources.lsblk ?? 'lsblk'),
    nics: await listNics(join(sysDir, 'class/net')),
    dmi: {
      vendor: await readTrimmed(join(sysDir, 'class/dmi/id/sys_vendor')),
      product: await readTrimmed(join(sysDir, 'class/dmi/id/product_name')),
      serial: await readTrimmed(join(sysDir, 'class/dmi/id/product_serial')),
    },
  };
}

async function listDisks(lsblk: string): Promise<unknown[]> {
  try {
    const { stdout } = await run(lsblk, ['--json', '--bytes', '--output-all'], { maxBuffer: 16 * 1024 * 1024 });
    const parsed: unknown = JSON.parse(stdout);
    if (typeof parsed === 'object' && parsed !== null && 'blockdevices' in parsed && Array.isArray(parsed.blockdevices)) {
      return parsed.blockdevices as unknown[];
    }
  } catch {
    // lsblk missing or failing: the inventory says "no disks seen" rather than failing the boot.
  }
  return [];
}

async function listNics(netDir: string): Promise<NicReport[]> {
  let names: string[];
  try {
    names = (await readdir(netDir)).filter((n) => n !== 'lo').sort();
  } catch {
    return [];
  }
  const addresses = networkInterfaces();
  const nics: NicReport[] = [];
  for (const name of names) {
    nics.push({
      name,
      mac: (await readTrimmed(join(netDir, name, 'address'))) ?? '',
      addresses: (addresses[name] ?? []).map((a) => `${a.address}/${prefixLength(a.cidr)}`),
    });
  }
  return nics;
}

function prefixLength(cidr: string | null): string {
  return cidr?.split('/')[1] ?? '';
}

async function readTrimmed(path: string): Promise<string | null> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    return text.length > 0 ? text : null;
  } catch {
    return null;
  }
}
