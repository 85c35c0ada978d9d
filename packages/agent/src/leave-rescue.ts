/**
 * Leaving rescue cleanly (the `leave_rescue` work of `rescue exit`): write everything out, release
 * whatever of the installed system is still in use (as `rescue-umount` does, but for every mount of
 * the server's disks, not only those under /mnt), report it, and only then reboot.
 *
 * `rescue-umount` itself is not called: it only undoes what `rescue-mount` recorded (mounts under
 * /mnt, the volume groups and arrays it started), and a customer may have mounted a disk by hand
 * anywhere or assembled an array with mdadm directly.
 */
import { joinPath } from './platform.js';
import type { Platform } from './platform.js';

import { leaveRescueWork } from '@lifeboat/core/agent-work';

/** The work kind the exit job queues for the agent. */
export { leaveRescueWork };

/** What the agent reports before it reboots. */
export interface LeaveRescueReport {
  /** Mount points unmounted, in the order they were unmounted. */
  readonly unmounted: string[];
  /** True when nothing of the installed system is left mounted or active. */
  readonly clean: boolean;
  /** One line for the timeline: what was released, what stayed busy. */
  readonly detail: string;
}

/** One line of /proc/self/mountinfo, the parts used here. */
export interface MountEntry {
  readonly mountPoint: string;
  readonly fsType: string;
  readonly source: string;
}

/** The lines of a mountinfo file, in mount order (`\040`-style escapes decoded). */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 6 || fields.length < dash + 3) continue;
    entries.push({ mountPoint: unescapeMount(fields[4] ?? ''), fsType: fields[dash + 1] ?? '', source: unescapeMount(fields[dash + 2] ?? '') });
  }
  return entries;
}

function unescapeMount(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * Block devices of the server itself. Loop and RAM devices are the rescue system's own (its
 * squashfs); everything else with a `/dev/` source is a disk, a partition, an md array or a
 * device-mapper volume (LVM, LUKS) of the server.
 */
export function isServerDisk(source: string): boolean {
  return /^\/dev\//.test(source) && !/^\/dev\/(loop|ram|zram)\d/.test(source);
}

/**
 * The mounts to release, deepest and latest first: every mount of a server disk and every mount
 * below one (the /proc, /sys, /dev binds of `rescue-chroot`, a tmpfs on /mnt/run).
 */
export function mountsToRelease(entries: readonly MountEntry[]): MountEntry[] {
  const diskPoints = entries.filter((e) => isServerDisk(e.source) && e.mountPoint !== '/').map((e) => e.mountPoint);
  const below = (point: string): boolean => diskPoints.some((d) => point === d || point.startsWith(`${d}/`));
  return entries.filter((e) => below(e.mountPoint)).reverse();
}

/** Active md arrays in /proc/mdstat (`md0`, `md127`), latest first. */
export function activeArrays(mdstat: string): string[] {
  return mdstat
    .split('\n')
    .map((line) => /^(md[0-9a-z_]*)\s*:\s*active/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined)
    .reverse();
}

/** Where the installed system's state is read: `/` in the image, a test's directory otherwise. */
export interface LeaveRescueOptions {
  readonly rootDir: string;
}

/** No udev in the rescue system: LVM must neither wait for it nor ask it for devices (as rescue-common.sh). */
const lvmConfig = 'devices{obtain_device_list_from_udev=0} activation{udev_sync=0 udev_rules=0}';

/**
 * Syncs, unmounts every mount of the server's disks (deepest first; one that stays busy is remounted
 * read-only), deactivates LVM and stops md arrays. Never throws for a busy mount: the report says it.
 */
export async function releaseInstalledSystem(platform: Platform, options: LeaveRescueOptions): Promise<LeaveRescueReport> {
  const at = (p: string): string => joinPath(options.rootDir, p);
  const problems: string[] = [];
  const unmounted: string[] = [];
  const readOnly: string[] = [];
  await platform.run('sync', []);

  let mounts: MountEntry[] = [];
  try {
    mounts = mountsToRelease(parseMountInfo(await platform.readText(at('proc/self/mountinfo'))));
  } catch (error) {
    problems.push(`the mount table could not be read (${error instanceof Error ? error.message : String(error)})`);
  }
  for (const mount of mounts) {
    const result = await platform.run('umount', [mount.mountPoint]);
    if (result.status === 0) {
      unmounted.push(mount.mountPoint);
      continue;
    }
    // Busy (a shell still in it): read-only at least, so that nothing unwritten is lost at the reboot.
    const remount = await platform.run('mount', ['-o', 'remount,ro', mount.mountPoint]);
    if (remount.status === 0 && isServerDisk(mount.source)) readOnly.push(mount.mountPoint);
    else if (isServerDisk(mount.source)) problems.push(`${mount.mountPoint} stayed mounted read-write (${lastLine(result.stderr)})`);
    else problems.push(`${mount.mountPoint} stayed mounted (${lastLine(result.stderr)})`);
  }
  if (readOnly.length > 0) problems.push(`${readOnly.join(', ')} busy: remounted read-only`);

  const released: string[] = [];
  if (await lvmActive(platform, at('sys/block'))) {
    const result = await platform.run('vgchange', ['--config', lvmConfig, '-an']);
    if (result.status === 0) released.push('LVM volume groups deactivated');
    else problems.push(`LVM volume groups still active (${lastLine(result.stderr)})`);
  }
  let arrays: string[] = [];
  try {
    arrays = activeArrays(await platform.readText(at('proc/mdstat')));
  } catch {
    // no md driver loaded: no array to stop
  }
  for (const array of arrays) {
    const result = await platform.run('mdadm', ['--stop', `/dev/${array}`]);
    if (result.status === 0) released.push(`stopped ${array}`);
    else problems.push(`RAID array ${array} still running (${lastLine(result.stderr)})`);
  }
  await platform.run('sync', []);

  const done = unmounted.length > 0 ? `unmounted ${unmounted.join(', ')}` : 'nothing of the installed system was mounted';
  const detail = [done, ...released, ...problems].join('; ');
  return { unmounted, clean: problems.length === 0, detail };
}

/** Whether a device-mapper device of LVM is active (its dm uuid starts with `LVM-`). */
async function lvmActive(platform: Platform, sysBlock: string): Promise<boolean> {
  let names: string[];
  try {
    names = (await platform.readdir(sysBlock)).filter((n) => n.startsWith('dm-'));
  } catch {
    return false;
  }
  for (const name of names) {
    try {
      if ((await platform.readText(joinPath(sysBlock, name, 'dm/uuid'))).startsWith('LVM-')) return true;
    } catch {
      // gone meanwhile
    }
  }
  return false;
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? 'failed';
}
