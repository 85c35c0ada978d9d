import { randomBytes, randomUUID } from 'node:crypto';
import { appendFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DiskError } from './errors.js';
import type { LayoutDisks, LayoutFileSystem } from './layouts.js';
import { LoopMounts } from './loop.js';
import { run } from './run.js';

/** The ways a lab server's installed system can be broken (`lab up --scenario`). */
export const scenarioNames = [
  'broken-fstab',
  'lost-password',
  'no-network',
  'corrupt-fs',
  'degraded-raid',
  'bad-sshd-config',
  'firewall-drops-ssh',
  'disk-full',
  'missing-kernel',
  'renamed-nic',
] as const;

/** One of {@link scenarioNames}. */
export type ScenarioName = (typeof scenarioNames)[number];

/** Tells whether `name` is a scenario. */
export function isScenarioName(name: string): name is ScenarioName {
  return (scenarioNames as readonly string[]).includes(name);
}

/** The interface `renamed-nic` names instead of the one present (the lab's NIC is `ens3`). */
export const renamedNic = 'enp9s0';

/** The line `bad-sshd-config` appends to /etc/ssh/sshd_config. */
export function badSshdLine(): string {
  return 'PermitRootLogn yes';
}

/** What each scenario does to the installed system, and how its fault shows. */
export const scenarioDescriptions: Record<ScenarioName, string> = {
  'broken-fstab':
    'fstab mounts /data from a disk that does not exist (no nofail): the boot stops in emergency mode after a 20 s device wait; SSH never answers',
  'lost-password':
    "root's password is replaced by an unknown random one and the lab key is removed from root's authorized_keys: SSH answers but refuses every login",
  'no-network': 'nftables is enabled with a ruleset that drops every incoming packet: the system boots but SSH never answers',
  'corrupt-fs':
    'the root ext4 file system is damaged (/etc/motd claims the data block of /etc/issue, and the file system is marked as having errors): the preen check of systemd-fsck-root (`fsck -a`) gives up, so the boot stops in emergency mode and SSH never answers; `e2fsck -fy` repairs it',
  'degraded-raid': 'the second RAID1 member is replaced by a blank disk: the system boots degraded from the first one',
  'bad-sshd-config': `/etc/ssh/sshd_config ends with a misspelt option (${badSshdLine()}): \`sshd -t\` rejects it, so ssh.service does not start and SSH never answers`,
  'firewall-drops-ssh':
    'nftables is enabled; /etc/nftables.conf includes /etc/nftables.d/lab-ssh.nft, whose input chain accepts everything but rejects TCP port 22: the system boots, answers ping, but SSH is refused',
  'disk-full': 'a file (/root/lab-disk-full.bin) fills the root file system to its last MiB: services that write at boot fail (the system still boots)',
  'missing-kernel': "the kernel of the default boot entry (extlinux's LINUX) is deleted: the boot loader stops before Linux starts",
  'renamed-nic': `the systemd-networkd configuration matches only ${renamedNic}, which the server does not have: no interface gets an address and SSH never answers`,
};


/** The file whose data `corrupt-fs` points at another file's block ({@link sharedBlockPath}). */
export const corruptedPath = '/etc/motd';
/** The file whose first data block `corrupt-fs` makes {@link corruptedPath} claim too. */
export const sharedBlockPath = '/etc/issue';

const rejectSsh = `#!/usr/sbin/nft -f
flush ruleset
include "/etc/nftables.d/*.nft"
`;

const rejectSshRules = `# Lab scenario firewall-drops-ssh: everything is accepted but SSH.
table inet filter {
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport 22 reject with tcp reset
	}
}
`;

/** The line `broken-fstab` adds to /etc/fstab, for a file system UUID no disk has. */
export function brokenFstabLine(uuid: string): string {
  // The device timeout only shortens systemd's default 90 s wait; the fault is the same.
  return `UUID=${uuid} /data ext4 defaults,x-systemd.device-timeout=20s 0 2\n`;
}

const dropEverything = `#!/usr/sbin/nft -f
flush ruleset
table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
	}
}
`;

function rootOf(base: Pick<LayoutDisks, 'fileSystems' | 'layout'>): LayoutFileSystem {
  const root = base.fileSystems.find((fs) => fs.mount === '/');
  if (!root || root.copies.length === 0)
    throw new DiskError('LAB_DISK_SCENARIO_UNSUPPORTED', `the root file system of layout ${base.layout} cannot be reached from the host`);
  return root;
}

