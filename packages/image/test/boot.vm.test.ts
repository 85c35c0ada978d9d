/**
 * Boots the rescue image in QEMU (TCG) as a server netboots it, twice: the initrd fetches the
 * squashfs over HTTP, switches into it; the rescue system has the tool set, runs from RAM, makes new
 * SSH host keys at each boot, and loads the drivers beside sshd's start (a marker file says when they
 * are in). The agent is left out (its own tests log in with a password hash from a control plane):
 * this image carries an authorized key instead, so that init starts sshd.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureRescueImage } from '../src/index.js';
import type { RescueImage } from '../src/index.js';
import { bootVm, serveFiles, sshRun } from '@lifeboat/test-support';
import type { BootedVm, FileServer } from '@lifeboat/test-support';

const work = mkdtempSync(join(tmpdir(), 'lifeboat-image-boot-'));
const key = join(work, 'id_ed25519');
let image: RescueImage;
let files: FileServer;
const vms: BootedVm[] = [];

before(async () => {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  image = await ensureRescueImage({
    rescueFiles: [{ path: '/root/.ssh/authorized_keys', content: readFileSync(`${key}.pub`), mode: 0o600 }],
    onProgress: (line) => console.log(`# ${line}`),
  });
  files = await serveFiles([join(image.dir, 'rootfs.squashfs')]);
  execFileSync('truncate', ['-s', '64M', join(work, 'disk.raw')]);
});

after(async () => {
  for (const vm of vms) await vm.stop();
  await files?.close();
  rmSync(work, { recursive: true, force: true });
});

async function boot(): Promise<BootedVm> {
  const vm = await bootVm({
    vmlinuz: join(image.dir, 'vmlinuz'),
    initrd: join(image.dir, 'initrd'),
    append: `lifeboat.url=http://10.0.2.2:9 lifeboat.server=test lifeboat.token=unused lifeboat.rootfs=http://10.0.2.2:${files.port}/rootfs.squashfs`,
    workDir: work,
    disks: [join(work, 'disk.raw')],
  });
  vms.push(vm);
  return vm;
}

const fingerprints = (log: string): string[] =>
  /-----BEGIN SSH HOST KEY FINGERPRINTS-----\r?\n([\s\S]*?)-----END SSH HOST KEY FINGERPRINTS-----/.exec(log)?.[1]?.trim().split(/\r?\n/) ?? [];

const tools = ['sshd', 'ssh', 'fdisk', 'sfdisk', 'lsblk', 'mount', 'wipefs', 'gdisk', 'parted', 'mkfs.ext4', 'e2fsck', 'mkfs.xfs', 'xfs_repair',
  'mkfs.btrfs', 'mkfs.vfat', 'ntfs-3g', 'mdadm', 'lvm', 'cryptsetup', 'smartctl', 'nvme', 'hdparm', 'memtester', 'stress-ng', 'testdisk',
  'rsync', 'curl', 'tmux', 'nano', 'apt', 'ip', 'busybox', 'modprobe'];

test('the image boots into RAM with the tool set, a serial login and fresh host keys at each boot', async () => {
  const first = await boot();
  await first.waitForSshBanner(180_000);
  const bootSeconds = (Date.now() - first.startedAt) / 1000;
  console.log(`# boot to SSH banner: ${bootSeconds.toFixed(1)} s (TCG, shared CPU)`);
  assert.equal(files.requests.get('/rootfs.squashfs'), 1, 'the initrd fetched the root file system over HTTP once');

  const root = (await sshRun(first.sshPort, key, 'findmnt -n -o FSTYPE /')).trim();
  assert.equal(root, 'overlay', 'the root is the RAM overlay');
  const mounts = await sshRun(first.sshPort, key, 'cat /proc/mounts');
  assert.doesNotMatch(mounts, /^\/dev\/vd/m, 'no disk is mounted');
  const missing = (await sshRun(first.sshPort, key, `for t in ${tools.join(' ')}; do command -v $t >/dev/null || echo $t; done`)).trim();
  assert.equal(missing, '', `tools missing from the image: ${missing}`);
  // Drivers load in the background while sshd starts; the marker says when they are all in.
  await sshRun(first.sshPort, key, 'timeout 120 sh -c "until [ -e /run/lifeboat/drivers-loaded ]; do sleep 0.2; done"', 130_000);
  await first.waitForSerial(/lifeboat: drivers loaded/, 10_000);
  assert.match(await sshRun(first.sshPort, key, 'lsblk -dn -o NAME,SIZE'), /^vda\s+64M$/m, 'disk drivers were loaded (virtio_blk)');
  assert.match(await sshRun(first.sshPort, key, 'tmux -V && nano --version | head -1 && mdadm --version 2>&1'), /tmux/);
  const cmdline = await sshRun(first.sshPort, key, 'cat /proc/cmdline');
  assert.doesNotMatch(cmdline, /password|\$6\$/i, 'no secret on the kernel command line');

  await first.waitForSerial(/login: /, 60_000);
  await first.waitForSerial(/-----END SSH HOST KEY FINGERPRINTS-----/, 30_000);
  const firstKeys = fingerprints(first.serialLog());
  assert.ok(firstKeys.some((l) => /ED25519/.test(l)), `the console shows the host key fingerprints: ${firstKeys.join('; ')}`);
  const served = (await sshRun(first.sshPort, key, 'ssh-keygen -l -f /etc/ssh/ssh_host_ed25519_key.pub')).trim();
  assert.ok(firstKeys.includes(served), 'sshd serves the key shown on the console');
  await first.stop();

  const second = await boot();
  await second.waitForSshBanner(180_000);
  await second.waitForSerial(/-----END SSH HOST KEY FINGERPRINTS-----/, 30_000);
  const secondKeys = fingerprints(second.serialLog());
  assert.equal(secondKeys.length, firstKeys.length);
  for (const k of secondKeys) assert.ok(!firstKeys.includes(k), `host key reused across boots: ${k}`);
  await second.stop();
});
