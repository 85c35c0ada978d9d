import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, unlinkSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { nodePlatform } from '../platform-node.js';
import { examine } from './checks.js';
import type { RescueFacts } from './checks.js';
import { changedFiles, Doctor, mountedFiles } from './doctor.js';
import { applySteps, backupStamp, undoChanges } from './fixes.js';
import { reportText } from './report-text.js';
import { waitFor } from '@lifeboat/test-support';

const rootUuid = '6f1c1a43-54a8-4bd4-9a4e-2b7c4c0f7d11';
const kernel = '6.1.0-35-amd64';
const trees: string[] = [];
after(() => {
  for (const t of trees) rmSync(t, { recursive: true, force: true });
});

/** A file's text, or a symbolic link to `link`. */
type Entry = string | { readonly link: string };

/** Writes each entry of `tree` (paths relative to `root`), making its directories; returns `root`. */
function plant(root: string, tree: Readonly<Record<string, Entry>>): string {
  for (const [path, entry] of Object.entries(tree)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    if (typeof entry === 'string') writeFileSync(join(root, path), entry);
    else symlinkSync(entry.link, join(root, path));
  }
  return root;
}
function write(root: string, path: string, text: string): void {
  plant(root, { [path]: text });
}
function link(root: string, path: string, target: string): void {
  plant(root, { [path]: { link: target } });
}

/** An installed Debian 12 as the lab builds it (installed-tree.ts, layouts.ts): healthy. */
function healthyTree(): string {
  const root = mkdtempSync(join(tmpdir(), 'lifeboat-doctor-'));
  trees.push(root);
  const ssh = { link: '/lib/systemd/system/ssh.service' };
  return plant(root, {
    'etc/fstab': `# <file system> <mount point> <type> <options> <dump> <pass>\nUUID=${rootUuid} / ext4 errors=remount-ro 0 1\n`,
    'etc/ssh/sshd_config': 'Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\nUsePAM yes\nSubsystem sftp /usr/lib/openssh/sftp-server\n',
    'etc/ssh/sshd_config.d/lab.conf': 'PermitRootLogin yes\nHostKey /etc/ssh/ssh_host_ed25519_key\n',
    'usr/sbin/sshd': '',
    'lib/systemd/system/ssh.service': '[Unit]\nDescription=OpenBSD Secure Shell server\n',
    'lib/systemd/system/nftables.service': '[Unit]\n',
    'etc/systemd/system/multi-user.target.wants/ssh.service': ssh,
    'etc/systemd/system/sshd.service': ssh,
    'etc/systemd/system/multi-user.target.wants/systemd-networkd.service': { link: '/lib/systemd/system/systemd-networkd.service' },
    'etc/systemd/network/20-lab-dhcp.network': '[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n',
    'etc/nftables.conf': '#!/usr/sbin/nft -f\nflush ruleset\ntable inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter;\n\t}\n}\n',
    'boot/extlinux/extlinux.conf': `DEFAULT debian\nPROMPT 0\nTIMEOUT 0\nLABEL debian\n  LINUX /boot/vmlinuz-${kernel}\n  INITRD /boot/initrd.img-${kernel}\n  APPEND root=UUID=${rootUuid} ro console=ttyS0,115200\n`,
    [`boot/vmlinuz-${kernel}`]: 'kernel',
    [`boot/initrd.img-${kernel}`]: 'initrd',
    'etc/shadow': 'root:$6$salt$0123456789abcdefghijklmnopqrstuvwxyz:19700:0:99999:7:::\ndaemon:*:19700:0:99999:7:::\n',
    'root/.ssh/authorized_keys': 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample lab\n',
  });
}

function healthyFacts(): RescueFacts {
  return {
    blkid: [{ devname: '/dev/vda1', tags: { DEVNAME: '/dev/vda1', UUID: rootUuid, TYPE: 'ext4', LABEL: 'lab-root', PARTUUID: 'a1b2c3d4-01' } }],
    deviceExists: (path) => path === '/dev/vda1' || path === '/dev/vda',
    nics: [{ kernelName: 'eth0', mac: '52:54:00:12:34:56', link: true, names: ['ens3', 'enp0s3', 'enx525400123456', 'eth0'], preferredName: 'ens3' }],
    mdstat: 'Personalities : \nunused devices: <none>\n',
    df: [{ target: '/', sizeBytes: 2_046_820_352, usedBytes: 700_000_000, availBytes: 1_240_000_000, inodes: 131_072, inodesUsed: 27_000, inodesFree: 104_072 }],
    sshdTest: { command: 'sshd -t -f /etc/ssh/sshd_config', status: 0, output: '' },
    journal: { command: 'journalctl', status: 0, output: '' },
  };
}

