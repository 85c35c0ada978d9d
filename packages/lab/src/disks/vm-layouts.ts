import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DiskError } from './errors.js';
import type { InstalledTree } from './installed-tree.js';
import type { LabLogin } from './lab-login.js';
import {
  diskSizeBytes,
  extlinuxConfig,
  fstabFor,
  kernelCommandLine,
  type LayoutDisks,
  type LayoutFileSystem,
  type LayoutName,
} from './layouts.js';
import { run } from './run.js';

const MiB = 1024 ** 2;
const bootSizeBytes = 256 * MiB;
/** The system part (RAID1 member or LVM physical volume) takes the rest of each disk. */
const systemOffsetBytes = MiB + bootSizeBytes;
const systemSizeBytes = diskSizeBytes - systemOffsetBytes;

/** The builder VM's disks: the plain layout's image (read-only source), then the targets. */
interface VmRecipe {
  disks: number;
  /** Shell run inside the builder VM, chrooted into the source system; prints `LAB-RESULT k=v` lines. */
  script: (ids: { bootUuid: string; rootUuid: string; kernelVersion: string }) => string;
  fileSystems: (ids: { bootUuid: string; rootUuid: string }, result: Map<string, string>) => LayoutFileSystem[];
  /** What the kernel line names as root. */
  root: (ids: { rootUuid: string }) => string;
}

const lvmConfig =
  "devices{obtain_device_list_from_udev=0} activation{udev_sync=0 udev_rules=0} backup{backup=0 archive=0}";

function partitionScript(disk: string, systemType: string): string {
  return `sfdisk -q ${disk} <<'TABLE'
label: dos
unit: sectors
start=${MiB / 512}, size=${bootSizeBytes / 512}, type=${systemType === '8e' ? '83' : 'fd'}, bootable
start=${systemOffsetBytes / 512}, size=${systemSizeBytes / 512}, type=${systemType}
TABLE`;
}

/** Copies the source system into /mnt (mounted target), then makes it bootable from `disks`. */
function installScript(ids: { kernelVersion: string }, fstab: string, commandLine: string, disks: string[]): string {
  return `
cp -ax /. /mnt/
rm -rf /mnt/boot/extlinux
mkdir -p /mnt/boot/extlinux
cat > /mnt/etc/fstab <<'FSTAB'
${fstab.trimEnd()}
FSTAB
cat > /mnt/boot/extlinux/extlinux.conf <<'EXTLINUX'
${extlinuxConfig(ids.kernelVersion, '', commandLine).trimEnd()}
EXTLINUX
extlinux --install /mnt/boot/extlinux
${disks.map((d) => `dd if=/usr/lib/syslinux/mbr/mbr.bin of=${d} bs=440 count=1 conv=notrunc status=none`).join('\n')}
for d in proc sys dev run; do mount --bind /$d /mnt/$d; done
chroot /mnt update-initramfs -u -k ${ids.kernelVersion}
for d in run dev sys proc; do umount /mnt/$d; done
`;
}

