/**
 * `fsck DEVICE`: checks a file system read-only (by type: e2fsck -n, xfs_repair -n, btrfs check
 * --readonly, fsck.vfat -n) or, with `repair`, repairs it (e2fsck -fy, xfs_repair, fsck.vfat -a).
 * `btrfs check --repair` is refused: btrfs's own documentation warns it can make things worse.
 * The device is held (devices.ts) for the whole check.
 */
import { LifeboatError } from '@lifeboat/core/errors';
import type { Runner } from './runner.js';
import { lastLines } from './runner.js';

/** The command for a file system type, or null when there is no checker. */
export function checkerFor(fsType: string, path: string, repair: boolean): { program: string; args: string[]; opensExclusively: boolean } | null {
  switch (fsType) {
    case 'ext2':
    case 'ext3':
    case 'ext4':
      return repair ? { program: 'e2fsck', args: ['-f', '-y', path], opensExclusively: true } : { program: 'e2fsck', args: ['-f', '-n', path], opensExclusively: false };
    case 'xfs':
      return repair ? { program: 'xfs_repair', args: [path], opensExclusively: true } : { program: 'xfs_repair', args: ['-n', path], opensExclusively: false };
    case 'btrfs':
      if (repair) throw new LifeboatError('BAD_REQUEST', 'btrfs check --repair is not offered: btrfs documents it as a last resort that can make damage worse; check read-only, then use btrfs rescue or restore from SSH');
      return { program: 'btrfs', args: ['check', '--readonly', path], opensExclusively: false };
    case 'vfat':
      return repair ? { program: 'fsck.vfat', args: ['-a', path], opensExclusively: true } : { program: 'fsck.vfat', args: ['-n', path], opensExclusively: false };
    default:
      return null;
  }
}

/** What a checker's exit status means. */
export function interpretFsck(program: string, status: number, repair: boolean): { status: 'passed' | 'failed' | 'error'; verdict: string } {
  if (program === 'e2fsck') {
    if (status === 0) return { status: 'passed', verdict: 'clean' };
    // 4 before 8: 12 is "errors found, and the check could not go on" (e2fsck -n on a lost root inode).
    if (status & 4) {
      const stopped = status & 8 ? '; the check stopped early' : '';
      return { status: 'failed', verdict: repair ? `errors found and left uncorrected${stopped}` : `errors found (nothing changed: run with repair to fix them)${stopped}` };
    }
    if (status & 8 || status & 16 || status & 32) return { status: 'error', verdict: `e2fsck could not check (status ${status})` };
    if (status & 1 || status & 2) return { status: 'failed', verdict: 'errors found and fixed' };
    return { status: 'error', verdict: `e2fsck exited with ${status}` };
  }
  if (status === 0) return { status: 'passed', verdict: repair ? 'clean (nothing left to repair)' : 'clean' };
  if (program === 'fsck.vfat' && status === 1) return { status: 'failed', verdict: repair ? 'errors found and fixed' : 'errors found (nothing changed: run with repair to fix them)' };
  if (program === 'xfs_repair' && status === 1) return { status: 'failed', verdict: 'corruption found (nothing changed: run with repair to fix it)' };
  if (program === 'xfs_repair' && status === 2) return { status: 'error', verdict: 'the XFS log needs replaying: mount and unmount the file system first, then check again' };
  if (program === 'btrfs' && status === 1) return { status: 'failed', verdict: 'errors found (nothing changed)' };
  return { status: 'error', verdict: `${program} exited with ${status}` };
}

/** Holds a device for a check; given by the handler (devices.ts `holdForCheck`). */
export type CheckHold = { release(): Promise<void>; dropExclusiveOpen(): void };

/** `fsck DEVICE` (the device is held by the handler before this runs). */
export function fsckRunner(hold: CheckHold): Runner {
  return async (context) => {
    const device = context.device;
    if (!device) return { status: 'error', summary: 'fsck needs a device', result: null };
    const probe = await context.run('blkid', ['-p', '-o', 'value', '-s', 'TYPE', device.path]);
    const fsType = probe.stdout.trim();
    if (!fsType) {
      throw new LifeboatError('BAD_REQUEST', `no file system on ${device.name}${device.kernelName === device.disk ? ' (a whole disk: check one of its partitions, see the partitions test)' : ''}`);
    }
    const checker = checkerFor(fsType, device.path, context.params.repair);
    if (!checker) throw new LifeboatError('BAD_REQUEST', `no checker for a ${fsType} file system (${device.name}): ext2/3/4, xfs, btrfs and vfat can be checked`);
    // A repairing checker opens the device O_EXCL itself: it takes the exclusive open over from us
    // (the hold record stays; the checker then refuses a mount, and a mount refuses it).
    if (checker.opensExclusively) hold.dropExclusiveOpen();
    context.progress(5, `${context.params.repair ? 'repairing' : 'checking'} ${fsType} on ${device.name}`);
    const result = await context.run(checker.program, checker.args);
    context.stop.throwIfStopped();
    const verdict = interpretFsck(checker.program, result.status, context.params.repair);
    return {
      status: verdict.status,
      summary: `${fsType} on ${device.name}: ${verdict.verdict}${verdict.status === 'error' ? `: ${lastLines(result.stderr || result.stdout)}` : ''}`,
      result: { device: device.name, fsType, command: [checker.program, ...checker.args].join(' '), exitStatus: result.status, repaired: context.params.repair, output: `${result.stdout}${result.stderr}`.slice(-60_000) },
    };
  };
}
