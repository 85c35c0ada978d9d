import { randomBytes, randomUUID } from 'node:crypto';
import { appendFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DiskError } from './errors.js';
import type { LayoutDisks, LayoutFileSystem } from './layouts.js';
import { LoopMounts } from './loop.js';
import { run } from './run.js';

/** The ways a lab server's installed system can be broken (`lab up --scenario`). */
export const scenarioNames = ['broken-fstab', 'lost-password', 'no-network', 'corrupt-fs', 'degraded-raid'] as const;

/** One of {@link scenarioNames}. */
export type ScenarioName = (typeof scenarioNames)[number];

/** Tells whether `name` is a scenario. */
export function isScenarioName(name: string): name is ScenarioName {
  return (scenarioNames as readonly string[]).includes(name);
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
};

/** The file whose data `corrupt-fs` points at another file's block ({@link sharedBlockPath}). */
export const corruptedPath = '/etc/motd';
/** The file whose first data block `corrupt-fs` makes {@link corruptedPath} claim too. */
export const sharedBlockPath = '/etc/issue';

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
  const fileEdits = scenarios.filter((s) => s === 'broken-fstab' || s === 'lost-password' || s === 'no-network');
  const root = rootOf(base);
  const first = root.copies[0]!;
  if (fileEdits.length > 0) {
    const loops = new LoopMounts();
    const mnt = join(workDir, 'mnt');
    try {
      await loops.mount(await loops.attach(disks[first.disk]!, first.offsetBytes, first.sizeBytes), mnt, root.type);
      for (const scenario of fileEdits) await editFiles(scenario, mnt);
    } finally {
      await loops.release();
    }
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
  if (fileEdits.length > 0 || scenarios.includes('corrupt-fs')) {
    for (const copy of root.copies.slice(1)) {
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
  if (scenarios.includes('degraded-raid')) {
    for (const disk of disks.slice(1)) {
      const { size } = await stat(disk);
      await rm(disk, { force: true });
      await run('truncate', ['-s', String(size), disk]);
    }
  }
}

async function editFiles(scenario: 'broken-fstab' | 'lost-password' | 'no-network', mnt: string): Promise<void> {
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
  }
}
