/**
 * What the rescue system sees of the server: CPUs, memory, disks (`lsblk`), NICs and DMI data.
 */
import { joinPath } from './platform.js';
import type { Platform } from './platform.js';

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
  /** `/proc` (CPUs from `stat`, memory from `meminfo`). */
  readonly procDir?: string;
  /** The `lsblk` program. */
  readonly lsblk?: string;
}

/** Collects the inventory. A source that fails yields an empty part, never an exception. */
export async function collectInventory(platform: Platform, sources: InventorySources = {}): Promise<Inventory> {
  const sysDir = sources.sysDir ?? '/sys';
  const procDir = sources.procDir ?? '/proc';
  const read = (path: string): Promise<string | null> => readTrimmed(platform, path);
  return {
    cpus: countCpus((await read(joinPath(procDir, 'stat'))) ?? ''),
    memoryBytes: memTotal((await read(joinPath(procDir, 'meminfo'))) ?? ''),
    disks: await listDisks(platform, sources.lsblk ?? 'lsblk'),
    nics: await listNics(platform, joinPath(sysDir, 'class/net')),
    dmi: {
      vendor: await read(joinPath(sysDir, 'class/dmi/id/sys_vendor')),
      product: await read(joinPath(sysDir, 'class/dmi/id/product_name')),
      serial: await read(joinPath(sysDir, 'class/dmi/id/product_serial')),
    },
  };
}

/** Online CPUs: the `cpuN` lines of /proc/stat (what Node's `os.cpus()` counts too). */
export function countCpus(procStat: string): number {
  return procStat.split('\n').filter((line) => /^cpu\d+\s/.test(line)).length;
}

/** `MemTotal` of /proc/meminfo in bytes (what Node's `os.totalmem()` reports too). */
export function memTotal(meminfo: string): number {
  const match = /^MemTotal:\s+(\d+)\s+kB/m.exec(meminfo);
  return match ? Number(match[1]) * 1024 : 0;
}

async function listDisks(platform: Platform, lsblk: string): Promise<unknown[]> {
  try {
    const { status, stdout } = await platform.run(lsblk, ['--json', '--bytes', '--output-all']);
    const parsed: unknown = status === 0 ? JSON.parse(stdout) : undefined;
    if (typeof parsed === 'object' && parsed !== null && 'blockdevices' in parsed && Array.isArray(parsed.blockdevices)) {
      return parsed.blockdevices as unknown[];
    }
  } catch {
    // lsblk missing or failing: the inventory says "no disks seen" rather than failing the boot.
  }
  return [];
}

/** Addresses per interface, from iproute2's JSON (`ip -json addr`); empty when ip fails. */
async function interfaceAddresses(platform: Platform): Promise<Map<string, string[]>> {
  const byName = new Map<string, string[]>();
  try {
    const { status, stdout } = await platform.run('ip', ['-json', 'addr', 'show']);
    const parsed: unknown = status === 0 ? JSON.parse(stdout) : [];
    for (const link of Array.isArray(parsed) ? (parsed as Array<{ ifname?: unknown; addr_info?: unknown }>) : []) {
      if (typeof link.ifname !== 'string' || !Array.isArray(link.addr_info)) continue;
      byName.set(
        link.ifname,
        (link.addr_info as Array<{ local?: unknown; prefixlen?: unknown }>)
          .filter((a) => typeof a.local === 'string')
          .map((a) => `${String(a.local)}/${String(a.prefixlen ?? '')}`),
      );
    }
  } catch {
    // no iproute2: NICs are listed without addresses
  }
  return byName;
}

async function listNics(platform: Platform, netDir: string): Promise<NicReport[]> {
  let names: string[];
  try {
    names = (await platform.readdir(netDir)).filter((n) => n !== 'lo').sort();
  } catch {
    return [];
  }
  const addresses = await interfaceAddresses(platform);
  const nics: NicReport[] = [];
  for (const name of names) {
    nics.push({
      name,
      mac: (await readTrimmed(platform, joinPath(netDir, name, 'address'))) ?? '',
      addresses: addresses.get(name) ?? [],
    });
  }
  return nics;
}

async function readTrimmed(platform: Platform, path: string): Promise<string | null> {
  try {
    const text = (await platform.readText(path)).trim();
    return text.length > 0 ? text : null;
  } catch {
    return null;
  }
}
