/**
 * `partitions`: partition tables, file systems, md arrays and their health, LVM, and what is mounted
 * and by whom (the SSH session, the explorer, a running check, swap).
 */
import { joinPath } from '../platform.js';
import type { Runner } from './runner.js';
import { exploreDir, holdsDir, parseMountLines, parseSwaps } from './devices.js';
import type { DeviceHoldRecord } from './devices.js';

/** One md array of /proc/mdstat. */
export interface MdArray {
  readonly name: string;
  readonly active: boolean;
  readonly level: string | null;
  readonly members: string[];
  /** `[2/1]`: devices wanted and working. */
  readonly wanted: number | null;
  readonly working: number | null;
  /** `[U_]`. */
  readonly map: string | null;
  readonly degraded: boolean;
  /** A resync/recovery line (`recovery = 12.6% ...`), if any. */
  readonly activity: string | null;
}

/** Parses /proc/mdstat. */
export function parseMdstat(text: string): MdArray[] {
  const arrays: MdArray[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const head = /^(md[\w]*)\s*:\s*(\S+)\s*(?:\((?:auto-)?read-only\)\s*)?(raid\d+|linear|multipath)?\s*(.*)$/.exec(lines[i] ?? '');
    if (!head) continue;
    const members = (head[4] ?? '').split(/\s+/).filter(Boolean).map((m) => m.replace(/\[\d+\](\([A-Z]\))?$/, ''));
    const status = lines[i + 1] ?? '';
    const counts = /\[(\d+)\/(\d+)\]\s*\[([U_]+)\]/.exec(status);
    const activity = /(resync|recovery|reshape|check)\s*=\s*[\d.]+%.*/.exec(lines[i + 2] ?? '')?.[0] ?? null;
    const wanted = counts ? Number(counts[1]) : null;
    const working = counts ? Number(counts[2]) : null;
    arrays.push({
      name: head[1] ?? '',
      active: head[2] === 'active',
      level: head[3] ?? null,
      members,
      wanted,
      working,
      map: counts?.[3] ?? null,
      degraded: wanted !== null && working !== null && working < wanted,
      activity: activity?.trim() ?? null,
    });
  }
  return arrays;
}

/** One block device of `lsblk --json`, children nested. */
export interface BlockDevice {
  readonly name: string;
  readonly type: string;
  readonly size: number;
  readonly fstype: string | null;
  readonly label: string | null;
  readonly uuid: string | null;
  readonly pttype: string | null;
  readonly mountpoints: string[];
  readonly children: BlockDevice[];
}

/** Parses `lsblk --json --bytes -o NAME,TYPE,SIZE,FSTYPE,LABEL,UUID,PARTUUID,PTTYPE,MOUNTPOINTS` (or -O). */
export function parseLsblkTree(text: string): BlockDevice[] {
  const convert = (v: unknown): BlockDevice => {
    const o = v as Record<string, unknown>;
    const points = Array.isArray(o.mountpoints) ? o.mountpoints : o.mountpoint !== undefined ? [o.mountpoint] : [];
    return {
      name: String(o.name),
      type: String(o.type),
      size: Number(o.size ?? 0),
      fstype: typeof o.fstype === 'string' ? o.fstype : null,
      label: typeof o.label === 'string' ? o.label : null,
      uuid: typeof o.uuid === 'string' ? o.uuid : null,
      pttype: typeof o.pttype === 'string' ? o.pttype : null,
      mountpoints: points.filter((p): p is string => typeof p === 'string'),
      children: Array.isArray(o.children) ? o.children.map(convert) : [],
    };
  };
  const root = JSON.parse(text) as { blockdevices?: unknown[] };
  return (root.blockdevices ?? []).map(convert).filter((d) => !/^(loop|ram|zram|sr|fd)\d/.test(d.name));
}

/** `blkid -c /dev/null -o export`: TYPE, UUID, LABEL by device path (blank lines between devices). */
export function parseBlkidExport(text: string): Map<string, Record<string, string>> {
  const found = new Map<string, Record<string, string>>();
  for (const block of text.split(/\n\s*\n/)) {
    const fields: Record<string, string> = {};
    for (const line of block.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) fields[line.slice(0, eq)] = line.slice(eq + 1);
    }
    if (fields.DEVNAME) found.set(fields.DEVNAME, fields);
  }
  return found;
}

/**
 * Fills what lsblk could not know: without udev (the rescue system has none) it shows no file system
 * types, labels or UUIDs; blkid probes the devices themselves.
 */
