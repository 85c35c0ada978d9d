import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DiskError } from './errors.js';
import type { InstalledTree } from './installed-tree.js';
import type { LabLogin } from './lab-login.js';
import { LoopMounts } from './loop.js';
import { run } from './run.js';

/** The disk layouts a lab server can have (`lab up --layout`). */
export const layoutNames = ['plain', 'split-var', 'xfs', 'raid1', 'lvm'] as const;

/** One of {@link layoutNames}. */
export type LayoutName = (typeof layoutNames)[number];

/** Where the bytes of one file system sit in a disk image. */
export interface FileSystemPlacement {
  /** Index into {@link LayoutDisks.disks}. */
  disk: number;
  /** First byte of the file system in that image. */
  offsetBytes: number;
  /** Size of the file system in bytes. */
  sizeBytes: number;
}

/** One file system of a layout, as the installed system's fstab names it. */
export interface LayoutFileSystem {
  /** Mount point: `/`, `/var` or `/boot`. */
  mount: string;
  type: 'ext4' | 'xfs';
  /** File system UUID (fstab uses `UUID=`). */
  uuid: string;
  label: string;
  /** What holds it in the guest: `partition`, `raid1` (md, metadata 1.2 or 1.0) or `lvm`. */
  holder: 'partition' | 'raid1' | 'lvm';
  /**
   * Where its bytes are in the images. Several copies for RAID1 (identical data on each member);
   * empty when the host cannot reach it with an offset.
   */
  copies: FileSystemPlacement[];
}

/** The base disk images of a layout, built once and cached; never written after that. */
export interface LayoutDisks {
  layout: LayoutName;
  /** Raw images, in the order they are attached to the server (first one boots). */
  disks: string[];
  /** Size of each image in bytes. */
  diskSizeBytes: number;
  fileSystems: LayoutFileSystem[];
  /** Kernel version of the installed system. */
  kernelVersion: string;
  /** Kernel command line that the bootloader passes. */
  kernelCommandLine: string;
  /** How to log in to the installed system. */
  login: LabLogin;
  /** Cache directory holding the images and `layout.json`. */
  cacheDir: string;
  /** Seconds this call spent building (0 when everything came from the cache). */
  buildSeconds: number;
}

/** Every lab disk image is this large (sparse on the host). */
export const diskSizeBytes = 2 * 1024 ** 3;
const MiB = 1024 ** 2;

/** A partition of a host-built layout; the last one takes the rest of the disk. */
interface PartitionSpec {
  sizeBytes?: number;
  mount: string;
  type: 'ext4' | 'xfs';
  label: string;
}

/** The layouts whose file systems the host can make itself (loop devices with offsets). */
export const hostLayouts: Partial<Record<LayoutName, PartitionSpec[]>> = {
  plain: [{ mount: '/', type: 'ext4', label: 'lab-root' }],
  'split-var': [
    { sizeBytes: 1408 * MiB, mount: '/', type: 'ext4', label: 'lab-root' },
    { mount: '/var', type: 'ext4', label: 'lab-var' },
  ],
  xfs: [
    { sizeBytes: 256 * MiB, mount: '/boot', type: 'ext4', label: 'lab-boot' },
    { mount: '/', type: 'xfs', label: 'lab-root' },
  ],
};

