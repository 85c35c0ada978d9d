// Host-side checks of the lab's disk images: partition tables, file systems, fstab, bootloader,
// scenario variants and overlays. Builds (or reuses) the images in the lab cache.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import {
  badSshdLine,
  corruptedPath,
  renamedNic,
  createServerDisks,
  dataDiskSizeBytes,
  ensureDataDisk,
  ensureLayoutDisks,
  ensureScenarioDisks,
  type LayoutDisks,
  type LayoutFileSystem,
} from '../src/disks/index.js';

const exec = promisify(execFile);

/** Runs a command, resolving its exit code and output whatever the code. */
async function tryRun(command: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(command, args, { maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

function fsAt(disks: LayoutDisks, mount: string): LayoutFileSystem {
  const fs = disks.fileSystems.find((f) => f.mount === mount);
  assert.ok(fs, `layout ${disks.layout} has ${mount}`);
  return fs;
}

/** `image?offset=N`: how e2fsprogs reads a file system inside a partitioned image. */
function at(disks: LayoutDisks, fs: LayoutFileSystem): string {
  return `${disks.disks[fs.copies[0]!.disk]}?offset=${fs.copies[0]!.offsetBytes}`;
}

async function catFile(disks: LayoutDisks, fs: LayoutFileSystem, path: string): Promise<string> {
  const { stdout } = await tryRun('debugfs', ['-R', `cat ${path}`, at(disks, fs)]);
  return stdout;
}

interface SfdiskPartition {
  node: string;
  start: number;
  size: number;
  type: string;
  bootable?: boolean;
}

async function partitions(image: string): Promise<{ label: string; partitions: SfdiskPartition[] }> {
  const { stdout } = await exec('sfdisk', ['--json', image]);
  return (JSON.parse(stdout) as { partitiontable: { label: string; partitions: SfdiskPartition[] } }).partitiontable;
}

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'lab-disks-test-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('plain layout', () => {
  let plain: LayoutDisks;
  before(async () => {
    plain = await ensureLayoutDisks('plain', { onProgress: (line) => console.log(`# ${line}`) });
  });

  test('one raw disk with an MBR table, one bootable Linux partition and syslinux boot code', async () => {
    assert.equal(plain.disks.length, 1);
    const table = await partitions(plain.disks[0]!);
    assert.equal(table.label, 'dos');
    assert.equal(table.partitions.length, 1);
    assert.equal(table.partitions[0]!.type, '83');
    assert.equal(table.partitions[0]!.bootable, true);
    assert.equal(table.partitions[0]!.start * 512, fsAt(plain, '/').copies[0]!.offsetBytes);
    const handle = await open(plain.disks[0]!);
    const mbr = Buffer.alloc(440);
    await handle.read(mbr, 0, 440, 0);
    await handle.close();
    assert.deepEqual(mbr, (await readFile('/usr/lib/syslinux/mbr/mbr.bin')).subarray(0, 440));
  });

  test('the ext4 root is clean and mounted by UUID from fstab and from the kernel line', async () => {
    const root = fsAt(plain, '/');
    const check = await tryRun('e2fsck', ['-fn', at(plain, root)]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    const fstab = await catFile(plain, root, '/etc/fstab');
    assert.match(fstab, new RegExp(`^UUID=${root.uuid} / ext4 `, 'm'));
    const extlinux = await catFile(plain, root, '/boot/extlinux/extlinux.conf');
    assert.match(extlinux, new RegExp(`root=UUID=${root.uuid} .*console=ttyS0,115200`));
    assert.match(extlinux, new RegExp(`LINUX /boot/vmlinuz-${plain.kernelVersion.replaceAll('.', '\\.')}`));
    const ldlinux = await tryRun('debugfs', ['-R', 'stat /boot/extlinux/ldlinux.sys', at(plain, root)]);
    assert.match(ldlinux.stdout, /Type: regular/);
  });

  test('the installed system accepts the lab key for root, has a root password, DHCP and a hostname', async () => {
    const root = fsAt(plain, '/');
    assert.equal((await catFile(plain, root, '/root/.ssh/authorized_keys')).trim(), plain.login.publicKey);
    const shadow = await catFile(plain, root, '/etc/shadow');
    assert.match(shadow, /^root:\$[0-9a-z]+\$[^:]+:/m);
    assert.match(await catFile(plain, root, '/etc/systemd/network/20-lab-dhcp.network'), /Name=en\* eth\*[\s\S]*DHCP=yes/);
    assert.equal((await catFile(plain, root, '/etc/hostname')).trim(), 'lab');
    const modules = await tryRun('debugfs', ['-R', `ls /lib/modules/${plain.kernelVersion}`, at(plain, root)]);
    assert.match(modules.stdout, /modules\.dep/);
    for (const tool of ['/usr/sbin/mdadm', '/usr/sbin/lvm', '/usr/sbin/mkfs.xfs', '/usr/sbin/smartctl', '/usr/sbin/sshd'])
      assert.match((await tryRun('debugfs', ['-R', `stat ${tool}`, at(plain, root)])).stdout, /Inode:/, tool);
  });

  test('a second call finds everything in the cache within seconds', async () => {
    const started = Date.now();
    const again = await ensureLayoutDisks('plain');
    assert.deepEqual(again.disks, plain.disks);
    assert.equal(again.buildSeconds, 0);
    assert.ok(Date.now() - started < 5000, `cached call took ${Date.now() - started} ms`);
  });

  test('a server gets qcow2 overlays backed by the raw base images', async () => {
    const server = await createServerDisks({ layout: 'plain', dir: join(work, 'server-a') });
    assert.equal(server.disks.length, 1);
    const { stdout } = await exec('qemu-img', ['info', '--output=json', server.disks[0]!]);
    const info = JSON.parse(stdout) as { format: string; 'backing-filename': string; 'backing-filename-format': string };
    assert.equal(info.format, 'qcow2');
    assert.equal(info['backing-filename'], plain.disks[0]);
    assert.equal(info['backing-filename-format'], 'raw');
    const data = JSON.parse((await exec('qemu-img', ['info', '--output=json', server.dataDisk])).stdout) as typeof info;
    assert.equal(data['backing-filename'], server.dataBase.image, 'each server writes to its own overlay of the data disk');
  });
});

describe('data disk', () => {
  test('256 MiB, one MBR partition from 1 MiB holding an empty, clean ext4 labelled data; built once', async () => {
    const disk = await ensureDataDisk();
    assert.equal((await stat(disk.image)).size, dataDiskSizeBytes);
    const table = await partitions(disk.image);
    assert.equal(table.label, 'dos');
    assert.deepEqual(table.partitions.map((p) => [p.start * 512, p.size * 512, p.type]), [[disk.partition.offsetBytes, disk.partition.sizeBytes, '83']]);
    const fs = `${disk.image}?offset=${disk.partition.offsetBytes}`;
    const header = (await exec('dumpe2fs', ['-h', fs])).stdout;
    assert.match(header, /Filesystem volume name:\s+data$/m);
    assert.match(header, new RegExp(`Filesystem UUID:\\s+${disk.uuid}$`, 'm'));
    const blocks = Number(/Block count:\s+(\d+)/.exec(header)?.[1]) * Number(/Block size:\s+(\d+)/.exec(header)?.[1]);
    assert.equal(blocks, disk.partition.sizeBytes, 'the file system fills its partition, not the whole image');
    const check = await tryRun('e2fsck', ['-n', '-f', fs]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    const again = await ensureDataDisk();
    assert.deepEqual(again, disk, 'the second call reuses the cached image');
  });
});

describe('scenarios', () => {
  test('broken-fstab adds a mount of a missing UUID without nofail; the base image is untouched', async () => {
    const broken = await ensureScenarioDisks('plain', ['broken-fstab']);
    const plain = await ensureLayoutDisks('plain');
    assert.notEqual(broken.disks[0], plain.disks[0]);
    const fstab = await catFile(broken, fsAt(broken, '/'), '/etc/fstab');
    const line = fstab.split('\n').find((l) => l.includes(' /data '));
    assert.ok(line, fstab);
    assert.doesNotMatch(line, /nofail/);
    const uuid = /^UUID=([0-9a-f-]+) /.exec(line)?.[1];
    assert.ok(uuid && !plain.fileSystems.some((fs) => fs.uuid === uuid));
    assert.doesNotMatch(await catFile(plain, fsAt(plain, '/'), '/etc/fstab'), / \/data /);
  });

  test('corrupt-fs leaves damage that preen refuses and e2fsck -fy repairs', async () => {
    const corrupt = await ensureScenarioDisks('plain', ['corrupt-fs']);
    const root = fsAt(corrupt, '/');
    const preen = await tryRun('e2fsck', ['-fn', at(corrupt, root)]);
    assert.equal(preen.code, 4, preen.stdout);
    assert.match(preen.stdout, /[Mm]ultiply-claimed/);
    assert.match(preen.stdout, new RegExp(corruptedPath.split('/').at(-1)!));
    const copy = join(work, 'corrupt.raw');
    await exec('cp', ['--sparse=always', corrupt.disks[0]!, copy]);
    const image = `${copy}?offset=${root.copies[0]!.offsetBytes}`;
    assert.equal((await tryRun('e2fsck', ['-p', image])).code & 4, 4, 'boot-time preen gives up');
    assert.equal((await tryRun('e2fsck', ['-fy', image])).code, 1, 'e2fsck -fy repairs');
    assert.equal((await tryRun('e2fsck', ['-fn', image])).code, 0, 'clean after the repair');
  });

  test('lost-password changes root password and removes the lab key', async () => {
    const lost = await ensureScenarioDisks('plain', ['lost-password']);
    const plain = await ensureLayoutDisks('plain');
    const hash = (text: string) => /^root:([^:]*):/m.exec(text)?.[1];
    const before = hash(await catFile(plain, fsAt(plain, '/'), '/etc/shadow'));
    const afterHash = hash(await catFile(lost, fsAt(lost, '/'), '/etc/shadow'));
    assert.ok(afterHash?.startsWith('$'));
    assert.notEqual(afterHash, before);
    const keys = await tryRun('debugfs', ['-R', 'stat /root/.ssh/authorized_keys', at(lost, fsAt(lost, '/'))]);
    assert.doesNotMatch(keys.stdout, /Inode:/);
  });

  test('no-network enables an nftables ruleset that drops all input', async () => {
    const cut = await ensureScenarioDisks('plain', ['no-network']);
    const root = fsAt(cut, '/');
    assert.match(await catFile(cut, root, '/etc/nftables.conf'), /hook input priority filter; policy drop;/);
    const link = await tryRun('debugfs', ['-R', 'stat /etc/systemd/system/sysinit.target.wants/nftables.service', at(cut, root)]);
    assert.match(link.stdout, /Type: symlink/);
  });

  test('the doctor scenarios combine on one disk: bad sshd line, SSH rejected by nftables, renamed NIC, no kernel, full root', async () => {
    const all = ['bad-sshd-config', 'firewall-drops-ssh', 'renamed-nic', 'missing-kernel', 'disk-full', 'broken-fstab'];
    const broken = await ensureScenarioDisks('plain', all);
    assert.deepEqual([...broken.scenarios].sort(), [...all].sort());
    const root = fsAt(broken, '/');
    assert.ok((await catFile(broken, root, '/etc/ssh/sshd_config')).endsWith(`\n${badSshdLine()}\n`));
    assert.match(await catFile(broken, root, '/etc/nftables.conf'), /^include "\/etc\/nftables.d\/\*.nft"$/m);
    assert.match(await catFile(broken, root, '/etc/nftables.d/lab-ssh.nft'), /policy accept;\n\t\ttcp dport 22 reject with tcp reset/);
    const link = await tryRun('debugfs', ['-R', 'stat /etc/systemd/system/sysinit.target.wants/nftables.service', at(broken, root)]);
    assert.match(link.stdout, /Type: symlink/);
    assert.match(await catFile(broken, root, '/etc/systemd/network/20-lab-dhcp.network'), new RegExp(`^Name=${renamedNic}$`, 'm'));
    const kernel = await tryRun('debugfs', ['-R', `stat /boot/vmlinuz-${broken.kernelVersion}`, at(broken, root)]);
    assert.doesNotMatch(kernel.stdout, /Inode:/);
    assert.match(await catFile(broken, root, '/boot/extlinux/extlinux.conf'), new RegExp(`LINUX /boot/vmlinuz-${broken.kernelVersion}`));
    const header = await tryRun('dumpe2fs', ['-h', at(broken, root)]);
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(header.stdout)?.[1]);
    const freeBytes = (field('Free blocks') - field('Reserved block count')) * field('Block size');
    // df (the doctor's measure) shows about 1 MiB: ext4 also keeps clusters back (s_resv_clusters, 16 MiB here) that dumpe2fs counts as free.
    assert.ok(freeBytes < 32 * 1024 * 1024, `${freeBytes} bytes left for users`);
    await assert.rejects(ensureScenarioDisks('plain', ['no-network', 'firewall-drops-ssh']), { code: 'LAB_DISK_SCENARIO_UNSUPPORTED' });
  });

  test('unknown names and scenarios a layout cannot have are refused with a code', async () => {
    await assert.rejects(ensureScenarioDisks('plain', ['melted-cpu']), { code: 'LAB_DISK_UNKNOWN_SCENARIO' });
    await assert.rejects(ensureScenarioDisks('plain', ['degraded-raid']), { code: 'LAB_DISK_SCENARIO_UNSUPPORTED' });
  });
});

describe('split-var and xfs layouts', () => {
  test('split-var: root and /var are separate ext4 partitions, both in fstab by UUID', async () => {
    const split = await ensureLayoutDisks('split-var', { onProgress: (line) => console.log(`# ${line}`) });
    const table = await partitions(split.disks[0]!);
    assert.equal(table.partitions.length, 2);
    const root = fsAt(split, '/');
    const varFs = fsAt(split, '/var');
    for (const fs of [root, varFs]) assert.equal((await tryRun('e2fsck', ['-fn', at(split, fs)])).code, 0);
    const fstab = await catFile(split, root, '/etc/fstab');
    assert.match(fstab, new RegExp(`^UUID=${root.uuid} / ext4 `, 'm'));
    assert.match(fstab, new RegExp(`^UUID=${varFs.uuid} /var ext4 defaults 0 2$`, 'm'));
    assert.match((await tryRun('debugfs', ['-R', 'ls /lib/dpkg', at(split, varFs)])).stdout, /status/);
    assert.doesNotMatch((await tryRun('debugfs', ['-R', 'ls /var', at(split, root)])).stdout, /\blib\b/);
  });

  test('xfs: an XFS root that xfs_repair finds clean, and an ext4 /boot with the bootloader', async () => {
    const xfs = await ensureLayoutDisks('xfs', { onProgress: (line) => console.log(`# ${line}`) });
    const table = await partitions(xfs.disks[0]!);
    assert.equal(table.partitions.length, 2);
    assert.equal(table.partitions[0]!.bootable, true);
    const boot = fsAt(xfs, '/boot');
    const root = fsAt(xfs, '/');
    assert.equal(root.type, 'xfs');
    assert.match(await catFile(xfs, boot, '/extlinux/extlinux.conf'), new RegExp(`LINUX /vmlinuz-.*\\n.*\\n.*root=UUID=${root.uuid}`));
    // xfs_repair reads a file system only from offset 0: give it the root's bytes alone.
    const copy = join(work, 'xfs-root.raw');
    await exec('dd', [`if=${xfs.disks[0]}`, `of=${copy}`, 'bs=1M', `skip=${root.copies[0]!.offsetBytes}`, `count=${root.copies[0]!.sizeBytes}`, 'iflag=skip_bytes,count_bytes', 'conv=sparse', 'status=none']);
    const repair = await tryRun('xfs_repair', ['-n', '-f', copy]);
    assert.equal(repair.code, 0, repair.stderr);
    const fstab = await tryRun('xfs_db', ['-r', '-c', 'ls /etc', copy]);
    assert.match(fstab.stdout, /fstab/);
  });
});

describe('raid1 and lvm layouts (built in a VM)', () => {
  test('raid1: two disks, each bootable with its own copy of /boot and of the root array member', async () => {
    const raid = await ensureLayoutDisks('raid1', { onProgress: (line) => console.log(`# ${line}`) });
    assert.equal(raid.disks.length, 2);
    const root = fsAt(raid, '/');
    const boot = fsAt(raid, '/boot');
    assert.equal(root.holder, 'raid1');
    assert.equal(root.copies.length, 2);
    for (const [index, disk] of raid.disks.entries()) {
      const table = await partitions(disk);
      assert.deepEqual(table.partitions.map((p) => p.type), ['fd', 'fd']);
      assert.equal(table.partitions[0]!.bootable, true);
      for (const fs of [root, boot]) {
        const copy = fs.copies.find((c) => c.disk === index)!;
        const check = await tryRun('e2fsck', ['-fn', `${disk}?offset=${copy.offsetBytes}`]);
        assert.equal(check.code, 0, `${fs.mount} on disk ${index}: ${check.stdout}`);
      }
    }
    const mdadmConf = await catFile(raid, root, '/etc/mdadm/mdadm.conf');
    assert.match(mdadmConf, /^ARRAY \/dev\/md\/root metadata=1\.2 UUID=[0-9a-f:]{35} name=lab:root$/m);
    assert.match(await catFile(raid, root, '/etc/fstab'), new RegExp(`^UUID=${boot.uuid} /boot ext4 `, 'm'));
  });

  test('lvm: a /boot partition and an LVM physical volume holding the root', async () => {
    const lvm = await ensureLayoutDisks('lvm', { onProgress: (line) => console.log(`# ${line}`) });
    const table = await partitions(lvm.disks[0]!);
    assert.deepEqual(table.partitions.map((p) => p.type), ['83', '8e']);
    const root = fsAt(lvm, '/');
    assert.equal(root.holder, 'lvm');
    assert.equal((await tryRun('e2fsck', ['-fn', at(lvm, root)])).code, 0);
    assert.match(lvm.kernelCommandLine, /root=\/dev\/mapper\/lab-root /);
    const pv = await tryRun('dd', [`if=${lvm.disks[0]}`, 'bs=512', `skip=${table.partitions[1]!.start + 1}`, 'count=1', 'status=none']);
    assert.match(pv.stdout, /LABELONE/);
  });

  test('degraded-raid: the second disk of the variant is blank, the first one is untouched', async () => {
    const degraded = await ensureScenarioDisks('raid1', ['degraded-raid']);
    assert.equal(degraded.disks.length, 2);
    const table = await tryRun('sfdisk', ['--json', degraded.disks[1]!]);
    assert.notEqual(table.code, 0, 'no partition table on the replaced disk');
    const root = fsAt(degraded, '/');
    assert.equal((await tryRun('e2fsck', ['-fn', `${degraded.disks[0]}?offset=${root.copies[0]!.offsetBytes}`])).code, 0);
  });

  test('a scenario on raid1 changes both members alike', async () => {
    const broken = await ensureScenarioDisks('raid1', ['broken-fstab']);
    const root = fsAt(broken, '/');
    for (const copy of root.copies) {
      const { stdout } = await tryRun('debugfs', ['-R', 'cat /etc/fstab', `${broken.disks[copy.disk]}?offset=${copy.offsetBytes}`]);
      assert.match(stdout, / \/data ext4 /);
    }
  });
});