/** The layouts built inside a QEMU VM (the host has no md and no device-mapper). */
export const vmLayouts: Partial<Record<LayoutName, VmRecipe>> = {
  raid1: {
    disks: 2,
    script: (ids) => {
      const fileSystems = [
        { mount: '/', type: 'ext4' as const, uuid: ids.rootUuid },
        { mount: '/boot', type: 'ext4' as const, uuid: ids.bootUuid },
      ];
      return `
${partitionScript('/dev/vdb', 'fd')}
${partitionScript('/dev/vdc', 'fd')}
# Both members are blank sparse files, hence identical: --assume-clean spares every lab server a resync.
# /boot uses metadata 1.0 (superblock at the end) so that extlinux and the BIOS read either member as plain ext4.
mdadm --create /dev/md0 --run --assume-clean --metadata=1.0 --level=1 --raid-devices=2 --homehost=lab --name=boot /dev/vdb1 /dev/vdc1
mdadm --create /dev/md1 --run --assume-clean --metadata=1.2 --level=1 --raid-devices=2 --homehost=lab --name=root /dev/vdb2 /dev/vdc2
mkfs.ext4 -q -F -L lab-boot -U ${ids.bootUuid} /dev/md0
mkfs.ext4 -q -F -L lab-root -U ${ids.rootUuid} /dev/md1
mount /dev/md1 /mnt
mkdir -p /mnt/boot
mount /dev/md0 /mnt/boot
${installScript(ids, fstabFor(fileSystems), kernelCommandLine(`UUID=${ids.rootUuid}`), ['/dev/vdb', '/dev/vdc']).replace(
  'for d in proc',
  'mdadm --detail --scan > /mnt/etc/mdadm/mdadm.conf.arrays\ncat /mnt/etc/mdadm/mdadm.conf.arrays >> /mnt/etc/mdadm/mdadm.conf\nrm /mnt/etc/mdadm/mdadm.conf.arrays\nfor d in proc',
)}
umount /mnt/boot
umount /mnt
echo "LAB-RESULT rootDataOffsetSectors=$(mdadm --examine /dev/vdb2 | sed -n 's/.*Data Offset : \\([0-9]*\\) sectors.*/\\1/p')"
echo "LAB-RESULT rootDataSizeSectors=$(mdadm --examine /dev/vdb2 | sed -n 's/.*Used Dev Size : \\([0-9]*\\) .*/\\1/p')"
echo "LAB-RESULT bootDataSizeSectors=$(mdadm --examine /dev/vdb1 | sed -n 's/.*Used Dev Size : \\([0-9]*\\) .*/\\1/p')"
mdadm --stop /dev/md0 /dev/md1
`;
    },
    fileSystems: (ids, result) => {
      const offset = systemOffsetBytes + Number(result.get('rootDataOffsetSectors')) * 512;
      const size = Number(result.get('rootDataSizeSectors')) * 512;
      const bootSize = Number(result.get('bootDataSizeSectors')) * 512;
      return [
        {
          mount: '/',
          type: 'ext4',
          uuid: ids.rootUuid,
          label: 'lab-root',
          holder: 'raid1',
          copies: [0, 1].map((disk) => ({ disk, offsetBytes: offset, sizeBytes: size })),
        },
        {
          mount: '/boot',
          type: 'ext4',
          uuid: ids.bootUuid,
          label: 'lab-boot',
          holder: 'raid1',
          copies: [0, 1].map((disk) => ({ disk, offsetBytes: MiB, sizeBytes: bootSize })),
        },
      ];
    },
    root: (ids) => `UUID=${ids.rootUuid}`,
  },
  lvm: {
    disks: 1,
    script: (ids) => {
      const fileSystems = [
        { mount: '/', type: 'ext4' as const, uuid: ids.rootUuid },
        { mount: '/boot', type: 'ext4' as const, uuid: ids.bootUuid },
      ];
      return `
${partitionScript('/dev/vdb', '8e')}
C='${lvmConfig}'
lvm pvcreate -ff -y --config "$C" /dev/vdb2
lvm vgcreate --config "$C" lab /dev/vdb2
lvm lvcreate --config "$C" -y -Zn -n root -l 100%FREE lab
lvm vgmknodes --config "$C" lab
mkfs.ext4 -q -F -L lab-boot -U ${ids.bootUuid} /dev/vdb1
mkfs.ext4 -q -F -L lab-root -U ${ids.rootUuid} /dev/mapper/lab-root
mount /dev/mapper/lab-root /mnt
mkdir -p /mnt/boot
mount /dev/vdb1 /mnt/boot
${installScript(ids, fstabFor(fileSystems), kernelCommandLine('/dev/mapper/lab-root'), ['/dev/vdb'])}
umount /mnt/boot
umount /mnt
echo "LAB-RESULT peStartBytes=$(lvm pvs --config "$C" --noheadings --units b --nosuffix -o pe_start /dev/vdb2 | tr -d ' ')"
echo "LAB-RESULT rootSegments=$(lvm lvs --config "$C" --noheadings --segments -o seg_pe_ranges lab/root | tr -d ' ')"
echo "LAB-RESULT rootSizeBytes=$(lvm lvs --config "$C" --noheadings --units b --nosuffix -o lv_size lab/root | tr -d ' ')"
lvm vgchange --config "$C" -an lab
`;
    },
    fileSystems: (ids, result) => {
      // A single linear segment starting at the first extent: the LV's bytes follow pe_start.
      if (!/^\/dev\/vdb2:0-\d+$/.test(result.get('rootSegments') ?? ''))
        throw new DiskError('LAB_DISK_BUILD_FAILED', `unexpected LV segments ${result.get('rootSegments')}`);
      return [
        {
          mount: '/',
          type: 'ext4',
          uuid: ids.rootUuid,
          label: 'lab-root',
          holder: 'lvm',
          copies: [
            {
              disk: 0,
              offsetBytes: systemOffsetBytes + Number(result.get('peStartBytes')),
              sizeBytes: Number(result.get('rootSizeBytes')),
            },
          ],
        },
        {
          mount: '/boot',
          type: 'ext4',
          uuid: ids.bootUuid,
          label: 'lab-boot',
          holder: 'partition',
          copies: [{ disk: 0, offsetBytes: MiB, sizeBytes: bootSizeBytes }],
        },
      ];
    },
    root: () => '/dev/mapper/lab-root',
  },
};

