/**
 * Devices a test names, checked, and who uses them: the exclusion rules of issue 11. A file system
 * check never runs on a device that is mounted (anywhere, also through an md array or a
 * device-mapper volume built on it) or used as swap; while it runs, the agent holds the device open
 * with `O_EXCL` (the kernel refuses every mount) and records the hold in
 * `/run/lifeboat/holds/<device>.json` so that `rescue-mount`, `rescue-fsck` and the explorer can say
 * who holds it.
 */
import { LifeboatError } from '@lifeboat/core/errors';
import { joinPath } from '../platform.js';
import type { Platform } from '../platform.js';
import type { CheckHold } from './fsck.js';
import type { TestDevice } from './runner.js';

/** One line of /proc/self/mountinfo: the parts exclusion needs. */
export interface MountLine {
  /** `MAJ:MIN` of the mounted device. */
  readonly majMin: string;
  readonly mountPoint: string;
  readonly source: string;
}

/** Parses /proc/self/mountinfo (escapes such as `\040` decoded). */
export function parseMountLines(text: string): MountLine[] {
  const lines: MountLine[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-');
    if (dash < 6) continue;
    lines.push({ majMin: f[2] ?? '', mountPoint: unescape(f[4] ?? ''), source: unescape(f[dash + 2] ?? '') });
  }
  return lines;
}

const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Devices in use as swap (`/proc/swaps`: `/dev/sda2  partition ...`). */
export function parseSwaps(text: string): string[] {
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.split(/\s+/)[0] ?? '')
    .filter((d) => d.startsWith('/'));
}

/** A hold file's content. */
export interface DeviceHoldRecord {
  readonly holder: 'fsck';
  readonly testId: string;
  readonly since: string;
}

/** Where holds are recorded, relative to the root. */
export const holdsDir = 'run/lifeboat/holds';
/** Where the explorer (issue 11, E2) mounts. */
export const exploreDir = '/run/lifeboat/explore/';

/** Who uses a device, in words a customer understands. */
export function describeMount(device: string, mountPoint: string): string {
  if (mountPoint.startsWith(exploreDir)) return `${device} is mounted by the partition explorer (${mountPoint})`;
  return `${device} is mounted on ${mountPoint} (an SSH session's mount; unmount it first, e.g. rescue-umount)`;
}

/** Resolves a device name of the API (`sda1`, `md0`, `vg0/root`) in the rescue system; DEVICE_NOT_FOUND otherwise. */
export async function resolveDevice(platform: Platform, rootDir: string, name: string): Promise<TestDevice> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*(\/[A-Za-z0-9][A-Za-z0-9._+-]*)?$/.test(name) || name.length > 64) {
    throw new LifeboatError('DEVICE_NOT_FOUND', `"${name}" is not a device name (sda, sda1, nvme0n1p2, md0, vg0/root)`);
  }
  const sys = (p: string): string => joinPath(rootDir, 'sys/class/block', p);
  let kernelName = name;
  if (name.includes('/')) {
    // An LVM volume: /dev/vg/lv links to ../dm-N.
    const link = await platform.run('readlink', ['-f', joinPath(rootDir, 'dev', name)]);
    kernelName = link.stdout.trim().split('/').at(-1) ?? '';
    if (link.status !== 0 || !kernelName.startsWith('dm-')) throw new LifeboatError('DEVICE_NOT_FOUND', `no volume /dev/${name} in the rescue system (is its volume group active?)`);
  }
  if (!platform.exists(sys(kernelName))) throw new LifeboatError('DEVICE_NOT_FOUND', `no block device ${name} in the rescue system (see lsblk)`);
  let disk = kernelName;
  if (platform.exists(sys(`${kernelName}/partition`))) {
    for (const candidate of await platform.readdir(joinPath(rootDir, 'sys/block'))) {
      if (platform.exists(joinPath(rootDir, 'sys/block', candidate, kernelName))) disk = candidate;
    }
  }
  return { name, kernelName, path: `/dev/${name.includes('/') ? name : kernelName}`, disk };
}