export function withBlkid(devices: BlockDevice[], probed: Map<string, Record<string, string>>): BlockDevice[] {
  return devices.map((d) => {
    const p = probed.get(`/dev/${d.name}`) ?? {};
    return { ...d, fstype: d.fstype ?? p.TYPE ?? null, label: d.label ?? p.LABEL ?? null, uuid: d.uuid ?? p.UUID ?? null, pttype: d.pttype ?? p.PTTYPE ?? null, children: withBlkid(d.children, probed) };
  });
}

/** Logical volumes of `lvs --reportformat json`. */
export function parseLvs(text: string): Array<{ vg: string; lv: string; attr: string; size: string }> {
  try {
    const root = JSON.parse(text) as { report?: Array<{ lv?: Array<Record<string, string>> }> };
    return (root.report ?? []).flatMap((r) => r.lv ?? []).map((l) => ({ vg: l.vg_name ?? '', lv: l.lv_name ?? '', attr: l.lv_attr ?? '', size: l.lv_size ?? '' }));
  } catch {
    return [];
  }
}

const lvmConfig = 'devices{obtain_device_list_from_udev=0} activation{udev_sync=0 udev_rules=0}';

/** `partitions`. Passed unless an md array is degraded. */
export const partitionsRunner: Runner = async (context) => {
  const { platform, rootDir } = context;
  const read = async (p: string): Promise<string> => platform.readText(joinPath(rootDir, p)).catch(() => '');
  const listed = await context.run('lsblk', ['--json', '--bytes', '-o', 'NAME,TYPE,SIZE,FSTYPE,LABEL,UUID,PARTUUID,PTTYPE,MOUNTPOINTS']);
  const probed = parseBlkidExport((await context.run('blkid', ['-c', '/dev/null', '-o', 'export'])).stdout);
  const devices = withBlkid(listed.status === 0 ? parseLsblkTree(listed.stdout) : [], probed);
  context.progress(30, 'block devices listed');
  const arrays = parseMdstat(await read('proc/mdstat'));
  const arrayDetails: Record<string, string> = {};
  for (const array of arrays) arrayDetails[array.name] = (await context.run('mdadm', ['--detail', `/dev/${array.name}`])).stdout;
  context.progress(60, 'RAID arrays read');
  const lvs = parseLvs((await context.run('lvs', ['--config', lvmConfig, '--reportformat', 'json', '-o', 'vg_name,lv_name,lv_attr,lv_size'])).stdout);
  const mounts = parseMountLines(await read('proc/self/mountinfo'))
    .filter((m) => m.source.startsWith('/dev/') && !/^\/dev\/(loop|ram|zram)/.test(m.source))
    .map((m) => ({ source: m.source, mountPoint: m.mountPoint, by: m.mountPoint.startsWith(exploreDir) ? 'explorer' : 'ssh' }));
  const holds: Array<DeviceHoldRecord & { device: string }> = [];
  for (const file of await platform.readdir(joinPath(rootDir, holdsDir)).catch(() => [] as string[])) {
    try {
      holds.push({ ...(JSON.parse(await read(joinPath(holdsDir, file))) as DeviceHoldRecord), device: file.replace(/\.json$/, '') });
    } catch {
      // being written or removed
    }
  }
  const swaps = parseSwaps(await read('proc/swaps'));
  const degraded = arrays.filter((a) => a.degraded);
  const parts = devices.reduce((n, d) => n + d.children.length, 0);
  const summary = [
    `${devices.length} disk(s), ${parts} partition(s)`,
    arrays.length > 0 ? `${arrays.length} RAID array(s)${degraded.length > 0 ? `, DEGRADED: ${degraded.map((a) => `${a.name} ${a.map}`).join(', ')}` : ', all healthy'}` : 'no RAID',
    lvs.length > 0 ? `${lvs.length} LVM volume(s)` : 'no LVM',
    mounts.length > 0 ? `mounted: ${mounts.map((m) => `${m.source} on ${m.mountPoint} (${m.by})`).join(', ')}` : 'nothing mounted',
    ...(holds.length > 0 ? [`checks running: ${holds.map((h) => `${h.device} (test ${h.testId})`).join(', ')}`] : []),
    ...(swaps.length > 0 ? [`swap: ${swaps.join(', ')}`] : []),
  ].join('; ');
  return { status: degraded.length > 0 ? 'failed' : 'passed', summary, result: { devices, arrays, arrayDetails, lvm: lvs, mounts, holds, swaps } };
};