const builderModules = ['virtio_pci', 'virtio_blk', 'ext4', 'crc32c_generic', 'md_mod', 'raid1', 'dm_mod'];

const builderInit = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r module; do insmod "$module" 2>/dev/null; done < /modules.list
i=0
while [ ! -b /dev/vda1 ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done
mkdir -p /src
mount -o ro -t ext4 /dev/vda1 /src
mount -t proc proc /src/proc
mount -t sysfs sys /src/sys
mount -t devtmpfs dev /src/dev
mount -t tmpfs tmp /src/tmp
mount -t tmpfs run /src/run
cp /build.sh /src/tmp/build.sh
echo LAB-BUILD-START
if PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot /src /bin/sh -ex /tmp/build.sh; then echo LAB-BUILD-OK; else echo LAB-BUILD-FAILED; fi
sync
poweroff -f
`;

/** Makes the builder's initramfs: static busybox, the modules it needs from the tree, /init and the script. */
async function builderInitramfs(tree: InstalledTree, script: string, dir: string): Promise<string> {
  const root = join(dir, 'initramfs');
  for (const sub of ['bin', 'proc', 'sys', 'dev', 'modules']) await mkdir(join(root, sub), { recursive: true });
  await copyFile('/bin/busybox', join(root, 'bin/busybox'));
  await chmod(join(root, 'bin/busybox'), 0o755);
  const seen = new Set<string>();
  const list: string[] = [];
  for (const module of builderModules) {
    const { stdout } = await run('modprobe', ['-d', tree.root, '-S', tree.kernelVersion, '--show-depends', module]);
    for (const line of stdout.split('\n')) {
      const path = /^insmod (\S+)/.exec(line)?.[1];
      if (!path || seen.has(path)) continue;
      seen.add(path);
      const name = `/modules/${list.length}-${path.split('/').at(-1)}`;
      await copyFile(path, join(root, name));
      list.push(name);
    }
  }
  await writeFile(join(root, 'modules.list'), `${list.join('\n')}\n`);
  await writeFile(join(root, 'init'), builderInit, { mode: 0o755 });
  await writeFile(join(root, 'build.sh'), script, { mode: 0o755 });
  const initrd = join(dir, 'builder-initrd.cpio.gz');
  await run('sh', ['-c', `cd "$1" && find . | cpio -o -H newc --quiet | gzip -1 > "$2"`, 'sh', root, initrd]);
  return initrd;
}

/** Starts QEMU and resolves when it exits, failing after `timeoutMs`. */
function runBuilderVm(args: string[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const stop = () => child.kill('SIGKILL');
    const timer = setTimeout(stop, timeoutMs);
    signal?.addEventListener('abort', stop, { once: true });
    child.on('error', (error) => reject(new DiskError('LAB_DISK_BUILD_FAILED', `qemu could not start: ${error.message}`)));
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
      if (code === 0) resolve();
      else reject(new DiskError('LAB_DISK_BUILD_FAILED', `builder VM ended with ${code ?? sig}: ${stderr.trim().slice(-300)}`));
    });
  });
}

/**
 * Builds a layout that needs md or LVM inside a QEMU VM (TCG): the installed tree's kernel with a
 * small busybox initramfs, the plain layout's image attached read-only as the source system, blank
 * raw images as targets. The script runs chrooted into the source, so it uses the installed
 * system's own mdadm, lvm, mkfs, extlinux and update-initramfs (which then assembles the array or
 * activates the volume group at boot).
 */
export async function buildVmLayout(
  layout: LayoutName,
  tree: InstalledTree,
  dir: string,
  options: { source: string; login: LabLogin; onProgress?: (message: string) => void; signal?: AbortSignal },
): Promise<Omit<LayoutDisks, 'login' | 'cacheDir' | 'buildSeconds'>> {
  const recipe = vmLayouts[layout];
  if (!recipe) throw new DiskError('LAB_DISK_UNKNOWN_LAYOUT', `layout ${layout} is not built in a VM`);
  const ids = { bootUuid: randomUUID(), rootUuid: randomUUID(), kernelVersion: tree.kernelVersion };
  const work = join(dir, 'builder');
  await mkdir(work, { recursive: true });
  const initrd = await builderInitramfs(tree, recipe.script(ids), work);
  const disks: string[] = [];
  for (let i = 0; i < recipe.disks; i++) {
    const disk = join(dir, `disk${i}.raw`);
    await run('truncate', ['-s', String(diskSizeBytes), disk]);
    disks.push(disk);
  }
  const serialLog = join(work, 'serial.log');
  options.onProgress?.(`building the ${layout} disks inside a VM (a few minutes under software emulation)`);
  await runBuilderVm(
    [
      '-accel', 'tcg', '-m', '1024', '-smp', '1', '-display', 'none', '-monitor', 'none', '-no-reboot',
      '-serial', `file:${serialLog}`,
      '-kernel', join(tree.root, 'boot', `vmlinuz-${tree.kernelVersion}`),
      '-initrd', initrd,
      '-append', 'console=ttyS0,115200 panic=-1 quiet',
      '-drive', `file=${options.source},format=raw,if=virtio,readonly=on`,
      ...disks.flatMap((disk) => ['-drive', `file=${disk},format=raw,if=virtio,cache=unsafe`]),
      '-nic', 'none',
    ],
    30 * 60 * 1000,
    options.signal,
  );
  const log = await readFile(serialLog, 'utf8');
  if (!log.includes('LAB-BUILD-OK'))
    throw new DiskError('LAB_DISK_BUILD_FAILED', `the ${layout} builder VM failed; its log: ${serialLog}\n${log.slice(-1500)}`);
  const result = new Map<string, string>();
  for (const match of log.matchAll(/^LAB-RESULT (\w+)=(\S*)\r?$/gm)) result.set(match[1]!, match[2]!);
  return {
    layout,
    disks,
    diskSizeBytes,
    fileSystems: recipe.fileSystems(ids, result),
    kernelVersion: tree.kernelVersion,
    kernelCommandLine: kernelCommandLine(recipe.root(ids)),
  };
}
