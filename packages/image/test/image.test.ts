/**
 * The built image: its manifest describes its files, it is within the size target, a second request
 * comes from the cache in seconds, and a change to Lifeboat's own files rebuilds only the initrd.
 * Builds the image first on a machine that has none cached (minutes).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureRescueImage, imageFileNames, rescuePackages } from '../src/index.js';
import type { RescueImage } from '../src/index.js';

const work = mkdtempSync(join(tmpdir(), 'lifeboat-image-'));
let image: RescueImage;

before(async () => {
  image = await ensureRescueImage({ onProgress: (line) => console.log(`# ${line}`) });
});
after(() => rmSync(work, { recursive: true, force: true }));

test('the manifest gives the size and sha256 of each file, the packages and the build', () => {
  const m = image.manifest;
  for (const name of imageFileNames) {
    const data = readFileSync(join(image.dir, name));
    assert.equal(m.files[name].size, data.length, name);
    assert.equal(m.files[name].sha256, createHash('sha256').update(data).digest('hex'), name);
  }
  assert.equal(m.totalBytes, imageFileNames.reduce((s, n) => s + m.files[n].size, 0));
  const installed = new Set(m.packages.map((p) => p.name));
  for (const p of rescuePackages) assert.ok(installed.has(p), `package ${p} is installed`);
  assert.ok(m.packages.every((p) => p.version.length > 0));
  assert.match(m.kernelVersion, /^\d+\.\d+\.\d+-\d+-amd64$/);
  assert.ok(Date.parse(m.builtAt) > 0 && m.rootfsBuildSeconds > 0);
  assert.deepEqual(JSON.parse(readFileSync(join(image.dir, 'manifest.json'), 'utf8')), m);
});

// The target: the compressed image (what a server downloads) is at most 80 MB.
test('the compressed image is at most 80 MB (the issue\'s target)', () => {
  const { files, totalBytes } = image.manifest;
  console.log(`# vmlinuz ${files.vmlinuz.size}, initrd ${files.initrd.size}, rootfs.squashfs ${files['rootfs.squashfs'].size}, total ${totalBytes} bytes`);
  assert.ok(totalBytes <= 80e6, `${(totalBytes / 1e6).toFixed(1)} MB`);
  assert.ok(files.initrd.size < 12e6, 'the initrd stays small (fast to unpack under emulation)');
});

test('the squashfs holds no SSH host key and no initramfs-tools initrd', () => {
  const listing = execFileSync('unsquashfs', ['-l', '-d', '', join(image.dir, 'rootfs.squashfs')], { encoding: 'utf8', maxBuffer: 256e6 });
  const has = (pattern: RegExp): boolean => pattern.test(listing);
  assert.ok(has(/^\/usr\/sbin\/sshd$/m), 'sshd is there');
  assert.ok(!has(/ssh_host_.*_key/), 'no SSH host key');
  assert.ok(!has(/^\/boot\/./m), 'nothing in /boot');
  assert.ok(!has(/\/kernel\/(drivers\/gpu|sound)\/.*\.ko$/m), 'no GPU or sound module');
  assert.ok(has(/\/kernel\/drivers\/scsi\/megaraid\/megaraid_sas\.ko$/m), 'RAID controller modules are kept');
  assert.ok(!has(/^\/usr\/share\/perl\//m), 'no Perl beyond perl-base');
});

test('the initrd carries busybox, its /init, the boot modules and the rescue system init', () => {
  const cpio = join(work, 'initrd.cpio');
  writeFileSync(cpio, execFileSync('zstd', ['-dc', join(image.dir, 'initrd')], { maxBuffer: 256e6 }));
  const names = execFileSync('cpio', ['-it', '--quiet', '-F', cpio], { encoding: 'utf8', maxBuffer: 64e6 }).split('\n');
  for (const expected of ['init', 'bin/busybox', 'bin/udhcpc', 'bin/switch_root', 'dev/console', 'lib/lifeboat/root/etc/inittab', 'lib/lifeboat/root/usr/lib/lifeboat/rescue-rc']) {
    assert.ok(names.includes(expected), expected);
  }
  for (const module of ['virtio_net.ko', 'virtio_pci.ko', 'loop.ko', 'squashfs.ko', 'overlay.ko', 'e1000e.ko']) {
    assert.ok(names.some((n) => n.endsWith(`/${module}`)), module);
  }
  assert.ok(names.some((n) => n.endsWith('/modules.alias')), 'modules.alias lets /init load the NIC driver by alias');
});

test('a second request with nothing changed comes from the cache in seconds', async () => {
  const started = Date.now();
  const again = await ensureRescueImage();
  assert.equal(again.cached, true);
  assert.equal(again.dir, image.dir);
  assert.ok(Date.now() - started < 10_000, `${Date.now() - started} ms`);
});

test('a change to Lifeboat files rebuilds the initrd only, in seconds, sharing the root file system', async () => {
  const started = Date.now();
  const marker = `${process.pid}-${started}`;
  const changed = await ensureRescueImage({ rescueFiles: [{ path: '/opt/lifeboat/marker', content: Buffer.from(marker), mode: 0o644 }] });
  const seconds = (Date.now() - started) / 1000;
  try {
    assert.notEqual(changed.dir, image.dir);
    assert.equal(changed.manifest.rootfsHash, image.manifest.rootfsHash);
    assert.equal(changed.manifest.files['rootfs.squashfs'].sha256, image.manifest.files['rootfs.squashfs'].sha256);
    assert.equal(statSync(join(changed.dir, 'rootfs.squashfs')).ino, statSync(join(image.dir, 'rootfs.squashfs')).ino, 'hard link, no copy');
    assert.ok(seconds < 15, `${seconds} s`);
    assert.deepEqual(changed.manifest.rescueFiles.find((f) => f.path === '/opt/lifeboat/marker')?.size, marker.length);
  } finally {
    rmSync(changed.dir, { recursive: true, force: true });
  }
});