/** The device, its partitions and, recursively, whatever is built on them (md, dm), by kernel name. */
export async function relatedDevices(platform: Platform, rootDir: string, kernelName: string): Promise<string[]> {
  const seen: string[] = [];
  const visit = async (name: string): Promise<void> => {
    if (seen.includes(name)) return;
    seen.push(name);
    const dir = joinPath(rootDir, 'sys/class/block', name);
    let entries: string[] = [];
    try {
      entries = await platform.readdir(dir);
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.startsWith(name) && entry !== name && platform.exists(joinPath(dir, entry, 'partition'))) await visit(entry);
    }
    let holders: string[] = [];
    try {
      holders = await platform.readdir(joinPath(dir, 'holders'));
    } catch {
      // no holders directory
    }
    for (const holder of holders) await visit(holder);
  };
  await visit(kernelName);
  return seen;
}

/**
 * Who uses a device or anything built on it: mounts (the SSH session's, the explorer's), swap, a
 * running file system check (hold files), an md array or device-mapper volume holding it. Empty
 * when nobody does.
 */
export async function deviceUsers(platform: Platform, rootDir: string, device: TestDevice): Promise<string[]> {
  const at = (p: string): string => joinPath(rootDir, p);
  const related = await relatedDevices(platform, rootDir, device.kernelName);
  const users: string[] = [];
  const mounts = parseMountLines(await readOr(platform, at('proc/self/mountinfo')));
  const swaps = parseSwaps(await readOr(platform, at('proc/swaps')));
  for (const name of related) {
    const majMin = (await readOr(platform, at(`sys/class/block/${name}/dev`))).trim();
    const label = name === device.kernelName ? device.name : `${name} (on ${device.name})`;
    for (const mount of mounts) {
      if ((majMin && mount.majMin === majMin) || mount.source === `/dev/${name}`) users.push(describeMount(label, mount.mountPoint));
    }
    if (swaps.includes(`/dev/${name}`)) users.push(`${label} is in use as swap (swapoff /dev/${name} first)`);
    const hold = await readHold(platform, rootDir, name);
    if (hold) users.push(`a file system check of ${name} is running (test ${hold.testId})`);
  }
  // An array or volume built on the device holds it even unmounted.
  const holders = await readdirOr(platform, at(`sys/class/block/${device.kernelName}/holders`));
  for (const holder of holders) {
    if (!users.some((u) => u.includes(`${holder} (on`))) users.push(`${device.name} is in use by /dev/${holder} (an active RAID array or LVM volume)`);
  }
  return users;
}

/** The hold recorded for a device, or null. */
export async function readHold(platform: Platform, rootDir: string, kernelName: string): Promise<DeviceHoldRecord | null> {
  try {
    const record = JSON.parse(await platform.readText(joinPath(rootDir, holdsDir, `${kernelName}.json`))) as DeviceHoldRecord;
    return typeof record.testId === 'string' ? record : null;
  } catch {
    return null;
  }
}

/**
 * Takes a device for a file system check: refuses with DEVICE_BUSY naming who uses it, then opens it
 * with O_EXCL (which also closes the race with a mount between the check and the open) and records
 * the hold. Returns the release, which removes the record and closes the device.
 */
export async function holdForCheck(platform: Platform, rootDir: string, device: TestDevice, testId: string): Promise<CheckHold> {
  const users = await deviceUsers(platform, rootDir, device);
  if (users.length > 0) throw new LifeboatError('DEVICE_BUSY', `refused: ${users.join('; ')}`);
  let hold;
  try {
    hold = await platform.holdDevice(device.path);
  } catch (error) {
    if (error instanceof LifeboatError && error.code === 'DEVICE_BUSY') {
      // Mounted meanwhile: say by whom if it can be seen now.
      const now = await deviceUsers(platform, rootDir, device);
      throw new LifeboatError('DEVICE_BUSY', `refused: ${now.length > 0 ? now.join('; ') : `${device.name} is open exclusively by another program`}`);
    }
    throw error;
  }
  const dir = joinPath(rootDir, holdsDir);
  const file = joinPath(dir, `${device.kernelName}.json`);
  const record: DeviceHoldRecord = { holder: 'fsck', testId, since: new Date().toISOString() };
  try {
    await platform.mkdir(dir, 0o755);
    await platform.writeText(file, `${JSON.stringify(record)}\n`, 0o644);
  } catch (error) {
    hold.release();
    throw error;
  }
  return {
    async release() {
      hold.release();
      await platform.run('rm', ['-f', file]);
    },
    dropExclusiveOpen: () => hold.release(),
  };
}

async function readOr(platform: Platform, path: string): Promise<string> {
  try {
    return await platform.readText(path);
  } catch {
    return '';
  }
}

async function readdirOr(platform: Platform, path: string): Promise<string[]> {
  try {
    return await platform.readdir(path);
  } catch {
    return [];
  }
}
