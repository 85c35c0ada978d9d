// Host-side checks of the lab's Windows-like disk: GPT layout, the ESP's boot files, the MSR without
// a file system, the NTFS C: volume (hives chntpw reads, documents to copy off), the recovery
// partition, and the hibernated scenario that ntfs-3g's own check refuses read-write.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ensureWindowsDisk, espPaths, windowsPartitionTypes, windowsPaths, type WindowsDisk, type WindowsPartition } from '../src/disks/windows-disk.js';

const exec = promisify(execFile);

async function tryRun(command: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(command, args, { maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

function part(disk: WindowsDisk, role: WindowsPartition['role']): WindowsPartition {
  const p = disk.partitions.find((q) => q.role === role);
  assert.ok(p, `the disk has a ${role} partition`);
  return p;
}

/** blkid's low-level probe of one partition inside the image (no loop device needed). */
async function probe(disk: WindowsDisk, p: WindowsPartition): Promise<Record<string, string>> {
  const { stdout } = await tryRun('blkid', ['-p', '-o', 'export', '-O', String(p.offsetBytes), '-S', String(p.sizeBytes), disk.disk]);
  return Object.fromEntries(stdout.trim().split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** Mounts partition `p` of `image` with ntfs-3g; returns the stderr of ntfs-3g and the mount options. */
async function mountNtfs(image: string, p: WindowsPartition, dir: string, options: string): Promise<{ device: string; stderr: string; mountOptions: string }> {
  const { stdout } = await exec('losetup', ['--find', '--show', '--offset', String(p.offsetBytes), '--sizelimit', String(p.sizeBytes), image]);
  const device = stdout.trim();
  await mkdir(dir, { recursive: true });
  const result = await tryRun('ntfs-3g', ['-o', options, device, dir]);
  assert.equal(result.code, 0, result.stderr);
  const mounts = await readFile('/proc/mounts', 'utf8');
  const line = mounts.split('\n').find((l) => l.split(' ')[1] === dir) ?? '';
  return { device, stderr: result.stderr, mountOptions: line.split(' ')[3] ?? '' };
}

async function release(dir: string, device: string): Promise<void> {
  await tryRun('umount', [dir]);
  await tryRun('losetup', ['-d', device]);
}

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'lab-windows-disk-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('windows layout', () => {
  let disk: WindowsDisk;
  before(async () => {
    disk = await ensureWindowsDisk('clean', { onProgress: (line) => console.log(`# ${line}`) });
  });

  test('GPT with ESP, MSR, basic data and recovery partitions, in Windows Setup order', async () => {
    const { stdout } = await exec('sfdisk', ['--json', disk.disk]);
    const table = (JSON.parse(stdout) as { partitiontable: { label: string; partitions: { start: number; size: number; type: string; name: string }[] } }).partitiontable;
    assert.equal(table.label, 'gpt');
    assert.deepEqual(
      table.partitions.map((p) => [p.type, p.name]),
      [
        [windowsPartitionTypes.esp, 'EFI system partition'],
        [windowsPartitionTypes.msr, 'Microsoft reserved partition'],
        [windowsPartitionTypes.basicData, 'Basic data partition'],
        [windowsPartitionTypes.recovery, 'Recovery'],
      ],
    );
    table.partitions.forEach((p, i) => assert.equal(p.start * 512, disk.partitions[i]!.offsetBytes));
  });

  test('file systems: FAT32 ESP, nothing on the MSR, NTFS C: and recovery', async () => {
    const esp = await probe(disk, part(disk, 'esp'));
    assert.equal(esp.TYPE, 'vfat');
    assert.equal(esp.VERSION, 'FAT32');
    assert.equal(esp.LABEL, 'SYSTEM');
    assert.equal((await probe(disk, part(disk, 'msr'))).TYPE, undefined);
    assert.deepEqual([(await probe(disk, part(disk, 'windows'))).TYPE, (await probe(disk, part(disk, 'windows'))).LABEL], ['ntfs', 'Windows']);
    assert.deepEqual([(await probe(disk, part(disk, 'recovery'))).TYPE, (await probe(disk, part(disk, 'recovery'))).LABEL], ['ntfs', 'Recovery']);
  });

  test('the ESP holds the stand-in boot manager and a BCD hive naming Windows Boot Manager', async () => {
    const at = `${disk.disk}@@${part(disk, 'esp').offsetBytes}`;
    const { stdout } = await exec('mdir', ['-b', '-i', at, '::/EFI/Microsoft/Boot']);
    assert.match(stdout, /bootmgfw\.efi/i);
    const bcd = join(work, 'BCD');
    await exec('mcopy', ['-i', at, `::/${espPaths.bcd}`, bcd]);
    const { stdout: element } = await exec('hivexget', [bcd, 'Objects\\{9dea862c-5cdd-4e70-acc1-f32b344d4795}\\Elements\\12000004', 'Element']);
    assert.equal(element.trim(), 'Windows Boot Manager');
  });

  test('C: mounts read-only with ntfs-3g: Windows/System32, SAM users in chntpw, documents intact', async () => {
    const mnt = join(work, 'c');
    const { device, mountOptions } = await mountNtfs(disk.disk, part(disk, 'windows'), mnt, 'ro');
    try {
      assert.match(mountOptions, /(^|,)ro(,|$)/);
      const { stdout } = await exec('chntpw', ['-l', join(mnt, windowsPaths.sam)]);
      for (const user of disk.users) assert.match(stdout, new RegExp(`\\| ${user.rid.toString(16).padStart(4, '0')} \\| ${user.name} `));
      for (const doc of disk.documents) {
        const data = await readFile(join(mnt, doc.path));
        assert.equal(createHash('sha256').update(data).digest('hex'), doc.sha256, doc.path);
      }
      assert.equal(disk.documents.length, 3);
    } finally {
      await release(mnt, device);
    }
  });
});

describe('windows layout, hibernated scenario', () => {
  test("ntfs-3g's hibernation check refuses C: read-write (falls back to read-only); the clean disk mounts read-write", async () => {
    const hibernated = await ensureWindowsDisk('hibernated');
    assert.equal(hibernated.scenario, 'hibernated');
    // Work on copies: the cached images are never written.
    const copy = join(work, 'hibernated.raw');
    await exec('cp', ['--sparse=always', hibernated.disk, copy]);
    const mnt = join(work, 'hib');
    const tried = await mountNtfs(copy, part(hibernated, 'windows'), mnt, 'rw');
    try {
      assert.match(tried.stderr, /Windows is hibernated, refused to mount/);
      assert.match(tried.mountOptions, /(^|,)ro(,|$)/);
    } finally {
      await release(mnt, tried.device);
    }
    const clean = await ensureWindowsDisk('clean');
    const cleanCopy = join(work, 'clean.raw');
    await exec('cp', ['--sparse=always', clean.disk, cleanCopy]);
    const ok = await mountNtfs(cleanCopy, part(clean, 'windows'), mnt, 'rw');
    try {
      assert.doesNotMatch(ok.stderr, /hibernated/);
      assert.match(ok.mountOptions, /(^|,)rw(,|$)/);
    } finally {
      await release(mnt, ok.device);
    }
  });
});
