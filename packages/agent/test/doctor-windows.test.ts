/**
 * The rescue doctor on the lab's Windows-like disks (`@lifeboat/lab`), on the host: C: is mounted
 * read-only with ntfs-3g and the EFI system partition's files copied out, where the customer's `rescue-mount`
 * would have put them (its state names both), and the doctor reads that mount: the real hives, the
 * real hiberfil.sys, the real chntpw. The lab disks are cached images: read-only loop devices, never
 * written. Needs root, ntfs-3g, chntpw, libhivex-bin (the disks' build).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { DoctorReport } from '@lifeboat/core/api';
import { ensureWindowsDisk, type WindowsDisk, type WindowsScenarioName } from '@lifeboat/lab';
import { Doctor } from '../src/doctor/doctor.js';
import { nodePlatform } from '../src/platform-node.js';

const exec = promisify(execFile);

let work: string;
const undo: Array<() => Promise<void>> = [];
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'doctor-windows-'));
});
after(async () => {
  for (const step of undo.reverse()) await step();
  await rm(work, { recursive: true, force: true });
});

/** C: of `disk` on a read-only loop device, mounted read-only with ntfs-3g at `target` (unmounted after the tests). */
async function mountWindows(disk: WindowsDisk, target: string): Promise<string> {
  const p = disk.partitions.find((q) => q.role === 'windows')!;
  const { stdout } = await exec('losetup', ['--find', '--show', '--read-only', '--offset', String(p.offsetBytes), '--sizelimit', String(p.sizeBytes), disk.disk]);
  const device = stdout.trim();
  undo.push(async () => {
    await exec('losetup', ['-d', device]).catch(() => undefined);
  });
  await mkdir(target, { recursive: true });
  await exec('ntfs-3g', ['-o', 'ro', device, target]);
  undo.push(async () => {
    await exec('umount', [target]).catch(() => undefined);
  });
  return device;
}

/**
 * The ESP of `disk`, its files copied out with mtools to `target` (this host's kernel may have no
 * vfat; the rescue mounts it): a directory that is no mount point, which the doctor names by its path.
 */
async function copyEsp(disk: WindowsDisk, target: string): Promise<void> {
  const p = disk.partitions.find((q) => q.role === 'esp')!;
  await mkdir(target, { recursive: true });
  await exec('mcopy', ['-s', '-n', '-i', `${disk.disk}@@${p.offsetBytes}`, '::/EFI', target]);
}

/** The doctor's report on the lab's Windows disk `scenario`, C: and the ESP mounted as rescue-mount would. */
async function doctorReport(scenario: WindowsScenarioName, options: { withoutEsp?: boolean; removeFromEsp?: string } = {}): Promise<{ report: DoctorReport; c: string; rescue: string }> {
  const disk = await ensureWindowsDisk(scenario);
  const dir = join(work, `${scenario}${options.withoutEsp ? '-no-esp' : ''}${options.removeFromEsp ? '-broken-esp' : ''}`);
  const installed = join(dir, 'mnt');
  const espDir = join(dir, 'efi');
  const c = await mountWindows(disk, installed);
  if (!options.withoutEsp) await copyEsp(disk, espDir);
  if (options.removeFromEsp) await rm(join(espDir, options.removeFromEsp));
  const rescue = join(dir, 'rescue');
  await mkdir(join(rescue, 'run/lifeboat/rescue'), { recursive: true });
  await mkdir(join(rescue, 'proc/self'), { recursive: true });
  await writeFile(join(rescue, 'run/lifeboat/rescue/root'), `${c}\n`);
  await writeFile(join(rescue, 'run/lifeboat/rescue/mounts'), `${installed}\n${options.withoutEsp ? '' : `${espDir}\n`}`);
  await writeFile(join(rescue, 'proc/self/mountinfo'), `60 1 0:50 / ${installed} ro,relatime shared:1 - fuseblk ${c} ro,user_id=0,group_id=0,allow_other,blksize=4096\n`);
  const doctor = new Doctor({ platform: nodePlatform, rootDir: rescue, customerTarget: installed, helpersDir: join(rescue, 'no-helpers') });
  return { report: await doctor.run(async () => undefined), c, rescue };
}

