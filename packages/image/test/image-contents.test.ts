/**
 * What the pruning left in the root file system, checked on the unpacked squashfs: every ELF program
 * and library finds its shared libraries in the image, the kernel modules kept are closed under
 * their dependencies and cover what a rescue needs, and packages whose files were pruned are still
 * known to dpkg (so apt works and can reinstall them). Builds the image first when none is cached.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureRescueImage } from '../src/index.js';
import type { RescueImage } from '../src/index.js';
import { initrdModules, keptModules, prunedPackageFiles, prunedPaths, rescuePackages } from '../src/builder/package-set.js';

/**
 * Libraries missing from Debian's own packaging, not from the pruning: the image installs no
 * recommends, and tc's ATM queueing plugin needs libatm1, which iproute2 only recommends.
 */
const missingInDebian = new Set(['/usr/lib/x86_64-linux-gnu/tc/q_atm.so needs libatm.so.1']);

/** Pruned paths the build makes again, empty. */
const recreatedEmpty = new Set(['boot', 'var/log']);

const work = mkdtempSync(join(tmpdir(), 'lifeboat-image-contents-'));
const root = join(work, 'root');
let image: RescueImage;

before(async () => {
  image = await ensureRescueImage({ onProgress: (line) => console.log(`# ${line}`) });
  execFileSync('unsquashfs', ['-q', '-n', '-d', root, join(image.dir, 'rootfs.squashfs')], { stdio: 'ignore' });
});
after(() => rmSync(work, { recursive: true, force: true }));

/**
 * The path `path` (absolute inside the image) leads to once every symlink is followed inside the
 * image (absolute links point into the image, not the host), or undefined when it does not exist.
 */
function resolveInImage(path: string, depth = 0): string | undefined {
  if (depth > 40) return undefined;
  const parts = path.split('/').filter(Boolean);
  let current = '/';
  for (let i = 0; i < parts.length; i++) {
    const next = posix.join(current, parts[i] ?? '');
    let stats;
    try {
      stats = lstatSync(join(root, next));
    } catch {
      return undefined;
    }
    if (stats.isSymbolicLink()) {
      const target = readlinkSync(join(root, next));
      const rest = parts.slice(i + 1).join('/');
      return resolveInImage(posix.join(target.startsWith('/') ? target : posix.join(current, target), rest), depth + 1);
    }
    current = next;
  }
  return current;
}

function isElf(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const magic = Buffer.alloc(4);
    return readSync(fd, magic, 0, 4, 0) === 4 && magic.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    closeSync(fd);
  }
}

/** Regular files under `dir` (inside the image), recursively, skipping `skip` directories. */
function filesUnder(dir: string, skip: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    if (skip.includes(rel)) return;
    for (const entry of readdirSync(join(root, rel), { withFileTypes: true })) {
      const child = posix.join(rel, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) out.push(child);
    }
  };
  walk(dir);
  return out;
}

/** NEEDED and RUNPATH/RPATH of each ELF file, read with `readelf -d` (many files per call). */
function dynamicSections(files: readonly string[]): Map<string, { needed: string[]; runpath: string[] }> {
  const out = new Map<string, { needed: string[]; runpath: string[] }>();
  for (let i = 0; i < files.length; i += 200) {
    const batch = files.slice(i, i + 200);
    const text = execFileSync('readelf', ['-dW', ...batch.map((f) => join(root, f))], { encoding: 'utf8', maxBuffer: 256e6 });
    // With several files, readelf heads each one's output with "File: PATH".
    const chunks = text.split(/^File: /m).slice(1);
    for (const chunk of chunks) {
      const [header = '', ...lines] = chunk.split('\n');
      const file = posix.join('/', header.trim().slice(root.length));
      const needed = lines.flatMap((l) => /\(NEEDED\).*\[(.+)\]/.exec(l)?.[1] ?? []);
      const runpath = lines.flatMap((l) => /\((?:RUNPATH|RPATH)\).*\[(.+)\]/.exec(l)?.[1]?.split(':') ?? []);
      out.set(file, { needed, runpath: runpath.map((p) => p.replace(/\$(\{ORIGIN\}|ORIGIN)/g, dirname(file))) });
    }
  }
  return out;
}

