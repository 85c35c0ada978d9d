/**
 * Hardware tests on real block devices of this machine (loop devices over scratch images, as root):
 * the exclusion races without a VM — mount-then-fsck refused naming the mount, fsck-then-mount
 * refused by the kernel (O_EXCL) with the hold recorded, two checks of one device refused — and fsck
 * and readtest runs end to end through {@link HardwareTests} on e2fsprogs. The tests in the rescue VM
 * (SMART, memtester, stress-ng) are in hardware-tests.vm.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { HardwareTestWorkParams, WorkProgress } from '@lifeboat/core/api';
import { HardwareTests } from '../src/hardware-tests/hardware-tests.js';
import { holdForCheck, resolveDevice } from '../src/hardware-tests/devices.js';
import { nodePlatform } from '../src/platform-node.js';
import { Stop } from '../src/platform.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-hwtests-'));
const rootDir = join(dir, 'root');
let loop = '';
let loopName = '';

function sh(program: string, ...args: string[]): string {
  return execFileSync(program, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** A root for the agent's files (/run/lifeboat/holds) whose /proc and /sys are the machine's own. */
function makeRoot(): void {
  sh('mkdir', '-p', join(rootDir, 'run'));
  sh('ln', '-s', '/proc', join(rootDir, 'proc'));
  sh('ln', '-s', '/sys', join(rootDir, 'sys'));
  sh('ln', '-s', '/dev', join(rootDir, 'dev'));
}

function params(kind: HardwareTestWorkParams['kind'], device: string | null, extra: Partial<HardwareTestWorkParams> = {}): HardwareTestWorkParams {
  return { testId: `t-${kind}-${Math.random().toString(36).slice(2, 8)}`, kind, device, durationSeconds: null, sizeBytes: null, repair: false, selfTest: null, ...extra };
}

function tests(reports: WorkProgress[] = [], cancelAfter = Infinity): HardwareTests {
  return new HardwareTests({
    platform: nodePlatform,
    rootDir,
    log: { info: () => undefined },
    progress: async (_workId, report) => {
      reports.push(report);
      return { cancel: reports.length >= cancelAfter };
    },
  });
}

function mountFails(mountPoint: string): string {
  try {
    sh('mount', loop, mountPoint);
  } catch (error) {
    return String((error as { stderr?: string }).stderr ?? error);
  }
  sh('umount', mountPoint);
  return '';
}