const idCheckSeverity = (report: DoctorReport): string[][] => report.findings.map((f) => [f.id, f.check, f.severity]);

describe('the doctor on the lab\'s Windows disks', () => {
  test('clean: the locked-out customer and the disabled Administrator, read with chntpw from the real SAM; nothing else', async () => {
    const { report, c, rescue } = await doctorReport('clean');
    assert.equal(report.state, 'done', report.error);
    assert.equal(report.error, undefined);
    assert.equal(report.installedSystem, `${c} (ntfs)`);
    assert.deepEqual(idCheckSeverity(report), [
      ['windows-locked-customer', 'windows-accounts', 'warning'],
      ['windows-admins-disabled', 'windows-accounts', 'warning'],
    ]);
    const [locked, admins] = report.findings;
    assert.deepEqual(locked?.evidence, [
      { command: 'chntpw -l /Windows/System32/config/SAM', text: '| 03e9 | customer                       |        | dis/lock |' },
      { command: 'chntpw -u 0x03e9 /Windows/System32/config/SAM', text: 'Account bits: 0x0410 = Normal account, Auto lockout; failed logins: 5' },
    ]);
    assert.match(locked?.summary ?? '', /rescue-winpass customer --unlock/);
    assert.deepEqual(admins?.evidence, [
      { command: 'chntpw -l /Windows/System32/config/SAM', text: '| 01f4 | Administrator                  | ADMIN  | dis/lock |' },
      { command: 'chntpw -u 0x01f4 /Windows/System32/config/SAM', text: 'Account bits: 0x0011 = Disabled, Normal account; failed logins: 0' },
    ]);
    assert.match(await readFile(join(rescue, 'run/lifeboat/doctor/report.txt'), 'utf8'), /windows-locked-customer/);
    const left = await exec('ls', [join(rescue, 'run/lifeboat/doctor')]);
    assert.doesNotMatch(left.stdout, /sam/, 'the copy of the SAM hive chntpw read is gone');
  });

  test('hibernated: the hibernation warning first, then the same accounts; the ESP has its boot files', async () => {
    const { report } = await doctorReport('hibernated');
    assert.equal(report.state, 'done', report.error);
    assert.deepEqual(idCheckSeverity(report), [
      ['windows-hibernated', 'windows-hibernation', 'warning'],
      ['windows-locked-customer', 'windows-accounts', 'warning'],
      ['windows-admins-disabled', 'windows-accounts', 'warning'],
    ]);
    assert.deepEqual(report.findings[0]?.evidence[0], { file: '/hiberfil.sys', text: 'hiberfil.sys starts with "HIBR": a hibernated session' });
    assert.match(report.findings[1]?.summary ?? '', /C: is hibernated: see windows-hibernated first/);
  });

  test('without the ESP mounted, windows-boot says nothing (it cannot tell); the Linux checks never speak', async () => {
    const { report } = await doctorReport('clean', { withoutEsp: true });
    assert.equal(report.state, 'done', report.error);
    assert.deepEqual(report.findings.map((f) => f.check), ['windows-accounts', 'windows-accounts']);
  });

  test('an ESP without its BCD: windows-boot is critical, the paths checked as evidence', async () => {
    const { report, rescue } = await doctorReport('clean', { removeFromEsp: 'EFI/Microsoft/Boot/BCD' });
    const esp = join(rescue, '..', 'efi');
    assert.deepEqual(idCheckSeverity(report)[0], ['windows-boot-files', 'windows-boot', 'critical']);
    assert.deepEqual(report.findings[0]?.evidence, [{ text: `EFI/Microsoft/Boot/bootmgfw.efi on ${esp}: present` }, { text: `EFI/Microsoft/Boot/BCD on ${esp}: missing` }]);
  });
});