async function check(root: string, facts: RescueFacts = healthyFacts()) {
  const { examined, errors } = await examine(mountedFiles(nodePlatform, root), facts);
  assert.deepEqual(errors, []);
  return examined;
}

const stamp = backupStamp(new Date('2026-11-30T14:15:00.123Z'));

describe('doctor checks on installed-system trees', () => {
  it('finds nothing wrong in a healthy lab system', async () => {
    assert.deepEqual(await check(healthyTree()), []);
    assert.equal(stamp, '20261130T141500Z');
  });

  it('broken-fstab: a dead line without nofail, fixed with nofail and undone byte for byte', async () => {
    const root = healthyTree();
    appendFileSync(join(root, 'etc/fstab'), 'UUID=0b8e9f55-1111-4222-8333-944455556666 /data ext4 defaults,x-systemd.device-timeout=20s 0 2\n/dev/sdz1 /mnt/usb ext4 noauto 0 0\n');
    const before = readFileSync(join(root, 'etc/fstab'));
    const [found, ...rest] = await check(root);
    assert.equal(rest.length, 0);
    assert.equal(found?.finding.id, 'fstab-data');
    assert.equal(found?.finding.severity, 'critical');
    assert.deepEqual(found?.finding.evidence[0], { file: '/etc/fstab', line: 3, text: 'UUID=0b8e9f55-1111-4222-8333-944455556666 /data ext4 defaults,x-systemd.device-timeout=20s 0 2' });
    assert.equal(found?.finding.fix?.kind, 'fstab-nofail');
    const changes = await applySteps(nodePlatform, root, found?.steps ?? [], stamp);
    assert.match(readFileSync(join(root, 'etc/fstab'), 'utf8'), /\/data ext4 defaults,x-systemd.device-timeout=20s,nofail 0 2\n/);
    assert.deepEqual(readFileSync(join(root, 'etc/fstab.lifeboat-20261130T141500Z')), before);
    assert.deepEqual(await check(root), [], 'the fixed fault is not found again');
    await undoChanges(nodePlatform, root, changes);
    assert.deepEqual(readFileSync(join(root, 'etc/fstab')), before);
    assert.equal(existsSync(join(root, 'etc/fstab.lifeboat-20261130T141500Z')), false);
  });

  it('refuses a fix when the file changed since the check, and changes nothing', async () => {
    const root = healthyTree();
    appendFileSync(join(root, 'etc/fstab'), 'LABEL=gone /data ext4 defaults 0 2\n');
    const [found] = await check(root);
    appendFileSync(join(root, 'etc/fstab'), '# edited by hand\n');
    const edited = readFileSync(join(root, 'etc/fstab'));
    await assert.rejects(applySteps(nodePlatform, root, found?.steps ?? [], stamp), (e: { code?: string }) => e.code === 'DOCTOR_FILE_CHANGED');
    assert.deepEqual(readFileSync(join(root, 'etc/fstab')), edited);
    assert.deepEqual(readdirSync(join(root, 'etc')).filter((n) => n.includes('lifeboat')), []);
  });

  it('bad-sshd-config: sshd -t rejects a line, which the fix comments out; ssh masked is found too', async () => {
    const root = healthyTree();
    appendFileSync(join(root, 'etc/ssh/sshd_config'), 'PermitRootLogn yes\n');
    const facts = { ...healthyFacts(), sshdTest: { command: 'sshd -t -f /etc/ssh/sshd_config', status: 255, output: '/etc/ssh/sshd_config: line 5: Bad configuration option: PermitRootLogn\n/etc/ssh/sshd_config: terminating, 1 bad configuration options\n' } };
    const [found] = await check(root, facts);
    assert.equal(found?.finding.id, 'sshd-config');
    assert.deepEqual(found?.finding.evidence[1], { file: '/etc/ssh/sshd_config', line: 5, text: 'PermitRootLogn yes' });
    await applySteps(nodePlatform, root, found?.steps ?? [], stamp);
    assert.match(readFileSync(join(root, 'etc/ssh/sshd_config'), 'utf8'), /^# PermitRootLogn yes # commented out by the Lifeboat doctor/m);

    const masked = healthyTree();
    unlinkSync(join(masked, 'etc/systemd/system/multi-user.target.wants/ssh.service'));
    link(masked, 'etc/systemd/system/ssh.service', '/dev/null');
    const [disabled] = await check(masked);
    assert.equal(disabled?.finding.id, 'sshd-disabled');
    const changes = await applySteps(nodePlatform, masked, disabled?.steps ?? [], stamp);
    assert.equal(readlinkSync(join(masked, 'etc/systemd/system/multi-user.target.wants/ssh.service')), '/lib/systemd/system/ssh.service');
    assert.equal(existsSync(join(masked, 'etc/systemd/system/ssh.service')), false);
    assert.deepEqual(await check(masked), []);
    await undoChanges(nodePlatform, masked, changes);
    assert.equal(readlinkSync(join(masked, 'etc/systemd/system/ssh.service')), '/dev/null');
    assert.equal(existsSync(join(masked, 'etc/systemd/system/multi-user.target.wants/ssh.service')), false);
  });

  it('firewall-drops-ssh: an nftables reject in an included file, an iptables-persistent DROP, a ufw policy', async () => {
    const root = plant(healthyTree(), {
      'etc/nftables.conf': '#!/usr/sbin/nft -f\nflush ruleset\ninclude "/etc/nftables.d/*.nft"\n',
      'etc/nftables.d/ssh.nft': 'table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\ttcp dport 22 reject with tcp reset\n\t}\n}\n',
      'etc/systemd/system/sysinit.target.wants/nftables.service': { link: '/lib/systemd/system/nftables.service' },
      'etc/iptables/rules.v4': '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp --dport 22 -j DROP\nCOMMIT\n',
      'etc/systemd/system/multi-user.target.wants/netfilter-persistent.service': { link: '/lib/systemd/system/netfilter-persistent.service' },
      'etc/ufw/ufw.conf': 'ENABLED=yes\nLOGLEVEL=low\n',
      'etc/default/ufw': 'DEFAULT_INPUT_POLICY="DROP"\n',
      'etc/systemd/system/multi-user.target.wants/ufw.service': { link: '/lib/systemd/system/ufw.service' },
    });
    const found = await check(root);
    assert.deepEqual(found.map((f) => f.finding.id), ['firewall-nftables', 'firewall-iptables', 'firewall-ufw']);
    assert.deepEqual(found[0]?.finding.evidence[0], { file: '/etc/nftables.d/ssh.nft', line: 4, text: 'tcp dport 22 reject with tcp reset' });
    const changes = [];
    for (const f of found) changes.push(await applySteps(nodePlatform, root, f.steps ?? [], stamp));
    assert.equal(readlinkSync(join(root, 'etc/systemd/system/sysinit.target.wants/nftables.service.lifeboat-20261130T141500Z')), '/lib/systemd/system/nftables.service');
    assert.match(readFileSync(join(root, 'etc/ufw/ufw.conf'), 'utf8'), /^ENABLED=no$/m);
    assert.deepEqual(await check(root), []);
    for (const c of changes.reverse()) await undoChanges(nodePlatform, root, c);
    assert.equal(readlinkSync(join(root, 'etc/systemd/system/sysinit.target.wants/nftables.service')), '/lib/systemd/system/nftables.service');
    assert.equal(readFileSync(join(root, 'etc/ufw/ufw.conf'), 'utf8'), 'ENABLED=yes\nLOGLEVEL=low\n');

    // no-network: a ruleset whose input policy drops everything, with no accept for sshd's port.
    const dropAll = healthyTree();
    write(dropAll, 'etc/nftables.conf', '#!/usr/sbin/nft -f\nflush ruleset\ntable inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t}\n}\n');
    link(dropAll, 'etc/systemd/system/sysinit.target.wants/nftables.service', '/lib/systemd/system/nftables.service');
    const dropped = await check(dropAll);
    assert.deepEqual(dropped.map((f) => [f.finding.id, f.finding.severity, f.finding.fix?.kind]), [['firewall-nftables', 'critical', 'firewall-disable']]);
    assert.equal(dropped[0]?.finding.evidence[0]?.file, '/etc/nftables.conf');

    // The port sshd listens on counts, not 22.
    const moved = healthyTree();
    appendFileSync(join(moved, 'etc/ssh/sshd_config.d/lab.conf'), 'Port 2222\n');
    write(moved, 'etc/iptables/rules.v4', '*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n');
    link(moved, 'etc/systemd/system/multi-user.target.wants/netfilter-persistent.service', '/lib/systemd/system/netfilter-persistent.service');
    assert.match((await check(moved))[0]?.finding.summary ?? '', /port 2222/);
  });

  it('renamed-nic: networkd names an absent interface; the fix renames it to the one present', async () => {
    const root = healthyTree();
    write(root, 'etc/systemd/network/20-lab-dhcp.network', '[Match]\nName=enp9s0\n\n[Network]\nDHCP=yes\n');
    const [found, ...rest] = await check(root);
    assert.equal(rest.length, 0);
    assert.equal(found?.finding.id, 'network-enp9s0');
    assert.equal(found?.finding.severity, 'critical');
    assert.match(found?.finding.fix?.description ?? '', /Rename enp9s0 to ens3/);
    await applySteps(nodePlatform, root, found?.steps ?? [], stamp);
    assert.equal(readFileSync(join(root, 'etc/systemd/network/20-lab-dhcp.network'), 'utf8'), '[Match]\nName=ens3\n\n[Network]\nDHCP=yes\n');
    assert.deepEqual(await check(root), []);

    const ifupdown = healthyTree();
    rmSync(join(ifupdown, 'etc/systemd/network'), { recursive: true });
    write(ifupdown, 'etc/network/interfaces', 'source /etc/network/interfaces.d/*\nauto lo\niface lo inet loopback\n');
    write(ifupdown, 'etc/network/interfaces.d/uplink', 'allow-hotplug eno1\niface eno1 inet dhcp\n');
    const [ifFound] = await check(ifupdown);
    assert.equal(ifFound?.finding.id, 'network-eno1');
    await applySteps(nodePlatform, ifupdown, ifFound?.steps ?? [], stamp);
    assert.equal(readFileSync(join(ifupdown, 'etc/network/interfaces.d/uplink'), 'utf8'), 'allow-hotplug ens3\niface ens3 inet dhcp\n');
  });

  it('disk-full, missing-kernel, a degraded array, a locked root and the last boot errors', async () => {
    const root = healthyTree();
    rmSync(join(root, `boot/vmlinuz-${kernel}`));
    write(root, 'etc/shadow', 'root:!:19700:0:99999:7:::\n');
    rmSync(join(root, 'root/.ssh/authorized_keys'));
    const facts: RescueFacts = {
      ...healthyFacts(),
      df: [{ target: '/', sizeBytes: 2_046_820_352, usedBytes: 1_940_000_000, availBytes: 0, inodes: 131_072, inodesUsed: 27_500, inodesFree: 103_572 }],
      mdstat: 'Personalities : [raid1]\nmd0 : active raid1 vda1[0]\n      2094080 blocks super 1.2 [2/1] [U_]\n\nunused devices: <none>\n',
      journal: { command: 'journalctl -b 0 -p err', status: 0, output: 'Nov 30 14:00:01 lab systemd[1]: Failed to start ssh.service.\nNov 30 14:00:09 lab systemd[1]: Failed to start ssh.service.\n' },
    };
    const found = await check(root, facts);
    assert.deepEqual(found.map((f) => [f.finding.id, f.finding.severity]), [
      ['filesystem-full-root', 'critical'],
      ['boot-entry-extlinux-conf', 'critical'],
      ['raid-md0', 'warning'],
      ['root-login', 'critical'],
      ['journal-errors', 'warning'],
    ]);
    assert.deepEqual(found[1]?.finding.evidence, [{ file: '/boot/extlinux/extlinux.conf', line: 5, text: `LINUX /boot/vmlinuz-${kernel}` }]);
    assert.ok(!JSON.stringify(found).includes('$6$'), 'no hash in the evidence');
    const rootLogin = found[3];
    await assert.rejects(applySteps(nodePlatform, root, rootLogin?.steps ?? [], stamp), (e: { code?: string }) => e.code === 'DOCTOR_FIX_INVALID');
    await applySteps(nodePlatform, root, rootLogin?.steps ?? [], stamp, { passwordHash: '$6$newsalt$abcdefghijklmnopqrstuvwxyz0123456789' });
    assert.match(readFileSync(join(root, 'etc/shadow'), 'utf8'), /^root:\$6\$newsalt\$abcdefghijklmnopqrstuvwxyz0123456789:\d+:0:99999:7:::$/m);
    assert.deepEqual((await check(root, { ...healthyFacts() })).map((f) => [f.finding.id, f.finding.severity]), [['boot-entry-extlinux-conf', 'critical'], ['root-login', 'info']], 'root logs in by password now: only the info remains');
  });
});

describe('changedFiles: each changed file once, with its first copy', () => {
  it('keeps the order, the oldest copy of a file changed twice, and no copy for a created link', () => {
    assert.deepEqual(
      changedFiles([
        { op: 'edit', path: '/etc/fstab', backup: '/etc/fstab.lifeboat-20261130T141500Z', after: 'a' },
        { op: 'symlink', path: '/etc/systemd/system/multi-user.target.wants/ssh.service', backup: null, after: '/lib/systemd/system/ssh.service' },
        { op: 'edit', path: '/etc/fstab', backup: '/etc/fstab.lifeboat-20261130T141600Z', after: 'b' },
      ]),
      { changedFiles: ['/etc/fstab', '/etc/systemd/system/multi-user.target.wants/ssh.service'], backups: ['/etc/fstab.lifeboat-20261130T141500Z', ''] },
    );
  });
});

describe('filesystem-errors: the superblock of / or /boot says the file system has errors', () => {
  const superblock = (state: string, errors: string[] = []) => ({
    command: 'dumpe2fs -h /dev/vda1',
    status: 0,
    output: ['dumpe2fs 1.47.0 (5-Feb-2023)', 'Filesystem volume name:   lab-root', `Filesystem state:         ${state}`, 'Errors behavior:          Continue', ...errors, 'Block size:               4096', ''].join('\n'),
  });
  it('a clean file system is no finding; one with errors is critical, with the superblock lines as evidence and no fix', async () => {
    assert.deepEqual(await check(healthyTree(), { ...healthyFacts(), superblocks: [{ target: '/', device: '/dev/vda1', output: superblock('clean') }] }), []);
    const found = await check(healthyTree(), {
      ...healthyFacts(),
      superblocks: [
        { target: '/', device: '/dev/vda1', output: superblock('clean with errors', ['FS Error count:           1', 'First error time:         Mon Nov 30 14:00:00 2026']) },
        { target: '/boot', device: '/dev/vda2', output: superblock('not clean', ['FS Error count:           3']) },
      ],
    });
    assert.deepEqual(found.map((f) => [f.finding.id, f.finding.check, f.finding.severity, f.finding.fix, f.steps]), [
      ['filesystem-errors-root', 'filesystem-errors', 'critical', undefined, undefined],
      ['filesystem-errors-boot', 'filesystem-errors', 'critical', undefined, undefined],
    ]);
    assert.deepEqual(found[0]?.finding.evidence, [{ command: 'dumpe2fs -h /dev/vda1', text: 'Filesystem state:         clean with errors\nFS Error count:           1\nFirst error time:         Mon Nov 30 14:00:00 2026' }]);
    assert.match(found[0]?.finding.summary ?? '', /rescue-fsck \/dev\/vda1 --repair/);
  });
  it('a dumpe2fs that failed says nothing', async () => {
    assert.deepEqual(await check(healthyTree(), { ...healthyFacts(), superblocks: [{ target: '/', device: '/dev/vda1', output: { command: 'dumpe2fs -h /dev/vda1', status: 1, output: 'Filesystem state: clean with errors' } }] }), []);
  });
});

describe('the doctor on a mounted system (the customer mount at /mnt stands in for its own)', () => {
  it('runs, keeps the report for rescue-doctor, fixes, re-runs, undoes; idempotent; unknown findings refused', async () => {
    const rescue = mkdtempSync(join(tmpdir(), 'lifeboat-doctor-rescue-'));
    trees.push(rescue);
    const installed = healthyTree();
    rmSync(join(installed, 'usr/sbin/sshd'));
    write(installed, 'etc/fstab', 'tmpfs / tmpfs defaults 0 0\nLABEL=lifeboat-test-gone /data ext4 defaults 0 2\n');
    const before = readFileSync(join(installed, 'etc/fstab'));
    write(rescue, 'run/lifeboat/rescue/root', '/dev/vda1\n');
    write(rescue, 'proc/self/mountinfo', `30 1 254:1 / ${installed} rw,relatime shared:1 - ext4 /dev/vda1 rw\n`);
    let clock = Date.parse('2026-11-30T14:15:00Z');
    const doctor = new Doctor({ platform: nodePlatform, rootDir: rescue, customerTarget: installed, now: () => new Date((clock += 1000)) });
    const posted: string[] = [];
    const report = await doctor.run(async (r) => void posted.push(r.state));
    assert.deepEqual(posted, ['running', 'done']);
    assert.equal(report.installedSystem, '/dev/vda1');
    assert.deepEqual(report.findings.map((f) => f.id), ['fstab-data']);
    assert.match(readFileSync(join(rescue, 'run/lifeboat/doctor/report.txt'), 'utf8'), /\[CRITICAL\] fstab-data \(fstab\)\n.*\n {2}\/etc\/fstab:2: LABEL=lifeboat-test-gone/);

    const fixed = await doctor.fix('fstab-data');
    assert.equal(fixed.ok, true);
    assert.deepEqual(fixed.finding?.fix?.changedFiles, ['/etc/fstab']);
    assert.equal(fixed.finding?.fix?.state, 'applied');
    assert.deepEqual(await doctor.fix('fstab-data'), fixed, 'a second fix changes nothing');
    const copies = readdirSync(join(installed, 'etc')).filter((n) => n.startsWith('fstab.lifeboat-'));
    assert.equal(copies.length, 1);
    assert.deepEqual(fixed.finding?.fix?.backups, [`/etc/${copies[0]}`], 'the copy kept, named in the finding');
    const rerun = await doctor.run(async () => undefined);
    assert.deepEqual(rerun.findings.map((f) => [f.id, f.fix?.state]), [['fstab-data', 'applied']], 'not found again; kept as applied for its undo');
    assert.match(reportText(rerun), /nothing wrong found/);

    const undone = await doctor.undo('fstab-data');
    assert.deepEqual([undone.ok, undone.finding?.fix?.state, undone.finding?.fix?.changedFiles], [true, 'available', undefined]);
    assert.deepEqual(readFileSync(join(installed, 'etc/fstab')), before);
    assert.equal((await doctor.undo('fstab-data')).ok, true, 'undo twice: nothing to do');
    assert.deepEqual((await doctor.fix('nope')).error?.code, 'DOCTOR_FINDING_UNKNOWN');
    assert.deepEqual((await doctor.fix('fstab-data')).ok, true, 'the finding was kept: it can be fixed again');

    // Mounted read-only by the customer: a fix is refused cleanly.
    write(rescue, 'proc/self/mountinfo', `30 1 254:1 / ${installed} ro,relatime shared:1 - ext4 /dev/vda1 ro\n`);
    assert.equal((await doctor.undo('fstab-data')).error?.code, 'DOCTOR_SYSTEM_MOUNTED');
  });
});

describe('the doctor and the customer\'s rescue-mount never mount the installed system at the same time', () => {
  it('steps back while a rescue-mount is under way, then reads the customer\'s mount; says busy only while it would mount', async () => {
    const rescue = mkdtempSync(join(tmpdir(), 'lifeboat-doctor-rescue-'));
    trees.push(rescue);
    const installed = healthyTree();
    // rescue-mount has started (its mounting file names a live process: this one) and has not mounted yet.
    write(rescue, 'run/lifeboat/rescue/mounting', `${process.pid}\n`);
    write(rescue, 'proc/self/mountinfo', '');
    // The doctor waits with the platform's sleep: each time it does, is it not busy (rescue-mount goes on)?
    const busyWhileWaiting: boolean[] = [];
    const platform = {
      ...nodePlatform,
      sleep: (ms: number, stop?: Parameters<typeof nodePlatform.sleep>[1]) => {
        busyWhileWaiting.push(existsSync(join(rescue, 'run/lifeboat/doctor/busy')));
        return nodePlatform.sleep(ms, stop);
      },
    };
    // No helpers here: had the doctor tried its own mount, the run would fail.
    const doctor = new Doctor({ platform, rootDir: rescue, customerTarget: installed, helpersDir: join(rescue, 'no-helpers') });
    const running = doctor.run(async () => undefined);
    await waitFor('the doctor to step back twice', () => busyWhileWaiting.length >= 2, 20_000, 50);
    assert.deepEqual(busyWhileWaiting.slice(0, 2), [false, false], 'not busy while it waits: rescue-mount goes on');
    write(rescue, 'run/lifeboat/rescue/root', '/dev/vda1\n');
    write(rescue, 'proc/self/mountinfo', `30 1 254:1 / ${installed} rw,relatime shared:1 - ext4 /dev/vda1 rw\n`);
    rmSync(join(rescue, 'run/lifeboat/rescue/mounting'));
    const report = await running;
    assert.equal(report.state, 'done', report.error);
    assert.equal(report.installedSystem, '/dev/vda1', "the customer's mount was read");
    assert.equal(existsSync(join(rescue, 'run/lifeboat/doctor/busy')), false);
  });
});
