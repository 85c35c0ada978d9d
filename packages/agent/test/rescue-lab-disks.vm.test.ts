/**
 * The helpers against real installed Debian 12 systems: the lab's disk images (`@lifeboat/lab`,
 * layouts plain, split-var, xfs, raid1, lvm; built once and cached), all attached to one rescue VM
 * (writes discarded), logged into with a key. Each root is found by its UUID from the layout's
 * description, its fstab mounted in order, entered with chroot, checked for refusal by rescue-fsck.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureLayoutDisks, ensureWindowsDisk } from '@lifeboat/lab';
import type { LayoutDisks, LayoutName, WindowsDisk } from '@lifeboat/lab';
import { sshCommands, startRescueHarness } from './rescue-harness.js';
import type { RescueHarness } from './rescue-harness.js';
import type { SshLogin } from '@lifeboat/test-support';

const work = mkdtempSync(join(tmpdir(), 'lifeboat-lab-disks-vm-'));
const log = (line: string): void => void process.stdout.write(`# ${line}\n`);
const layouts: LayoutName[] = ['plain', 'split-var', 'xfs', 'raid1', 'lvm'];
const layoutDisks = new Map<LayoutName, LayoutDisks>();
// Windows-like disks (clean, then hibernated) attached after the Linux ones.
let windows: WindowsDisk;
let hibernated: WindowsDisk;
/** The virtio device of the disk attached at `index` (vda, vdb, ...). */
const virtioDisk = (index: number): string => `/dev/vd${String.fromCharCode(97 + index)}`;
const linuxDiskCount = (): number => layouts.flatMap((l) => layoutDisks.get(l)?.disks ?? []).length;

let harness: RescueHarness;
let login: SshLogin;
const { run, ok } = sshCommands(() => login, log);

before(async () => {
  for (const layout of layouts) layoutDisks.set(layout, await ensureLayoutDisks(layout, { onProgress: log }));
  windows = await ensureWindowsDisk('clean', { onProgress: log });
  hibernated = await ensureWindowsDisk('hibernated', { onProgress: log });
  harness = await startRescueHarness({
    work,
    mac: '52:54:00:ab:cd:02',
    serverName: 'db-1',
    disks: () => [...layouts.flatMap((l) => layoutDisks.get(l)?.disks ?? []), windows.disk, hibernated.disk],
    log,
  });
});

after(async () => {
  await harness?.close();
});

test('boots into rescue with the customer\'s key; every installed system is listed by the menu', async () => {
  login = await harness.enterWithKey();
  const menu = await ok('rescue-menu');
  // plain, split-var and xfs roots sit on partitions; raid1 and lvm behind md and LVM (counted as members).
  assert.equal((menu.match(/Debian GNU\/Linux 12/g) ?? []).length, 3, menu);
  assert.match(menu, /RAID\/LVM member/);
  // The two Windows-like disks (clean and hibernated): their C: volumes, not their recovery partitions.
  assert.equal((menu.match(/ {2}\/dev\/vd[a-z]3 {2}Windows \(NTFS volume with Windows\/System32/g) ?? []).length, 2, menu);
});

for (const layout of layouts) {
  test(`${layout}: rescue-mount mounts the installed Debian's fstab, chroot works, fsck is refused, umount undoes it`, async () => {
    const disks = layoutDisks.get(layout) as LayoutDisks;
    const root = disks.fileSystems.find((f) => f.mount === '/');
    assert.ok(root);
    const out = await ok(`rescue-mount --root UUID=${root.uuid}`);
    assert.match(out, /Installed system on \S+ mounted at \/mnt/);
    const mounted = (await ok("awk '$2 ~ \"^/mnt\" { print $1, $2, $3 }' /proc/mounts")).trim().split('\n');
    const expected = [...disks.fileSystems].sort((a, b) => a.mount.length - b.mount.length).map((f) => `${f.mount === '/' ? '/mnt' : `/mnt${f.mount}`} ${f.type}`);
    assert.deepEqual(mounted.map((l) => l.split(' ').slice(1).join(' ')), expected);
    assert.match(await ok('rescue-chroot cat /etc/debian_version'), /^12\./);
    assert.match(await ok('rescue-chroot /bin/bash -c "findmnt -n -o TARGET /proc && id -un"'), /^\/proc\nroot\n$/);
    const rootDevice = mounted[0]?.split(' ')[0] ?? '';
    const refused = await run(`rescue-fsck ${rootDevice}`);
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, /refused/);
    if (layout === 'plain') {
      const password = 'Fresh-root-pass-42';
      await ok('rescue-passwd --password-stdin', `${password}\n`);
      const hash = (await ok('grep ^root: /mnt/etc/shadow | cut -d: -f2')).trim();
      assert.equal(execFileSync('openssl', ['passwd', '-6', '-salt', hash.split('$')[2] ?? '', '-stdin'], { input: `${password}\n`, encoding: 'utf8' }).trim(), hash);
    }
    await ok('rescue-umount');
    assert.equal((await ok("awk '$2 ~ \"^/mnt\"' /proc/mounts")).trim(), '');
    assert.doesNotMatch(await ok('cat /proc/mdstat'), /^md/m, 'arrays stopped');
  });
}