/** Fails with `LAB_DISK_SCENARIO_UNSUPPORTED` when `base` cannot have one of `scenarios`. */
export function checkScenarios(base: Pick<LayoutDisks, 'fileSystems' | 'layout'>, scenarios: ScenarioName[]): void {
  for (const scenario of scenarios) {
    if (scenario === 'degraded-raid' && base.layout !== 'raid1')
      throw new DiskError('LAB_DISK_SCENARIO_UNSUPPORTED', 'degraded-raid needs the raid1 layout');
    if (scenario === 'corrupt-fs' && rootOf(base).type !== 'ext4')
      throw new DiskError('LAB_DISK_SCENARIO_UNSUPPORTED', `corrupt-fs needs an ext4 root (layout ${base.layout} has ${rootOf(base).type})`);
    if (scenario === 'missing-kernel' && bootOf(base).copies.length === 0)
      throw new DiskError('LAB_DISK_SCENARIO_UNSUPPORTED', `the /boot file system of layout ${base.layout} cannot be reached from the host`);
  }
  if (scenarios.includes('no-network') && scenarios.includes('firewall-drops-ssh'))
    throw new DiskError('LAB_DISK_SCENARIO_UNSUPPORTED', 'no-network and firewall-drops-ssh both write /etc/nftables.conf: choose one');
}

/** The file system holding /boot: its own, else the root. */
function bootOf(base: Pick<LayoutDisks, 'fileSystems' | 'layout'>): LayoutFileSystem {
  return base.fileSystems.find((fs) => fs.mount === '/boot') ?? rootOf(base);
}

/** Copies the first copy of a file system over its other copies (RAID1 members stay identical). */
async function syncCopies(fs: LayoutFileSystem, disks: string[]): Promise<void> {
  const first = fs.copies[0]!;
  for (const copy of fs.copies.slice(1)) {
    await run('dd', [
      `if=${disks[first.disk]}`,
      `of=${disks[copy.disk]}`,
      'bs=4M',
      `skip=${first.offsetBytes}`,
      `seek=${copy.offsetBytes}`,
      `count=${first.sizeBytes}`,
      'iflag=skip_bytes,count_bytes',
      'oflag=seek_bytes',
      'conv=notrunc,sparse',
      'status=none',
    ]);
  }
}

/**
 * Applies `scenarios` to `disks` (private copies of a layout's base images, written in place),
 * with loop devices on the host. RAID1 copies of a changed file system are made identical again.
 */
export async function applyScenarios(
  base: Pick<LayoutDisks, 'fileSystems' | 'layout'>,
  disks: string[],
  scenarios: ScenarioName[],
  workDir: string,
): Promise<void> {
  checkScenarios(base, scenarios);
  const fileEdits = scenarios.filter((s): s is FileEdit => (fileEditScenarios as readonly string[]).includes(s));
  const root = rootOf(base);
  const first = root.copies[0]!;
  if (fileEdits.length > 0 || scenarios.includes('disk-full')) {
    const loops = new LoopMounts();
    const mnt = join(workDir, 'mnt');
    try {
      await loops.mount(await loops.attach(disks[first.disk]!, first.offsetBytes, first.sizeBytes), mnt, root.type);
      for (const scenario of fileEdits) await editFiles(scenario, mnt);
      // Last: the other edits need the space.
      if (scenarios.includes('disk-full')) await fillFileSystem(mnt);
    } finally {
      await loops.release();
    }
  }
  const boot = bootOf(base);
  if (scenarios.includes('missing-kernel')) {
    const loops = new LoopMounts();
    const mnt = join(workDir, 'boot-mnt');
    const copy = boot.copies[0]!;
    try {
      await loops.mount(await loops.attach(disks[copy.disk]!, copy.offsetBytes, copy.sizeBytes), mnt, boot.type);
      await removeDefaultKernel(mnt, boot.mount === '/boot');
    } finally {
      await loops.release();
    }
    if (boot !== root) await syncCopies(boot, disks);
  }
  if (scenarios.includes('corrupt-fs')) {
    const loops = new LoopMounts();
    try {
      const device = await loops.attach(disks[first.disk]!, first.offsetBytes, first.sizeBytes);
      // Two files now claim the same block: e2fsck's preen mode (-p, as at boot) gives up on
      // multiply-claimed blocks, while `e2fsck -fy` clones the block and repairs the file system.
      const { stdout } = await run('debugfs', ['-R', `bmap ${sharedBlockPath} 0`, device]);
      const block = Number(stdout.trim());
      if (!Number.isInteger(block) || block <= 0)
        throw new DiskError('LAB_DISK_BUILD_FAILED', `${sharedBlockPath} has no data block for corrupt-fs`);
      // i_block[5] is the low 32 bits of the first extent's start block (inline extent tree).
      await run('debugfs', ['-w', '-R', `sif ${corruptedPath} block[5] ${block}`, device]);
      await run('debugfs', ['-w', '-R', 'ssv state 2', device]);
    } finally {
      await loops.release();
    }
  }
  if (fileEdits.length > 0 || scenarios.includes('corrupt-fs') || scenarios.includes('disk-full') || (scenarios.includes('missing-kernel') && boot === root)) {
    await syncCopies(root, disks);
  }
  if (scenarios.includes('degraded-raid')) {
    for (const disk of disks.slice(1)) {
      const { size } = await stat(disk);
      await rm(disk, { force: true });
      await run('truncate', ['-s', String(size), disk]);
    }
  }
}

