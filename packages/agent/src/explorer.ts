/**
 * The partition explorer's agent side (issue 11): list a directory, read a range of a file, upload a
 * file or a directory (tar) to the control plane, read the installed system's journal, on a partition
 * mounted read-only in a private mount point, `/run/lifeboat/explore/<device>` (never under /mnt,
 * which is the customer's), with the file system's "do not replay the journal" option so that looking
 * at a dirty file system does not write to it.
 *
 * A device the customer already mounted (by SSH) is browsed through a read-only bind of that mount:
 * refusing would make the explorer useless exactly when someone works on the server, and a second
 * mount of a mounted ext4 would share its superblock anyway. The bind is read-only; what the customer
 * writes meanwhile shows up in it.
 *
 * Mounts are reused across calls, unmounted after {@link ExplorerOptions.idleMs} without use and,
 * on `leave_rescue`, by `releaseInstalledSystem` (it unmounts every mount of a server disk).
 */
import { LifeboatError } from '@lifeboat/core/errors';
import type { FileEntry, FileListingResult, FileRangeResult, FilesReadWorkParams, FilesWorkParams, JournalResult, JournalWorkParams } from '@lifeboat/core/api';
import { maxListingEntries, uploadSizeHeader, uploadTypeHeader } from '@lifeboat/core/api';
import { resolveInside, type PathInspector, type PathKind } from './explorer-paths.js';
import { parseMountInfo } from './leave-rescue.js';
import { Stop, dyingWithAgent, type Platform } from './platform.js';

/** Where the explorer's mounts and holds live. */
export interface ExplorerOptions {
  /** `/` in the rescue image; a temporary directory in tests. */
  readonly rootDir: string;
  /** Unmount after this long without a call (default 10 min). */
  readonly idleMs?: number;
  /** `/dev` (tests: a directory of image files). */
  readonly devDir?: string;
  /** The mountinfo file (`/proc/self/mountinfo`). */
  readonly mountInfo?: string;
}

/** Mount options per file system type: never replay a journal (that would write to the disk). */
export const noReplayOptions: Readonly<Record<string, string>> = {
  ext2: '',
  ext3: 'noload',
  ext4: 'noload',
  xfs: 'norecovery',
  btrfs: 'rescue=nologreplay',
  vfat: '',
  exfat: '',
  ntfs: '',
  ntfs3: '',
  iso9660: '',
  f2fs: 'norecovery',
};

/** Signatures that are not a file system one can browse. */
const notBrowsable: Readonly<Record<string, string>> = {
  swap: 'swap space',
  linux_raid_member: 'a member of a software RAID array (browse the md device)',
  LVM2_member: 'an LVM physical volume (browse a logical volume, vg/lv)',
  crypto_LUKS: 'encrypted (LUKS): open it over SSH first (cryptsetup open), then browse the mapper device',
  zfs_member: 'a ZFS pool member (ZFS is not supported by the explorer)',
};