/** Lines of an fstab for these file systems, root first. */
export function fstabFor(fileSystems: Pick<LayoutFileSystem, 'mount' | 'type' | 'uuid'>[]): string {
  const lines = ['# <file system> <mount point> <type> <options> <dump> <pass>'];
  const sorted = [...fileSystems].sort((a, b) => a.mount.length - b.mount.length);
  for (const fs of sorted) {
    const options = fs.mount === '/' && fs.type === 'ext4' ? 'errors=remount-ro' : 'defaults';
    const pass = fs.type === 'xfs' ? 0 : fs.mount === '/' ? 1 : 2;
    lines.push(`UUID=${fs.uuid} ${fs.mount} ${fs.type} ${options} 0 ${pass}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The kernel command line of a lab system whose root is `root` (e.g. `UUID=...`). */
export function kernelCommandLine(root: string): string {
  return `root=${root} ro console=tty0 console=ttyS0,115200`;
}

/** extlinux.conf booting the tree's kernel; `prefix` is where the kernel sits on the boot file system. */
export function extlinuxConfig(kernelVersion: string, prefix: string, commandLine: string): string {
  return [
    'DEFAULT debian',
    'PROMPT 0',
    'TIMEOUT 0',
    'LABEL debian',
    `  LINUX ${prefix}/vmlinuz-${kernelVersion}`,
    `  INITRD ${prefix}/initrd.img-${kernelVersion}`,
    `  APPEND ${commandLine}`,
    '',
  ].join('\n');
}

/** Syslinux's MBR boot code, which chains to the active partition. */
export const mbrBootCode = '/usr/lib/syslinux/mbr/mbr.bin';

/** Writes an MBR partition table; returns each partition's byte offset and size. */
export async function partitionDisk(
  image: string,
  sizesBytes: (number | undefined)[],
  bootable: number,
): Promise<{ offsetBytes: number; sizeBytes: number }[]> {
  const placements: { offsetBytes: number; sizeBytes: number }[] = [];
  let next = MiB;
  for (const size of sizesBytes) {
    const sizeBytes = size ?? diskSizeBytes - next;
    placements.push({ offsetBytes: next, sizeBytes });
    next += sizeBytes;
  }
  const script = [
    'label: dos',
    'unit: sectors',
    ...placements.map(
      (p, i) => `start=${p.offsetBytes / 512}, size=${p.sizeBytes / 512}, type=83${i === bootable ? ', bootable' : ''}`,
    ),
    '',
  ].join('\n');
  await run('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', image], { input: script });
  return placements;
}

/** Makes an empty file system of `type` on `device`. */
export async function makeFileSystem(device: string, type: 'ext4' | 'xfs', label: string, uuid: string): Promise<void> {
  if (type === 'ext4') await run('mkfs.ext4', ['-q', '-F', '-L', label, '-U', uuid, device]);
  else await run('mkfs.xfs', ['-q', '-f', '-L', label, '-m', `uuid=${uuid}`, device]);
}

/**
 * Builds a host layout into `dir`: one raw image with an MBR table, file systems made on loop
 * devices (offset + size limit), the installed tree copied in, fstab by UUID, extlinux on the
 * boot file system and syslinux's MBR code.
 */
export async function buildHostLayout(
  layout: LayoutName,
  tree: InstalledTree,
  dir: string,
): Promise<Omit<LayoutDisks, 'login' | 'cacheDir' | 'buildSeconds'>> {
  const spec = hostLayouts[layout];
  if (!spec) throw new DiskError('LAB_DISK_UNKNOWN_LAYOUT', `layout ${layout} is not built on the host`);
  const image = join(dir, 'disk0.raw');
  await run('truncate', ['-s', String(diskSizeBytes), image]);
  const bootIndex = Math.max(
    spec.findIndex((p) => p.mount === '/boot'),
    0,
  );
  const placements = await partitionDisk(
    image,
    spec.map((p) => p.sizeBytes),
    bootIndex,
  );
  const fileSystems: LayoutFileSystem[] = spec.map((p, i) => ({
    mount: p.mount,
    type: p.type,
    uuid: randomUUID(),
    label: p.label,
    holder: 'partition',
    copies: [{ disk: 0, ...placements[i]! }],
  }));
  const root = fileSystems.find((fs) => fs.mount === '/')!;
  const commandLine = kernelCommandLine(`UUID=${root.uuid}`);
  const mnt = join(dir, 'mnt');
  const loops = new LoopMounts();
  try {
    const devices: string[] = [];
    for (const fs of fileSystems) {
      const device = await loops.attach(image, fs.copies[0]!.offsetBytes, fs.copies[0]!.sizeBytes);
      await makeFileSystem(device, fs.type, fs.label, fs.uuid);
      devices.push(device);
    }
    const order = fileSystems.map((fs, i) => ({ fs, device: devices[i]! })).sort((a, b) => a.fs.mount.length - b.fs.mount.length);
    for (const { fs, device } of order) await loops.mount(device, join(mnt, fs.mount), fs.type);
    await run('cp', ['-a', `${tree.root}/.`, `${mnt}/`]);
    await writeFile(join(mnt, 'etc/fstab'), fstabFor(fileSystems));
    const separateBoot = fileSystems.some((fs) => fs.mount === '/boot');
    await mkdir(join(mnt, 'boot/extlinux'), { recursive: true });
    await writeFile(
      join(mnt, 'boot/extlinux/extlinux.conf'),
      extlinuxConfig(tree.kernelVersion, separateBoot ? '' : '/boot', commandLine),
    );
    await run('extlinux', ['--install', join(mnt, 'boot/extlinux')]);
  } finally {
    await loops.release();
  }
  await run('dd', [`if=${mbrBootCode}`, `of=${image}`, 'bs=440', 'count=1', 'conv=notrunc', 'status=none']);
  return {
    layout,
    disks: [image],
    diskSizeBytes,
    fileSystems,
    kernelVersion: tree.kernelVersion,
    kernelCommandLine: commandLine,
  };
}

/** Reads a layout's description written by a finished build. */
export async function readLayoutFile(dir: string): Promise<Omit<LayoutDisks, 'login' | 'cacheDir' | 'buildSeconds'>> {
  return JSON.parse(await readFile(join(dir, 'layout.json'), 'utf8')) as Omit<
    LayoutDisks,
    'login' | 'cacheDir' | 'buildSeconds'
  >;
}