test('every ELF program and library in the image finds all its shared libraries in the image', () => {
  const ldConf = readdirSync(join(root, 'etc/ld.so.conf.d')).flatMap((f) =>
    readFileSync(join(root, 'etc/ld.so.conf.d', f), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l.startsWith('/')),
  );
  const searchDirs = [...ldConf, '/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib', '/usr/lib', '/lib64'];
  const candidates = [
    ...filesUnder('/usr/bin', []),
    ...filesUnder('/usr/sbin', []),
    ...filesUnder('/usr/lib', ['/usr/lib/modules', '/usr/lib/firmware']),
    ...filesUnder('/usr/libexec', []),
  ].filter((f) => isElf(join(root, f)));
  assert.ok(candidates.length > 500, `${candidates.length} ELF files`);
  const sections = dynamicSections(candidates);
  assert.equal(sections.size, candidates.length, 'readelf read every ELF file');
  const missing: string[] = [];
  for (const [file, { needed, runpath }] of sections) {
    for (const lib of needed) {
      const found = lib.includes('/') ? resolveInImage(lib) : [...runpath, ...searchDirs].some((d) => resolveInImage(posix.join(d, lib)));
      if (!found && !missingInDebian.has(`${file} needs ${lib}`)) missing.push(`${file} needs ${lib}`);
    }
  }
  assert.deepEqual(missing, [], `shared libraries missing:\n${missing.join('\n')}`);
  console.log(`# ${candidates.length} ELF files checked`);
});

test('the programs pruned on purpose are gone, and the packages whose files were pruned are still installed for dpkg', () => {
  for (const path of prunedPaths) {
    if (recreatedEmpty.has(path)) assert.deepEqual(readdirSync(join(root, path)), [], `/${path} is empty`);
    else assert.equal(existsSync(join(root, path)), false, `/${path} is pruned`);
  }
  for (const gone of ['/usr/bin/python3', '/usr/bin/python3.11', '/usr/lib/python3.11/os.py']) assert.equal(resolveInImage(gone), undefined, gone);
  assert.equal(readdirSync(join(root, 'usr/lib/x86_64-linux-gnu')).filter((f) => f.startsWith('libicu')).length, 0, 'no ICU library');
  const status = execFileSync('dpkg-query', [`--admindir=${join(root, 'var/lib/dpkg')}`, '-W', '-f', '${Package} ${db:Status-Status}\n'], { encoding: 'utf8' });
  for (const name of [...prunedPackageFiles, ...rescuePackages]) {
    assert.match(status, new RegExp(`^${name.replace(/[.+]/g, '\\$&')} installed$`, 'm'), `${name} is installed for dpkg`);
  }
  execFileSync('dpkg', [`--admindir=${join(root, 'var/lib/dpkg')}`, '--audit'], { stdio: 'pipe' });
  for (const tool of ['usr/sbin/xfs_repair', 'usr/sbin/mkfs.xfs', 'usr/sbin/xfs_db', 'usr/bin/stress-ng', 'usr/bin/apt', 'usr/sbin/sshd', 'usr/bin/setpriv']) {
    assert.ok(existsSync(join(root, tool)), `/${tool} is there`);
  }
});