test('windows: rescue-mount --windows finds C:, mounts it read-only and the ESP at /efi, skips the MSR, lists the recovery partition; files copy off', async () => {
  const disk = virtioDisk(linuxDiskCount());
  // No --root: rescue-mount looks at every NTFS volume, finds both Windows disks' C: and takes the first.
  const found = await run('rescue-mount --windows');
  assert.equal(found.code, 0, found.stderr);
  assert.match(found.stderr, new RegExp(`2 Windows volumes found; using ${disk}3`));
  const out = found.stdout;
  assert.match(out, new RegExp(`mounted Windows.* from ${disk}3 on /mnt \\(ntfs-3g, read-only\\)`));
  assert.match(out, new RegExp(`skipped ${disk}2: Microsoft reserved partition`));
  assert.match(out, new RegExp(`recovery partition: ${disk}4`));
  assert.match(out, new RegExp(`mounted EFI system partition ${disk}1 on /efi \\(ro\\)`));
  const mounts = await ok("awk '$2 == \"/mnt\" || $2 == \"/efi\" { print $1, $2, $3, $4 }' /proc/mounts");
  assert.match(mounts, new RegExp(`^${disk}3 /mnt fuseblk ro,`, 'm'));
  assert.match(mounts, new RegExp(`^${disk}1 /efi vfat ro,`, 'm'));
  assert.match(await ok('ls /efi/EFI/Microsoft/Boot'), /bootmgfw\.efi/);
  for (const doc of windows.documents) {
    const sum = (await ok(`sha256sum "/mnt/${doc.path}"`)).split(' ')[0];
    assert.equal(sum, doc.sha256, doc.path);
  }
  const write = await run('touch /mnt/should-fail');
  assert.notEqual(write.code, 0, 'C: is read-only');
  await ok('rescue-umount');
  assert.equal((await ok("awk '$2 == \"/mnt\" || $2 == \"/efi\"' /proc/mounts")).trim(), '');
});

test('windows: --read-write mounts a clean C: read-write; a hibernated C: is refused read-write with ntfs-3g\'s reason, and mounts read-only', async () => {
  const clean = `${virtioDisk(linuxDiskCount())}3`;
  const rw = await ok(`rescue-mount --read-write --root ${clean}`);
  assert.match(rw, /ntfs-3g, read-write/);
  await ok('touch /mnt/written-by-rescue && rm /mnt/written-by-rescue');
  await ok('rescue-umount');
  const hib = `${virtioDisk(linuxDiskCount() + 1)}3`;
  const refused = await run(`rescue-mount --read-write --root ${hib}`);
  assert.equal(refused.code, 6, refused.stderr);
  assert.match(refused.stderr, /ntfs-3g: Windows is hibernated, refused to mount/);
  assert.match(refused.stderr, /refused read-write: Windows is hibernated or was not shut down fully/);
  assert.equal((await ok("awk '$2 == \"/mnt\"' /proc/mounts")).trim(), '', 'nothing left mounted');
  const ro = await run(`rescue-mount --root ${hib}`);
  assert.equal(ro.code, 0, ro.stderr);
  assert.match(ro.stderr, /hibernated \(fast startup\): read-only only/);
  await ok('rescue-umount');
});
