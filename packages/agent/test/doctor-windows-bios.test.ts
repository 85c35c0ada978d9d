/**
 * The rescue doctor's windows-boot check of a BIOS install, on the host: a real MBR disk image made
 * with sfdisk (and syslinux's mbr.bin as boot code where it has some), NTFS volumes made with mkntfs
 * in image files: C: mounted read-only with ntfs-3g where the customer's `rescue-mount` would have put
 * it, System Reserved read by the doctor itself (its own read-only ntfs-3g mount). No loop device: the
 * rescue's /dev and /sys are a tree under its root, as the doctor reads them (`/dev/sdz` the disk
 * image, `/dev/sdz1` System Reserved's image, `/sys/block/sdz/sdzN/partition`). Needs root (FUSE),
 * ntfs-3g, sfdisk, syslinux-common.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { DoctorReport } from '@lifeboat/core/api';
import { Doctor } from '../src/doctor/doctor.js';
import { nodePlatform } from '../src/platform-node.js';

const exec = promisify(execFile);
const MiB = 1024 * 1024;

let work: string;
const mounted: string[] = [];
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'doctor-windows-bios-'));
});
after(async () => {
  for (const target of mounted.reverse()) await exec('umount', [target]).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
});

/** An NTFS volume of `sizeMiB` in the image file `image` holding `files` (mounted read-write with ntfs-3g to fill it, then let go). */
async function ntfsImage(image: string, label: string, sizeMiB: number, files: Record<string, string>): Promise<void> {
  await exec('truncate', ['-s', String(sizeMiB * MiB), image]);
  await exec('mkntfs', ['-Q', '-q', '-F', '-L', label, image]);
  const mnt = `${image}.mnt`;
  await mkdir(mnt);
  await exec('ntfs-3g', [image, mnt]);
  try {
    for (const [path, text] of Object.entries(files)) {
      await mkdir(join(mnt, path, '..'), { recursive: true });
      await writeFile(join(mnt, path), text);
    }
  } finally {
    await exec('umount', [mnt]);
  }
}

const sha256 = async (path: string): Promise<string> => createHash('sha256').update(await readFile(path)).digest('hex');

interface BiosDisk {
  /** The sfdisk script of the disk: System Reserved (16 MiB) then C:. */
  readonly table: string;
  /** Write syslinux's mbr.bin (boot code that starts the active partition) into the MBR. */
  readonly bootCode: boolean;
  /** What System Reserved holds. */
  readonly systemReserved: Record<string, string>;
}

/** The doctor's report on a Windows installed for BIOS on the disk `disk` describes (named `name`). */
async function doctorReport(name: string, disk: BiosDisk): Promise<{ report: DoctorReport; rescue: string; systemReserved: string; before: string }> {
  const dir = join(work, name);
  const rescue = join(dir, 'rescue');
  await mkdir(join(rescue, 'dev'), { recursive: true });
  const image = join(rescue, 'dev/sdz');
  await exec('truncate', ['-s', String(64 * MiB), image]);
  const sfdisk = exec('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', image]);
  sfdisk.child.stdin?.end(disk.table);
  await sfdisk;
  if (disk.bootCode) await exec('dd', ['if=/usr/lib/syslinux/mbr/mbr.bin', `of=${image}`, 'bs=440', 'count=1', 'conv=notrunc', 'status=none']);
  const systemReserved = join(dir, 'system-reserved.img');
  await ntfsImage(systemReserved, 'System Reserved', 16, disk.systemReserved);
  await symlink(systemReserved, join(rescue, 'dev/sdz1'));
  const c = join(dir, 'c.img');
  await ntfsImage(c, 'Windows', 40, { 'Windows/System32/drivers/etc/hosts': '127.0.0.1 localhost\r\n', 'Users/customer/notes.txt': 'notes\r\n' });
  for (const [part, n] of [['sdz1', 1], ['sdz2', 2]] as const) {
    await mkdir(join(rescue, 'sys/block/sdz', part), { recursive: true });
    await writeFile(join(rescue, 'sys/block/sdz', part, 'partition'), `${n}\n`);
  }
  // C: as the customer's rescue-mount leaves it: read-only at /mnt, its state naming /dev/sdz2.
  const installed = join(dir, 'mnt');
  await mkdir(installed);
  await exec('ntfs-3g', ['-o', 'ro', c, installed]);
  mounted.push(installed);
  await mkdir(join(rescue, 'run/lifeboat/rescue'), { recursive: true });
  await mkdir(join(rescue, 'proc/self'), { recursive: true });
  await writeFile(join(rescue, 'run/lifeboat/rescue/root'), '/dev/sdz2\n');
  await writeFile(join(rescue, 'run/lifeboat/rescue/mounts'), `${installed}\n`);
  await writeFile(join(rescue, 'proc/self/mountinfo'), `60 1 0:50 / ${installed} ro,relatime shared:1 - fuseblk /dev/sdz2 ro,user_id=0,group_id=0,allow_other,blksize=4096\n`);
  const before = await sha256(systemReserved);
  const doctor = new Doctor({ platform: nodePlatform, rootDir: rescue, customerTarget: installed, helpersDir: join(rescue, 'no-helpers') });
  return { report: await doctor.run(async () => undefined), rescue, systemReserved, before };
}