/** The mount point's name of a device: `vg0/root` → `vg0_root` (`_` is not allowed in device names). */
export function mountName(device: string): string {
  return device.replace(/\//g, '_');
}

/** Looks at paths with the rescue system's shell (no lstat in the platform): one process per path. */
export function shellInspector(platform: Platform): PathInspector {
  return async (path) => {
    const script = 'if [ -L "$1" ]; then printf L; readlink -- "$1"; elif [ -d "$1" ]; then printf D; elif [ -e "$1" ]; then printf E; else printf M; fi';
    const { stdout } = await platform.run('sh', ['-c', script, 'sh', path]);
    const tag = stdout.charAt(0);
    if (tag === 'L') return { kind: 'symlink', target: stdout.slice(1).replace(/\n$/, '') } satisfies PathKind;
    if (tag === 'D') return { kind: 'directory' };
    if (tag === 'E') return { kind: 'other' };
    return { kind: 'missing' };
  };
}

/** Refuses a device while a file system check holds it (`/run/lifeboat/holds/<device>.json`, written by the fsck runner). */
async function checkHold(platform: Platform, rootDir: string, device: string): Promise<void> {
  const holdPath = `${rootDir}/run/lifeboat/holds/${mountName(device)}.json`.replace(/\/{2,}/g, '/');
  if (!platform.exists(holdPath)) return;
  let hold: { holder?: unknown; testId?: unknown } = {};
  try {
    hold = JSON.parse(await platform.readText(holdPath)) as typeof hold;
  } catch {
    // being written: still a hold
  }
  const what = hold.holder === 'fsck' ? 'a file system check' : `${typeof hold.holder === 'string' ? hold.holder : 'a test'}`;
  throw new LifeboatError('DEVICE_BUSY', `${what} of ${device} is running${typeof hold.testId === 'string' ? ` (test ${hold.testId})` : ''}: browse it when it has finished`);
}

/** The explorer of one rescue system: its mounts and the four kinds of work. */
export class Explorer {
  readonly #platform: Platform;
  readonly #o: Required<ExplorerOptions>;
  readonly #inspect: PathInspector;
  readonly #lastUse = new Map<string, number>();
  /** Ends the idle timers (the agent stopping; tests). */
  readonly #idle = new Stop();

  constructor(platform: Platform, options: ExplorerOptions) {
    this.#platform = platform;
    this.#o = { idleMs: 600_000, devDir: '/dev', mountInfo: '/proc/self/mountinfo', ...options };
    this.#inspect = shellInspector(platform);
  }

  /** The private mount point of a device. */
  mountPoint(device: string): string {
    return `${this.#o.rootDir}/run/lifeboat/explore/${mountName(device)}`.replace(/\/{2,}/g, '/');
  }

  /**
   * Mounts a device read-only (or finds it mounted) and returns its mount point. `DEVICE_BUSY` while
   * a file system check holds it, `DEVICE_NOT_FOUND` for a missing device or one with no browsable
   * file system.
   */
  async mount(device: string, stop?: Stop): Promise<string> {
    if (!/^[A-Za-z0-9][A-Za-z0-9.+-]*(\/[A-Za-z0-9][A-Za-z0-9.+-]*)?$/.test(device)) throw new LifeboatError('DEVICE_NOT_FOUND', `not a device name: ${device}`);
    const point = this.mountPoint(device);
    const source = `${this.#o.devDir}/${device}`;
    const mounts = parseMountInfo(await this.#platform.readText(this.#o.mountInfo));
    if (mounts.some((m) => m.mountPoint === point)) {
      this.#touch(device);
      return point;
    }
    await checkHold(this.#platform, this.#o.rootDir, device);
    if (!this.#platform.exists(source)) throw new LifeboatError('DEVICE_NOT_FOUND', `the rescue system has no device ${device}`);
    const canonical = await this.#canonical(source);
    const theirs = mounts.find((m) => m.source === source || m.source === canonical);
    let mountArgs: string[][];
    if (theirs) {
      mountArgs = [['--bind', theirs.mountPoint, point], ['-o', 'remount,bind,ro,nosuid,nodev,noexec', point]];
    } else {
      const fsType = (await this.#platform.run('blkid', ['-o', 'value', '-s', 'TYPE', source], stop ? { stop } : {})).stdout.trim();
      if (fsType === '') throw new LifeboatError('DEVICE_NOT_FOUND', `${device} holds no file system the rescue system recognises (a whole disk with partitions? browse a partition, e.g. ${firstPartition(device)})`);
      const reason = notBrowsable[fsType];
      if (reason !== undefined) throw new LifeboatError('DEVICE_NOT_FOUND', `${device} is ${reason}`);
      const extra = noReplayOptions[fsType];
      const options = ['ro', 'nosuid', 'nodev', 'noexec', ...(extra ? [extra] : [])].join(',');
      mountArgs = [['-t', fsType, '-o', options, source, point]];
    }
    // The mount point exists only while something is mounted on it: a refused device leaves nothing.
    await this.#platform.mkdir(point, 0o700);
    try {
      for (const args of mountArgs) await this.#mountChecked(args, device);
    } catch (error) {
      // A bind mount whose read-only remount failed is not left writable.
      if (theirs) await this.#platform.run('umount', [point]);
      await this.#platform.run('rmdir', ['--', point]);
      throw error;
    }
    this.#touch(device);
    return point;
  }

  async #canonical(path: string): Promise<string> {
    const result = await this.#platform.run('readlink', ['-f', '--', path]);
    return result.status === 0 ? result.stdout.trim() : path;
  }

  async #mountChecked(args: string[], device: string): Promise<void> {
    const result = await this.#platform.run('mount', args);
    if (result.status === 0) return;
    const detail = result.stderr.trim().split('\n').slice(-1)[0] ?? '';
    // A file system check opened the device exclusively (O_EXCL) between the hold check and here.
    if (/busy/i.test(detail)) {
      await checkHold(this.#platform, this.#o.rootDir, device);
      throw new LifeboatError('DEVICE_BUSY', `${device} is in use by another program: ${detail}`);
    }
    throw new LifeboatError('DEVICE_NOT_FOUND', `${device} cannot be mounted read-only: ${detail}`);
  }

  /** Marks a mount used and (once per mount) starts its idle unmount. */
  #touch(device: string): void {
    const first = !this.#lastUse.has(device);
    this.#lastUse.set(device, Date.now());
    if (first) void this.#unmountWhenIdle(device).catch(() => undefined);
  }

  async #unmountWhenIdle(device: string): Promise<void> {
    while (!this.#idle.stopped) {
      const last = this.#lastUse.get(device);
      if (last === undefined) return;
      const left = last + this.#o.idleMs - Date.now();
      if (left > 0) {
        await this.#platform.sleep(left, this.#idle);
        continue;
      }
      this.#lastUse.delete(device);
      await this.unmount(device);
      return;
    }
  }

  /** Stops the idle timers; mounts stay (leave_rescue releases them). */
  close(): void {
    this.#idle.stop();
  }

  /** Unmounts a device's explorer mount, if any (busy: lazily, it goes when the last reader is done). */
  async unmount(device: string): Promise<void> {
    this.#lastUse.delete(device);
    const point = this.mountPoint(device);
    const mounts = parseMountInfo(await this.#platform.readText(this.#o.mountInfo));
    if (!mounts.some((m) => m.mountPoint === point)) return;
    const result = await this.#platform.run('umount', [point]);
    if (result.status !== 0) await this.#platform.run('umount', ['-l', point]);
  }

  /** `files_list`: a directory's entries (symlinks as symlinks, with their targets). */
  async list(params: FilesWorkParams, stop?: Stop): Promise<FileListingResult> {
    const point = await this.mount(params.device, stop);
    const path = await resolveInside(point, params.path, this.#inspect);
    const script = 'cd -- "$1" || exit 3; find . -mindepth 1 -maxdepth 1 -printf "%y %s %m %T@ %P\\0%l\\0"';
    const result = await this.#platform.run('sh', ['-c', script, 'sh', `${point}${path}`], stop ? { stop } : {});
    if (result.status === 3) throw new LifeboatError('PATH_INVALID', `${path} is not a directory: read it with files cat`);
    if (result.status !== 0) throw new LifeboatError('PATH_NOT_FOUND', `cannot list ${path}: ${result.stderr.trim()}`);
    const fields = result.stdout.split('\0');
    const entries: FileEntry[] = [];
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const head = fields[i] as string;
      const [type, size, mode, mtime] = head.split(' ', 4);
      const name = head.split(' ').slice(4).join(' ');
      entries.push({
        name,
        type: type === 'f' ? 'file' : type === 'd' ? 'directory' : type === 'l' ? 'symlink' : 'other',
        size: Number(size) || 0,
        mode: (mode ?? '0').padStart(4, '0'),
        mtime: new Date(Math.floor(Number(mtime) * 1000) || 0).toISOString(),
        target: type === 'l' ? (fields[i + 1] ?? '') : null,
      });
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const truncated = entries.length > maxListingEntries;
    return { path, entries: truncated ? entries.slice(0, maxListingEntries) : entries, truncated };
  }

  /** `files_read`: one range of a regular file, base64. */
  async read(params: FilesReadWorkParams, stop?: Stop): Promise<FileRangeResult> {
    const point = await this.mount(params.device, stop);
    const path = await resolveInside(point, params.path, this.#inspect);
    const script = '[ -f "$1" ] || exit 3; stat -c %s -- "$1" || exit 4; dd if="$1" bs=65536 iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none | base64 -w0';
    const result = await this.#platform.run('sh', ['-c', script, 'sh', `${point}${path}`, String(params.offset), String(params.length)], stop ? { stop } : {});
    if (result.status === 3) throw new LifeboatError('PATH_INVALID', `${path} is not a regular file${path === '/' ? '' : ': list it with files ls'}`);
    if (result.status !== 0) throw new LifeboatError('PATH_NOT_FOUND', `cannot read ${path}: ${result.stderr.trim()}`);
    const newline = result.stdout.indexOf('\n');
    return { path, size: Number(result.stdout.slice(0, newline)), offset: params.offset, data: result.stdout.slice(newline + 1).trim() };
  }

  /**
   * `files_download`: streams a file as it is, or a directory as tar, to the control plane with curl
   * (`tar -c | curl -T -`: nothing is staged in the rescue's RAM). The agent token goes to curl in a
   * header file readable by root only, never in its argv.
   */
  async download(params: FilesWorkParams, target: { url: string; authorization: string }, jobId: string, stop?: Stop): Promise<{ path: string; type: 'file' | 'directory' }> {
    const point = await this.mount(params.device, stop);
    const path = await resolveInside(point, params.path, this.#inspect);
    const kind = await this.#inspect(`${point}${path}`);
    const full = `${point}${path}`;
    const type = kind.kind === 'directory' ? 'directory' : 'file';
    if (type === 'file') {
      const isFile = await this.#platform.run('test', ['-f', full]);
      if (isFile.status !== 0) throw new LifeboatError('PATH_INVALID', `${path} is neither a regular file nor a directory`);
    }
    const headerDir = `${this.#o.rootDir}/run/lifeboat/uploads`.replace(/\/{2,}/g, '/');
    await this.#platform.mkdir(headerDir, 0o700);
    const headerFile = `${headerDir}/${jobId.replace(/[^A-Za-z0-9-]/g, '_')}.headers`;
    await this.#platform.writeText(headerFile, `Authorization: ${target.authorization}\n${uploadTypeHeader}: ${type}\n`, 0o600);
    try {
      // bash dies with the agent (platform.run); tar and curl are bash's children, so they are put
      // under setpriv themselves: an upload never goes on for an agent that is gone.
      const dying = (program: string): string => dyingWithAgent([program], this.#platform.setpriv).map(shellWord).join(' ');
      const curl = `${dying('curl')} -sS -f --disable -X PUT -H @"$2" -H "Content-Type: application/octet-stream" -H "Expect:"`;
      const script =
        type === 'directory'
          ? `set -o pipefail; ${dying('tar')} -c -C "$3" -- "$4" | ${curl} -T - "$1"`
          : `${curl} -H "${uploadSizeHeader}: $(stat -c %s -- "$3")" -T "$3" "$1"`;
      const [dir, member] = type === 'directory' ? (path === '/' ? [point, '.'] : [`${point}${path.slice(0, path.lastIndexOf('/')) || ''}`, path.slice(path.lastIndexOf('/') + 1)]) : [full, ''];
      const result = await this.#platform.run('bash', ['-c', script, 'bash', target.url, headerFile, dir || point, member], stop ? { stop } : {});
      if (result.status !== 0) throw new LifeboatError('PROGRAM_FAILED', `the upload of ${path} failed (status ${result.status}): ${result.stderr.trim().split('\n').slice(-2).join(' / ')}`);
      return { path, type };
    } finally {
      await this.#platform.run('rm', ['-f', '--', headerFile]);
    }
  }

  /** `journal_read`: the installed system's persistent journal, as text. */
  async journal(params: JournalWorkParams, stop?: Stop): Promise<JournalResult> {
    const point = await this.mount(params.device, stop);
    const directory = `${point}/var/log/journal`;
    const has = await this.#platform.run('sh', ['-c', 'ls -A -- "$1" 2>/dev/null | grep -q .', 'sh', directory]);
    if (has.status !== 0) {
      throw new LifeboatError('PATH_NOT_FOUND', `${params.device} has no persistent journal (/var/log/journal is missing or empty): the installed system logs to RAM only, or to /var/log files (files ls ${params.device} /var/log)`);
    }
    const args = ['--directory', directory, '-b', String(params.boot), '-n', String(params.lines), '--no-pager', '-q', ...(params.priority ? ['-p', params.priority] : [])];
    const result = await this.#platform.run('journalctl', args, stop ? { stop } : {}).catch((error: unknown) => {
      throw new LifeboatError('PROGRAM_FAILED', `journalctl cannot run in this rescue system (${error instanceof Error ? error.message : String(error)})`);
    });
    if (result.status === 127) throw new LifeboatError('PROGRAM_FAILED', 'journalctl is not in this rescue image: read the journal files with files get (/var/log/journal) and journalctl --file on your machine');
    if (result.status !== 0 && /specified boot .* is not available|No such boot ID/.test(result.stderr)) {
      throw new LifeboatError('PATH_NOT_FOUND', `the journal on ${params.device} has no boot ${params.boot} (journalctl: ${result.stderr.trim().split('\n').slice(-1)[0]})`);
    }
    if (result.status !== 0) throw new LifeboatError('PROGRAM_FAILED', `journalctl exited with status ${result.status}: ${result.stderr.trim().split('\n').slice(-2).join(' / ')}`);
    return { text: result.stdout };
  }
}

/** A word for a shell script, in single quotes. */
function shellWord(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The name of a disk's first partition: `sda1`, but `nvme0n1p1` and `mmcblk0p1` (a name ending in a digit). */
export function firstPartition(disk: string): string {
  return /\d$/.test(disk) ? `${disk}p1` : `${disk}1`;
}
