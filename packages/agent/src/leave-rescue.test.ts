import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { activeArrays, mountsToRelease, parseMountInfo, releaseInstalledSystem } from './leave-rescue.js';
import { nodePlatform } from './platform-node.js';

/** A rescue system's mount table after `rescue-mount` of a split-/var system and `rescue-chroot`'s binds. */
const mountinfo = [
  '22 1 0:20 / / rw,relatime - overlay overlay rw,lowerdir=/run/lower,upperdir=/run/upper/data',
  '23 22 0:5 / /dev rw,nosuid - devtmpfs devtmpfs rw,size=10240k',
  '24 22 0:21 / /proc rw,nosuid - proc proc rw',
  '25 22 7:0 / /run/lower ro,relatime - squashfs /dev/loop0 ro',
  '40 22 253:1 / /mnt rw,relatime - ext4 /dev/vda1 rw',
  '41 40 253:2 / /mnt/var rw,relatime - ext4 /dev/vda2 rw',
  '42 40 0:5 / /mnt/dev rw,nosuid - devtmpfs devtmpfs rw',
  '43 40 0:21 / /mnt/proc rw - proc proc rw',
  '44 22 9:0 / /media/my\\040data rw - xfs /dev/md0 rw',
].join('\n');

test('the mounts to release are every server disk and what lies below it, latest first; the rescue system\'s own are kept', () => {
  const entries = parseMountInfo(mountinfo);
  assert.equal(entries.length, 9);
  assert.deepEqual(
    mountsToRelease(entries).map((e) => e.mountPoint),
    ['/media/my data', '/mnt/proc', '/mnt/dev', '/mnt/var', '/mnt'],
  );
});

test('active md arrays come from /proc/mdstat, latest first; inactive ones are left', () => {
  const mdstat = 'Personalities : [raid1]\nmd1 : active raid1 vdb2[1] vda2[0]\nmd0 : active (auto-read-only) raid1 vdb1[1] vda1[0]\nmd2 : inactive vdc1[0](S)\nunused devices: <none>\n';
  assert.deepEqual(activeArrays(mdstat), ['md0', 'md1']);
});

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-leave-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The kernel's side, which a test cannot give (no installed disks here): `umount`, `mount`, `sync`
 * and `mdadm` as programs that act on the root directory's mount table and mdstat, and log their calls.
 */
function fakeKernel(root: string, busy: string[]): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const program = (name: string, body: string): void => {
    writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $*" >> "${dir}/calls"\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  const table = join(root, 'proc/self/mountinfo');
  program('sync', 'exit 0');
  program(
    'umount',
    `grep -qxF "$1" "${dir}/busy" && { echo "umount: $1: target is busy." >&2; exit 32; }
esc=$(printf '%s' "$1" | sed 's/ /\\\\040/g')
P="$esc" awk '$5 != ENVIRON["P"]' "${table}" > "${table}.new" && mv "${table}.new" "${table}"`,
  );
  program('mount', 'exit 0');
  program('mdadm', `sed -i "/^\${2#/dev/} :/d" "${root}/proc/mdstat"`);
  writeFileSync(join(dir, 'busy'), busy.map((b) => `${b}\n`).join(''));
  return bin;
}

test('release: sync, unmount deepest first, a busy mount remounted read-only and reported, arrays stopped', async () => {
  const root = join(dir, 'root');
  mkdirSync(join(root, 'proc/self'), { recursive: true });
  writeFileSync(join(root, 'proc/self/mountinfo'), `${mountinfo}\n`);
  writeFileSync(join(root, 'proc/mdstat'), 'Personalities : [raid1]\nmd0 : active raid1 vdb1[1] vda1[0]\nunused devices: <none>\n');
  const bin = fakeKernel(root, ['/media/my data']);
  const path = process.env.PATH;
  process.env.PATH = `${bin}:${path}`;
  try {
    const report = await releaseInstalledSystem(nodePlatform, { rootDir: root });
    assert.deepEqual(report.unmounted, ['/mnt/proc', '/mnt/dev', '/mnt/var', '/mnt']);
    assert.equal(report.clean, false);
    assert.equal(report.detail, 'unmounted /mnt/proc, /mnt/dev, /mnt/var, /mnt; stopped md0; /media/my data busy: remounted read-only');
    const calls = readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n').map((l) => l.trimEnd());
    assert.equal(calls[0], 'sync');
    assert.deepEqual(calls.slice(1, 3), ['umount /media/my data', 'mount -o remount,ro /media/my data']);
    assert.equal(calls.at(-2), 'mdadm --stop /dev/md0');
    assert.equal(calls.at(-1), 'sync');
    assert.doesNotMatch(readFileSync(join(root, 'proc/self/mountinfo'), 'utf8'), /\/mnt/);

    // Run again with nothing busy: clean, and only what is left is touched.
    writeFileSync(join(dir, 'busy'), '');
    const again = await releaseInstalledSystem(nodePlatform, { rootDir: root });
    assert.deepEqual(again, { unmounted: ['/media/my data'], clean: true, detail: 'unmounted /media/my data' });
    const nothing = await releaseInstalledSystem(nodePlatform, { rootDir: root });
    assert.deepEqual(nothing, { unmounted: [], clean: true, detail: 'nothing of the installed system was mounted' });
  } finally {
    process.env.PATH = path;
  }
});