const bootFiles = { bootmgr: 'MZ boot manager', 'Boot/BCD': 'regf' };
const idCheckSeverity = (report: DoctorReport): string[][] => report.findings.map((f) => [f.id, f.check, f.severity]);

describe("the doctor's windows-boot on a BIOS install (an MBR disk image, NTFS images)", () => {
  test('syslinux\'s boot code, System Reserved active with bootmgr and Boot/BCD: nothing found; its volume read, not written, and let go', async () => {
    const { report, rescue, systemReserved, before } = await doctorReport('healthy', { table: 'label: dos\n,16M,7,*\n,,7\n', bootCode: true, systemReserved: bootFiles });
    assert.equal(report.state, 'done', report.error);
    assert.equal(report.error, undefined);
    assert.deepEqual(report.findings, []);
    assert.equal(await sha256(systemReserved), before, 'System Reserved is byte for byte as it was');
    const left = await exec('findmnt', ['-n', '--mountpoint', join(rescue, 'run/lifeboat/doctor/boot-partition')]).catch((e: { code: number }) => e);
    assert.equal((left as { code?: number }).code, 1, "the doctor's mount of System Reserved is gone");
  });

  test('no boot code and System Reserved without Boot/BCD (any case of bootmgr): both critical, with the commands that fix them', async () => {
    const { report, systemReserved, before } = await doctorReport('broken', { table: 'label: dos\n,16M,7,*\n,,7\n', bootCode: false, systemReserved: { BOOTMGR: 'MZ', 'Boot/BCD.LOG': '' } });
    assert.equal(report.state, 'done', report.error);
    assert.deepEqual(idCheckSeverity(report), [
      ['windows-boot-mbr-code', 'windows-boot', 'critical'],
      ['windows-boot-bootmgr', 'windows-boot', 'critical'],
    ]);
    const [code, bootmgr] = report.findings;
    assert.match(code?.summary ?? '', /The MBR of \/dev\/sdz has no boot code .*install-mbr \/dev\/sdz /);
    assert.deepEqual(code?.evidence, [{ command: 'od -An -v -tx1 -N512 /dev/sdz', text: "bytes 0-439 of /dev/sdz (the MBR's boot code): no boot code (all zero)" }]);
    assert.match(bootmgr?.summary ?? '', /The active partition of \/dev\/sdz \(\/dev\/sdz1\) lacks Boot\\BCD: .*bcdboot C:\\Windows \/s S: \/f BIOS/);
    assert.deepEqual(bootmgr?.evidence, [
      { command: 'od -An -v -tx1 -N512 /dev/sdz', text: '/dev/sdz partition 1: type 0x07 (NTFS), 16 MiB, active' },
      { text: 'bootmgr on /dev/sdz1: present' },
      { text: 'Boot/BCD on /dev/sdz1: missing' },
    ]);
    assert.equal(await sha256(systemReserved), before);
  });

  test('no partition marked active: critical, and System Reserved, which holds the boot files, is the one to mark', async () => {
    const { report } = await doctorReport('inactive', { table: 'label: dos\n,16M,7\n,,7\n', bootCode: true, systemReserved: bootFiles });
    assert.equal(report.state, 'done', report.error);
    assert.deepEqual(idCheckSeverity(report), [['windows-boot-active', 'windows-boot', 'critical']]);
    assert.match(report.findings[0]?.summary ?? '', /No partition of \/dev\/sdz is marked active: .*\/dev\/sdz1 \(partition 1\) holds bootmgr and Boot\/BCD: mark it active with parted \/dev\/sdz set 1 boot on\.$/);
    assert.deepEqual(report.findings[0]?.evidence.map((e) => e.text), ['/dev/sdz partition 1: type 0x07 (NTFS), 16 MiB', '/dev/sdz partition 2: type 0x07 (NTFS), 47 MiB', '/dev/sdz1 (partition 1) holds bootmgr and Boot/BCD']);
  });
});
