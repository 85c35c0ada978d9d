import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { explorableDevices } from './devices.js';

describe('explorableDevices', () => {
  it('lists partitions with a filesystem, LVM volumes as vg/lv, and skips swap and members', () => {
    const inventory = {
      cpus: 2,
      disks: [
        {
          name: 'sda',
          type: 'disk',
          fstype: null,
          size: 10_737_418_240,
          children: [
            { name: 'sda1', type: 'part', fstype: 'ext4', label: 'root', size: 1000 },
            { name: 'sda2', type: 'part', fstype: 'swap', size: 10 },
            { name: 'sda3', type: 'part', fstype: 'LVM2_member', children: [{ name: 'my--vg-data', type: 'lvm', fstype: 'xfs', size: 5 }] },
          ],
        },
        { name: 'nvme0n1', type: 'disk', fstype: 'ext4', label: null, size: 2 },
      ],
    };
    assert.deepEqual(explorableDevices(inventory), [
      { name: 'sda1', fstype: 'ext4', label: 'root', size: 1000 },
      { name: 'my-vg/data', fstype: 'xfs', label: null, size: 5 },
      { name: 'nvme0n1', fstype: 'ext4', label: null, size: 2 },
    ]);
  });

  it('answers an empty list for a missing or malformed inventory', () => {
    assert.deepEqual(explorableDevices(null), []);
    assert.deepEqual(explorableDevices({ disks: 'no' }), []);
  });
});
