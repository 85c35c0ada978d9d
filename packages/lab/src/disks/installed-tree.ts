import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cached, hashInputs } from './cache.js';
import { DiskError } from './errors.js';
import { readLabPassword, type LabLogin } from './lab-login.js';
import { run } from './run.js';

/** Debian packages of the installed system on every lab disk. */
export const installedPackages = [
  'linux-image-amd64',
  'initramfs-tools',
  'systemd',
  'systemd-sysv',
  'udev',
  'dbus',
  'kmod',
  'openssh-server',
  'iproute2',
  'iputils-ping',
  'procps',
  'nftables',
  'e2fsprogs',
  'fdisk',
  'xfsprogs',
  'mdadm',
  'lvm2',
  'smartmontools',
  'extlinux',
  'syslinux-common',
  'less',
  'nano',
] as const;

/** Debian's archive, as apt on this machine is configured (`/etc/apt/sources.list.d/`). */
export const debianSources = [
  'deb http://deb.debian.org/debian bookworm main',
  'deb http://deb.debian.org/debian bookworm-updates main',
  'deb http://deb.debian.org/debian-security bookworm-security main',
];

/** Bump when the tree's configuration below changes, so caches rebuild. */
const treeRecipeVersion = 4;

/** The host name every installed lab system starts with. */
export const labHostname = 'lab';

/** An installed Debian 12 root tree, cached, ready to be copied into file systems. */
export interface InstalledTree {
  /** Digest of the tree's inputs; also names its cache directory `disks/<hash>/`. */
  hash: string;
  /** The cache directory of this tree and of every disk built from it. */
  cacheDir: string;
  /** The root directory of the installed system. */
  root: string;
  /** Kernel version, e.g. `6.1.0-35-amd64`: `/boot/vmlinuz-<v>` and `/boot/initrd.img-<v>`. */
  kernelVersion: string;
  /** Seconds the build took (0 when it came from the cache). */
  buildSeconds: number;
}

const networkdConfig = `[Match]
Name=en* eth*

[Network]
DHCP=yes
`;

// Host keys made at build time would be the same on every lab server: make them at first boot.
// Only ed25519: an RSA key takes seconds to generate under software emulation.
const sshHostKeysDropIn = `[Service]
ExecStartPre=
ExecStartPre=/bin/sh -c 'test -s /etc/ssh/ssh_host_ed25519_key || ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key'
ExecStartPre=/usr/sbin/sshd -t
`;

/**
 * Runs the tree's own systemd-journald in private mount, PID and UTS namespaces (chrooted, host name
 * `lab`, no /dev/kmsg: nothing of the host gets in) long enough to log a few lines, so that every lab
 * disk carries a real persistent journal (`/var/log/journal/<machine-id>/system.journal`) before the
 * installed system ever booted: the explorer's journal reader has something true to read. Debian 12's
 * systemd keeps the journal persistent (`/var/log/journal` exists, `Storage=auto`). `$1` is the root,
 * `$2` the host name. The mounts vanish with the namespace.
 */
const seedJournalScript = `set -e
root=$1
hostname "$2"
mount -t proc proc "$root/proc"
mount -t tmpfs tmpfs "$root/run"
mount --rbind /sys "$root/sys"
mkdir -p "$root/run/systemd/journal"
# journald writes straight to /var/log/journal (no flush from /run awaited)
touch "$root/run/systemd/journal/flushed"
chroot "$root" /usr/lib/systemd/systemd-journald </dev/null >/dev/null 2>&1 &
pid=$!
# ready once it opened the persistent journal (a stream sent earlier could be lost)
for i in $(seq 300); do [ -S "$root/run/systemd/journal/stdout" ] && [ -n "$(find "$root/var/log/journal" -name system.journal)" ] && break; sleep 0.1; done
chroot "$root" systemd-cat -t lab-build echo "lab disk built: this installed system has not booted yet"
chroot "$root" systemd-cat -t lab-build -p warning echo "lab disk built: a warning, for journal priority filters"
sleep 1
kill $pid
wait $pid || true
umount -l "$root/sys"
umount "$root/run" "$root/proc"
`;

const sshdConfig = `# Lab system: root logs in with the lab key or the lab password (lab-only credentials).
PermitRootLogin yes
HostKey /etc/ssh/ssh_host_ed25519_key
`;

/**
 * Builds (once, with mmdebstrap from Debian's archive) or reuses the installed Debian 12 tree:
 * kernel, systemd + udev, openssh-server accepting the lab key for root, systemd-networkd DHCP on
 * every en and eth NIC, serial getty on ttyS0, host name `lab`, the lab root password, mdadm, lvm2,
 * xfsprogs, smartmontools, nftables. Cached under `<cacheDir>/disks/<hash>/tree/`.
 */