describe('hardware tests on a loop device', () => {
  before(() => {
    makeRoot();
    const image = join(dir, 'fs.img');
    sh('truncate', '-s', '64M', image);
    sh('mkfs.ext4', '-q', '-F', image);
    loop = sh('losetup', '-f', '--show', image);
    loopName = loop.replace('/dev/', '');
  });
  after(() => {
    try {
      sh('umount', join(dir, 'mnt'));
    } catch {
      // not mounted
    }
    if (loop) sh('losetup', '-d', loop);
    rmSync(dir, { recursive: true, force: true });
  });

  it('checks a clean file system and reports progress', async () => {
    const reports: WorkProgress[] = [];
    const outcome = await tests(reports).run('w1', params('fsck', loopName), new Stop());
    assert.equal(outcome.status, 'passed', outcome.summary);
    assert.match(outcome.summary, /ext4 on loop\d+: clean/);
    assert.ok(reports.length >= 1);
    assert.ok(reports.every((r, i) => i === 0 || r.progress >= (reports[i - 1]?.progress ?? 0)));
    assert.equal(existsSync(join(rootDir, 'run/lifeboat/holds', `${loopName}.json`)), false, 'the hold is gone after the check');
  });

  it('mount, then fsck: refused with DEVICE_BUSY naming the mount', async () => {
    const mountPoint = join(dir, 'mnt');
    sh('mkdir', '-p', mountPoint);
    sh('mount', loop, mountPoint);
    try {
      const outcome = await tests().run('w2', params('fsck', loopName), new Stop());
      assert.equal(outcome.status, 'error');
      assert.deepEqual(outcome.result, { code: 'DEVICE_BUSY' });
      assert.match(outcome.summary, new RegExp(`refused: ${loopName} is mounted on ${mountPoint}`));
    } finally {
      sh('umount', mountPoint);
    }
  });

  it('fsck, then mount: the kernel refuses the mount while the check holds the device, the hold names the test', async () => {
    const device = await resolveDevice(nodePlatform, rootDir, loopName);
    const hold = await holdForCheck(nodePlatform, rootDir, device, 'test-42');
    const mountPoint = join(dir, 'mnt');
    sh('mkdir', '-p', mountPoint);
    try {
      assert.match(mountFails(mountPoint), /busy|already mounted/i);
      const record = JSON.parse(readFileSync(join(rootDir, 'run/lifeboat/holds', `${loopName}.json`), 'utf8')) as { holder: string; testId: string };
      assert.deepEqual([record.holder, record.testId], ['fsck', 'test-42']);
      // A second check of the device is refused, naming the first.
      const second = await tests().run('w3', params('fsck', loopName), new Stop());
      assert.equal(second.status, 'error');
      assert.match(second.summary, /a file system check of loop\d+ is running \(test test-42\)/);
    } finally {
      await hold.release();
    }
    assert.equal(mountFails(mountPoint), '', 'mounts again once the check ended');
  });

  it('two checks of one device at once: the second is refused, the first completes', async () => {
    const runner = tests();
    const [first, second] = await Promise.all([runner.run('w4', params('fsck', loopName), new Stop()), runner.run('w5', params('fsck', loopName), new Stop())]);
    assert.equal(first.status, 'passed', first.summary);
    assert.equal(second.status, 'error');
    assert.deepEqual(second.result, { code: 'DEVICE_BUSY' });
  });

  it('finds errors in a damaged file system and repairs them only when asked', async () => {
    sh('debugfs', '-w', '-R', 'clri <2>', loop);
    const check = await tests().run('w6', params('fsck', loopName), new Stop());
    assert.equal(check.status, 'failed', check.summary);
    assert.match(check.summary, /errors found \(nothing changed/);
    const repair = await tests().run('w7', params('fsck', loopName, { repair: true }), new Stop());
    assert.equal(repair.status, 'failed', repair.summary);
    assert.match(repair.summary, /errors found and fixed/);
    const again = await tests().run('w8', params('fsck', loopName), new Stop());
    assert.equal(again.status, 'passed', again.summary);
  });

  it('reads the whole device with its throughput', async () => {
    const outcome = await tests().run('w9', params('readtest', loopName), new Stop());
    assert.equal(outcome.status, 'passed', outcome.summary);
    const result = outcome.result as { bytes: number; mbPerSecond: number; badBlocks: number };
    assert.equal(result.bytes, 64 * 1024 * 1024);
    assert.equal(result.badBlocks, 0);
    assert.ok(result.mbPerSecond > 0);
  });

  it('cancel kills the test\'s process group and reports cancelled', async () => {
    const image = join(dir, 'big.img');
    sh('truncate', '-s', '16G', image);
    const big = sh('losetup', '-f', '--show', image);
    try {
      const reports: WorkProgress[] = [];
      const started = Date.now();
      const outcome = await tests(reports, 2).run('w14', params('readtest', big.replace('/dev/', '')), new Stop());
      assert.equal(outcome.status, 'cancelled', outcome.summary);
      assert.match(outcome.summary, /^cancelled at \d+ %/);
      assert.ok(Date.now() - started < 30_000);
      const left = sh('ps', '-eo', 'args').split('\n').filter((line) => line.includes(`badblocks -sv -b 4096 ${big}`));
      assert.deepEqual(left, [], 'no badblocks left behind');
    } finally {
      sh('losetup', '-d', big);
    }
  });

  it('refuses unknown devices and a whole device without a file system', async () => {
    const unknown = await tests().run('w10', params('fsck', 'sdzz9'), new Stop());
    assert.deepEqual([unknown.status, unknown.result], ['error', { code: 'DEVICE_NOT_FOUND' }]);
    const bad = await tests().run('w11', params('fsck', '../etc'), new Stop());
    assert.deepEqual(bad.result, { code: 'DEVICE_NOT_FOUND' });
    const noDevice = await tests().run('w12', { ...params('fsck', null) }, new Stop());
    assert.deepEqual(noDevice.result, { code: 'BAD_REQUEST' });
  });

  it('partitions lists the loop device, what is mounted and by whom', async () => {
    const outcome = await tests().run('w13', params('partitions', null), new Stop());
    assert.ok(outcome.status === 'passed' || outcome.status === 'failed', outcome.summary);
    assert.match(outcome.summary, /disk\(s\)/);
  });
});
