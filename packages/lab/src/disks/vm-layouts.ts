import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
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
import { LoopMounts } from './loop.js';
import { run } from './run.js';

const MiB = 1024 ** 2;
const bootSizeBytes = 256 * MiB;
/** The system part (RAID1 member or LVM physical volume) takes the rest of each disk. */
const systemOffsetBytes = MiB + bootSizeBytes;
const systemSizeBytes = diskSizeBytes - systemOffsetBytes;

/** Identifiers chosen on the host before the builder VM runs. */
interface BuildIds {
  bootUuid: string;
  rootUuid: string;
  bootArrayUuid: string;
  rootArrayUuid: string;
  kernelVersion: string;
}

/** How one VM-built layout is made. */
interface VmRecipe {
  disks: number;
  /** What the kernel line names as root. */
  root: (ids: BuildIds) => string;
  /** Files written into the staged system on the host before its initramfs is rebuilt there. */
  files: (ids: BuildIds) => Record<string, string>;
  /** Shell run inside the builder VM, chrooted into the staged system; prints `LAB-RESULT k=v` lines. */
  script: (ids: BuildIds) => string;
  fileSystems: (ids: BuildIds, result: Map<string, string>) => LayoutFileSystem[];
}

function stagedFiles(ids: BuildIds, root: string): Record<string, string> {
  return {
    'etc/fstab': fstabFor([
      { mount: '/', type: 'ext4', uuid: ids.rootUuid },
      { mount: '/boot', type: 'ext4', uuid: ids.bootUuid },
    ]),
    'boot/extlinux/extlinux.conf': extlinuxConfig(ids.kernelVersion, '', kernelCommandLine(root)),
  };
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

/** Copies the staged source system into /mnt (the mounted target), then makes `disks` bootable. */
function installScript(disks: string[]): string {
  return `
cp -ax /. /mnt/
extlinux --install /mnt/boot/extlinux
${disks.map((d) => `dd if=/usr/lib/syslinux/mbr/mbr.bin of=${d} bs=440 count=1 conv=notrunc status=none`).join('\n')}
`;
}

/** The md UUID form of a UUID (`mdadm --uuid`, `ARRAY ... UUID=`). */
function mdUuid(uuid: string): string {
  return uuid.replaceAll('-', '').match(/.{8}/g)!.join(':');
}

/** The layouts built inside a QEMU VM (the host has no md and no device-mapper). */
export const vmLayouts: Partial<Record<LayoutName, VmRecipe>> = {
  raid1: {
    disks: 2,
    root: (ids) => `UUID=${ids.rootUuid}`,
    files: (ids) => ({
      ...stagedFiles(ids, `UUID=${ids.rootUuid}`),
      'etc/mdadm/mdadm.conf': `HOMEHOST <system>\nMAILADDR root\nARRAY /dev/md/boot metadata=1.0 UUID=${mdUuid(ids.bootArrayUuid)} name=lab:boot\nARRAY /dev/md/root metadata=1.2 UUID=${mdUuid(ids.rootArrayUuid)} name=lab:root\n`,
    }),
    script: (ids) => `
${partitionScript('/dev/vdb', 'fd')}
${partitionScript('/dev/vdc', 'fd')}
# Both members are blank sparse files, hence identical: --assume-clean spares every lab server a resync.
# /boot uses metadata 1.0 (superblock at the end) so that extlinux and the BIOS read either member as plain ext4.
mdadm --create /dev/md0 --run --assume-clean --metadata=1.0 --level=1 --raid-devices=2 --homehost=lab --name=boot --uuid=${mdUuid(ids.bootArrayUuid)} /dev/vdb1 /dev/vdc1
mdadm --create /dev/md1 --run --assume-clean --metadata=1.2 --level=1 --raid-devices=2 --homehost=lab --name=root --uuid=${mdUuid(ids.rootArrayUuid)} /dev/vdb2 /dev/vdc2
mkfs.ext4 -q -F -L lab-boot -U ${ids.bootUuid} /dev/md0
mkfs.ext4 -q -F -L lab-root -U ${ids.rootUuid} /dev/md1
mount /dev/md1 /mnt
mkdir -p /mnt/boot
mount /dev/md0 /mnt/boot
${installScript(['/dev/vdb', '/dev/vdc'])}
umount /mnt/boot
umount /mnt
echo "LAB-RESULT rootDataOffsetSectors=$(mdadm --examine /dev/vdb2 | sed -n 's/.*Data Offset : \\([0-9]*\\) sectors.*/\\1/p')"
echo "LAB-RESULT rootSizeBytes=$(blockdev --getsize64 /dev/md1)"
echo "LAB-RESULT bootSizeBytes=$(blockdev --getsize64 /dev/md0)"
mdadm --detail /dev/md1
mdadm --stop /dev/md0 /dev/md1
`,
    fileSystems: (ids, result) => {
      const offset = systemOffsetBytes + Number(result.get('rootDataOffsetSectors')) * 512;
      const size = Number(result.get('rootSizeBytes'));
      const bootSize = Number(result.get('bootSizeBytes'));
      if (!(offset > systemOffsetBytes && size > 0 && bootSize > 0))
        throw new DiskError('LAB_DISK_BUILD_FAILED', `the raid1 builder did not report its arrays: ${JSON.stringify([...result])}`);
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
  },
  lvm: {
    disks: 1,
    root: () => '/dev/mapper/lab-root',
    files: (ids) => stagedFiles(ids, '/dev/mapper/lab-root'),
    script: (ids) => `
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
${installScript(['/dev/vdb'])}
umount /mnt/boot
umount /mnt
echo "LAB-RESULT peStartBytes=$(lvm pvs --config "$C" --noheadings --units b --nosuffix -o pe_start /dev/vdb2 | tr -d ' ')"
echo "LAB-RESULT rootSegments=$(lvm lvs --config "$C" --noheadings --segments -o seg_pe_ranges lab/root | tr -d ' ')"
echo "LAB-RESULT rootSizeBytes=$(lvm lvs --config "$C" --noheadings --units b --nosuffix -o lv_size lab/root | tr -d ' ')"
lvm vgchange --config "$C" -an lab
`,
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
while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done
mkdir -p /src
mount -o ro -t ext4 /dev/vda /src
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
 * Stages the system to install on the host: a copy of the tree with the layout's fstab, extlinux.conf
 * (and mdadm.conf), whose initramfs is rebuilt in a chroot here (natively: under TCG it takes
 * many minutes), then packed into an ext4 image that the builder VM mounts as its source.
 */
async function stageSource(tree: InstalledTree, files: Record<string, string>, dir: string): Promise<string> {
  const stage = join(dir, 'stage');
  await mkdir(stage, { recursive: true });
  await run('cp', ['-a', `${tree.root}/.`, `${stage}/`]);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(stage, path)), { recursive: true });
    await writeFile(join(stage, path), content);
  }
  const mounts = new LoopMounts();
  try {
    await mounts.mount('proc', join(stage, 'proc'), 'proc');
    await mounts.mount('sysfs', join(stage, 'sys'), 'sysfs');
    await run('chroot', [stage, 'update-initramfs', '-u', '-k', tree.kernelVersion]);
  } finally {
    await mounts.release();
  }
  const image = join(dir, 'source.ext4');
  await run('mkfs.ext4', ['-q', '-F', '-L', 'lab-source', '-d', stage, image, '1800M']);
  await run('rm', ['-rf', '--one-file-system', stage]);
  return image;
}

/**
 * Builds a layout that needs md or LVM inside a QEMU VM (TCG): the installed tree's kernel with a
 * small busybox initramfs, the staged system (see `stageSource`) attached read-only as its source,
 * blank raw images as targets. The script runs chrooted into the source, so it uses the installed
 * system's own sfdisk, mdadm, lvm, mkfs and extlinux. The initramfs staged with the arrays in
 * mdadm.conf (array UUIDs are chosen beforehand) assembles the RAID / activates LVM at boot.
 */
export async function buildVmLayout(
  layout: LayoutName,
  tree: InstalledTree,
  dir: string,
  options: { login: LabLogin; onProgress?: (message: string) => void; signal?: AbortSignal },
): Promise<Omit<LayoutDisks, 'login' | 'cacheDir' | 'buildSeconds'>> {
  const recipe = vmLayouts[layout];
  if (!recipe) throw new DiskError('LAB_DISK_UNKNOWN_LAYOUT', `layout ${layout} is not built in a VM`);
  const ids: BuildIds = {
    bootUuid: randomUUID(),
    rootUuid: randomUUID(),
    bootArrayUuid: randomUUID(),
    rootArrayUuid: randomUUID(),
    kernelVersion: tree.kernelVersion,
  };
  const work = join(dir, 'builder');
  await mkdir(work, { recursive: true });
  options.onProgress?.(`staging the ${layout} system and its initramfs`);
  const source = await stageSource(tree, recipe.files(ids), work);
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
      '-drive', `file=${source},format=raw,if=virtio,readonly=on`,
      ...disks.flatMap((disk) => ['-drive', `file=${disk},format=raw,if=virtio,cache=unsafe`]),
      '-nic', 'none',
    ],
    30 * 60 * 1000,
    options.signal,
  );
  const log = await readFile(serialLog, 'utf8');
  if (!log.includes('LAB-BUILD-OK'))
    throw new DiskError('LAB_DISK_BUILD_FAILED', `the ${layout} builder VM failed; its log: ${serialLog}\n${log.slice(-1500)}`);
  await rm(source, { force: true });
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
