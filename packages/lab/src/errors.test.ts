import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LifeboatError } from '@lifeboat/core';
import { DiskError } from './disks/errors.js';
import { LabError } from './errors.js';

describe("the lab's errors: LifeboatError with the lab's own codes", () => {
  it('keep their name, code, cause and the status of core\'s table', () => {
    const cause = new Error('spawn qemu-system-x86_64 ENOENT');
    const lab = new LabError('LAB_USAGE', 'unknown layout "raid7"', { cause });
    assert.deepEqual([lab.name, lab.code, lab.status, lab.message, lab.cause], ['LabError', 'LAB_USAGE', 400, 'unknown layout "raid7"', cause]);
    assert.ok(lab instanceof LifeboatError);
    assert.match(lab.stack ?? '', /^LabError: unknown layout "raid7"\n/);
    const disk = new DiskError('LAB_DISK_LOCKED', 'another build holds the disk cache');
    assert.deepEqual([disk.name, disk.code, disk.status, String(disk)], ['DiskError', 'LAB_DISK_LOCKED', 500, 'DiskError: another build holds the disk cache']);
    assert.ok(disk instanceof LifeboatError && !(disk instanceof LabError));
  });
});