const fileEditScenarios = ['broken-fstab', 'lost-password', 'no-network', 'bad-sshd-config', 'firewall-drops-ssh', 'renamed-nic'] as const;
type FileEdit = (typeof fileEditScenarios)[number];

/** Fills a mounted file system to its last MiB with one file (`disk-full`). */
async function fillFileSystem(mnt: string): Promise<void> {
  const { stdout } = await run('df', ['-B1', '--output=avail', mnt]);
  const avail = Number(stdout.trim().split('\n').at(-1));
  if (!Number.isFinite(avail)) throw new DiskError('LAB_DISK_BUILD_FAILED', `df gave no free space for ${mnt}`);
  const leave = 1024 * 1024;
  if (avail > leave) await run('fallocate', ['-l', String(avail - leave), join(mnt, 'root/lab-disk-full.bin')]);
}

/** Deletes the kernel that extlinux's default entry loads (`missing-kernel`); `separate`: `mnt` is a /boot file system. */
async function removeDefaultKernel(mnt: string, separate: boolean): Promise<void> {
  const config = await readFile(join(mnt, separate ? 'extlinux/extlinux.conf' : 'boot/extlinux/extlinux.conf'), 'utf8');
  const kernel = /^\s*LINUX\s+(\S+)/m.exec(config)?.[1];
  if (!kernel) throw new DiskError('LAB_DISK_BUILD_FAILED', 'extlinux.conf has no LINUX line for missing-kernel');
  await rm(join(mnt, kernel));
}

async function editFiles(scenario: FileEdit, mnt: string): Promise<void> {
  switch (scenario) {
    case 'broken-fstab':
      await appendFile(join(mnt, 'etc/fstab'), brokenFstabLine(randomUUID()));
      return;
    case 'lost-password':
      // Nobody ever sees this password: that is the fault.
      await run('chpasswd', ['--root', mnt], { input: `root:${randomBytes(18).toString('base64url')}\n` });
      await rm(join(mnt, 'root/.ssh/authorized_keys'), { force: true });
      return;
    case 'no-network':
      await writeFile(join(mnt, 'etc/nftables.conf'), dropEverything, { mode: 0o755 });
      await run('chroot', [mnt, 'systemctl', 'enable', 'nftables.service']);
      return;
    case 'bad-sshd-config':
      await appendFile(join(mnt, 'etc/ssh/sshd_config'), `${badSshdLine()}\n`);
      return;
    case 'firewall-drops-ssh':
      await writeFile(join(mnt, 'etc/nftables.conf'), rejectSsh, { mode: 0o755 });
      await mkdir(join(mnt, 'etc/nftables.d'), { recursive: true });
      await writeFile(join(mnt, 'etc/nftables.d/lab-ssh.nft'), rejectSshRules);
      await run('chroot', [mnt, 'systemctl', 'enable', 'nftables.service']);
      return;
    case 'renamed-nic':
      await writeFile(join(mnt, 'etc/systemd/network/20-lab-dhcp.network'), `[Match]\nName=${renamedNic}\n\n[Network]\nDHCP=yes\n`);
      return;
  }
}