export async function ensureInstalledTree(
  cacheDir: string,
  login: LabLogin,
  options: { onProgress?: (message: string) => void; signal?: AbortSignal } = {},
): Promise<InstalledTree> {
  const password = await readLabPassword(login);
  const hash = hashInputs({
    packages: installedPackages,
    sources: debianSources,
    treeRecipeVersion,
    publicKey: login.publicKey,
    password: createHash('sha256').update(password).digest('hex'),
  });
  const treeCache = join(cacheDir, 'disks', hash);
  const started = Date.now();
  let built = false;
  const dir = await cached(
    join(treeCache, 'tree'),
    async (tmp) => {
      built = true;
      options.onProgress?.('building the installed Debian 12 tree with mmdebstrap (about 1-2 minutes)');
      const root = join(tmp, 'root');
      await run(
        'mmdebstrap',
        [
          '--variant=minbase',
          `--include=${installedPackages.join(',')}`,
          '--dpkgopt=path-exclude=/usr/share/man/*',
          '--dpkgopt=path-exclude=/usr/share/doc/*',
          '--dpkgopt=path-exclude=/usr/share/locale/*',
          '--dpkgopt=path-include=/usr/share/doc/*/copyright',
          'bookworm',
          root,
          ...debianSources,
        ],
        { signal: options.signal },
      );
      await configureTree(root, login, password);
    },
    options,
  );
  const root = join(dir, 'root');
  const kernels = (await readdir(join(root, 'boot'))).filter((name) => name.startsWith('vmlinuz-'));
  const kernel = kernels.sort().at(-1);
  if (!kernel) throw new DiskError('LAB_DISK_BUILD_FAILED', `no kernel in ${root}/boot`);
  return {
    hash,
    cacheDir: treeCache,
    root,
    kernelVersion: kernel.slice('vmlinuz-'.length),
    buildSeconds: built ? (Date.now() - started) / 1000 : 0,
  };
}

async function configureTree(root: string, login: LabLogin, password: string): Promise<void> {
  await writeFile(join(root, 'etc/hostname'), `${labHostname}\n`);
  await writeFile(join(root, 'etc/hosts'), `127.0.0.1\tlocalhost\n127.0.1.1\t${labHostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`);
  await writeFile(join(root, 'etc/systemd/network/20-lab-dhcp.network'), networkdConfig);
  await run('chroot', [root, 'systemctl', 'enable', 'systemd-networkd.service']);
  await mkdir(join(root, 'etc/systemd/system/ssh.service.d'), { recursive: true });
  await writeFile(join(root, 'etc/systemd/system/ssh.service.d/lab-host-keys.conf'), sshHostKeysDropIn);
  await writeFile(join(root, 'etc/ssh/sshd_config.d/lab.conf'), sshdConfig);
  for (const name of await readdir(join(root, 'etc/ssh'))) {
    if (name.startsWith('ssh_host_')) await rm(join(root, 'etc/ssh', name));
  }
  await mkdir(join(root, 'root/.ssh'), { recursive: true, mode: 0o700 });
  await chmod(join(root, 'root/.ssh'), 0o700);
  await writeFile(join(root, 'root/.ssh/authorized_keys'), `${login.publicKey}\n`, { mode: 0o600 });
  await run('chpasswd', ['--root', root], { input: `root:${password}\n` });
  // The lab's own mirror list, so `apt-get` inside a lab server looks like a normal install.
  await writeFile(join(root, 'etc/apt/sources.list'), `${debianSources.join('\n')}\n`);
  const fstab = await readFile(join(root, 'etc/fstab'), 'utf8').catch(() => '');
  if (!fstab.includes('/')) await writeFile(join(root, 'etc/fstab'), '# written per layout when a disk is built\n');
  await seedJournal(root);
}

/**
 * Writes a first persistent journal ({@link seedJournalScript}). journald needs a machine id: a random
 * one for the build, then /etc/machine-id goes back to what mmdebstrap left (empty: the first boot
 * makes the system's own). `journalctl --directory` reads every machine's subdirectory.
 */
async function seedJournal(root: string): Promise<void> {
  const journalDir = join(root, 'var/log/journal');
  if (!(await readdir(journalDir).then(() => true, () => false))) throw new DiskError('LAB_DISK_BUILD_FAILED', 'the installed tree has no /var/log/journal (Debian 12\'s systemd makes it)');
  const machineIdFile = join(root, 'etc/machine-id');
  const machineId = await readFile(machineIdFile, 'utf8').catch(() => '');
  await writeFile(machineIdFile, `${randomBytes(16).toString('hex')}\n`);
  try {
    await run('unshare', ['--mount', '--pid', '--fork', '--uts', '--mount-proc', 'sh', '-c', seedJournalScript, 'sh', root, labHostname]);
  } finally {
    await writeFile(machineIdFile, machineId);
  }
  const written = (await readdir(journalDir, { recursive: true })).filter((name) => String(name).endsWith('.journal'));
  if (written.length === 0) throw new DiskError('LAB_DISK_BUILD_FAILED', 'systemd-journald wrote no journal file in the installed tree');
}