test('of systemd, journalctl alone is left, and it reads a journal (the explorer\'s journal reader)', () => {
  assert.ok(resolveInImage('/usr/bin/journalctl'), 'journalctl is there');
  assert.ok(readdirSync(join(root, 'usr/lib/x86_64-linux-gnu/systemd')).some((f) => /^libsystemd-shared-\d+\.so$/.test(f)), 'with its shared library');
  for (const gone of ['/usr/lib/systemd/systemd', '/usr/bin/systemctl', '/usr/lib/systemd/systemd-journald', '/usr/bin/systemd-analyze']) assert.equal(resolveInImage(gone), undefined, gone);
  assert.equal(readdirSync(join(root, 'usr/lib/x86_64-linux-gnu/systemd')).filter((f) => f.startsWith('libsystemd-core')).length, 0, 'no systemd core library');
  assert.ok(existsSync(join(root, 'usr/share/doc/systemd/copyright')), 'the copyright files stay');
  const version = execFileSync('chroot', [root, '/usr/bin/journalctl', '--version'], { encoding: 'utf8' });
  assert.match(version, /^systemd \d+/);
});

test('the kernel modules kept are closed under their dependencies and cover a rescue, without the dropped kinds', () => {
  const modulesDir = join(root, 'usr/lib/modules', image.manifest.kernelVersion);
  const deps = new Map<string, string[]>();
  for (const line of readFileSync(join(modulesDir, 'modules.dep'), 'utf8').split('\n')) {
    const [path, rest = ''] = line.split(':');
    if (path) deps.set(path, rest.trim().split(/\s+/).filter(Boolean));
  }
  const onDisk = filesUnder(posix.join('/usr/lib/modules', image.manifest.kernelVersion, 'kernel'), []).map((f) => f.replace(/^.*?\/kernel\//, 'kernel/'));
  assert.deepEqual(new Set(onDisk), new Set(deps.keys()), 'modules.dep (depmod of the image) lists exactly the modules there');
  for (const [path, needs] of deps) for (const dep of needs) assert.ok(deps.has(dep), `${path} needs ${dep}`);
  assert.equal(image.manifest.modules.kept, deps.size);

  const names = new Set([...deps.keys()].map((p) => (p.split('/').pop() ?? '').replace(/\.ko$/, '').replace(/-/g, '_')));
  const builtin = new Set(readFileSync(join(modulesDir, 'modules.builtin'), 'utf8').split('\n').map((p) => (p.split('/').pop() ?? '').replace(/\.ko$/, '').replace(/-/g, '_')));
  const present = (n: string): boolean => names.has(n.replace(/-/g, '_')) || builtin.has(n.replace(/-/g, '_'));
  // ionic (Pensando) is not built in Debian 12's kernel: the initrd goes without it.
  for (const name of [...keptModules, ...initrdModules.filter((n) => n !== 'ionic')]) assert.ok(present(name), `module ${name}`);
  for (const name of ['ahci', 'nvme', 'virtio_blk', 'megaraid_sas', 'mpt3sas', 'raid1', 'raid456', 'dm_crypt', 'dm_mod', 'aesni_intel', 'xts',
    'ext4', 'xfs', 'btrfs', 'vfat', 'isofs', 'udf', 'fuse', 'nls_utf8', 'efivarfs', 'bonding', '8021q', 'xhci_pci', 'usb_storage', 'usbhid',
    'ipmi_si', 'ipmi_devintf', 'coretemp', 'sb_edac', 'hv_vmbus', 'xen_blkfront', 'ixgbe', 'mlx5_core', 'bnxt_en']) {
    assert.ok(present(name), `module ${name}`);
  }
  const paths = [...deps.keys()].join('\n');
  for (const dropped of [/^kernel\/lib\/test_/m, /^kernel\/drivers\/target\//m, /\/drbd\//, /^kernel\/drivers\/thunderbolt\//m, /^kernel\/fs\/dlm\//m,
    /^kernel\/drivers\/infiniband\//m, /^kernel\/fs\/(reiserfs|f2fs|jfs|ceph|nfs|smb|hfsplus)\//m, /^kernel\/net\/ceph\//m, /^kernel\/drivers\/(gpu|media)\//m, /^kernel\/sound\//m]) {
    assert.doesNotMatch(paths, dropped);
  }
});
