/**
 * The rescue image, booted for real (QEMU, TCG, direct -kernel/-initrd, user-mode network), driven
 * by a real control plane: log in with the password whose hash the control plane handed the agent,
 * run every helper against the five disk layouts, then a second boot with a key (password refused).
 * One VM at a time; two boots in all.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RescueView } from '@lifeboat/test-support';
import { sshCommands, startRescueHarness } from './rescue-harness.js';
import type { RescueHarness } from './rescue-harness.js';
import { ssh, sshBanner, waitFor } from '@lifeboat/test-support';
import type { SshLogin } from '@lifeboat/test-support';

const work = mkdtempSync(join(tmpdir(), 'lifeboat-rescue-vm-'));
const log = (line: string): void => void process.stdout.write(`# ${line}\n`);

/** Blank disks the layouts go on (sparse files): vda plain, vdb split, vdc+vdd raid1, vde lvm, vdf xfs. */
const diskSizesMiB = [512, 512, 256, 256, 512, 512];
const disks = diskSizesMiB.map((_, i) => join(work, `disk${i}.raw`));

let harness: RescueHarness;
let sshPort = 0;

before(async () => {
  disks.forEach((disk, i) => execFileSync('truncate', ['-s', `${diskSizesMiB[i]}M`, disk]));
  harness = await startRescueHarness({
    work,
    mac: '52:54:00:ab:cd:01',
    serverName: 'web-1',
    disks: () => disks,
    controlPlaneFlags: ['--exit-timeout', '20s', '--scheduler-interval', '1s'],
    log,
  });
  sshPort = harness.sshPort;
});

after(async () => {
  await harness?.close();
});

async function rescueState(state: string, timeoutMs = 240_000): Promise<RescueView> {
  return waitFor(`rescue state ${state}`, async () => {
    const view = await harness.cp.api<RescueView>('GET', '/v1/servers/web-1/rescue');
    if (view.state === 'rescue_failed') throw new Error(`rescue failed: ${view.reason}\n${harness.machine.vm?.serial().slice(-3000)}`);
    const serial = harness.machine.vm?.serial() ?? '';
    if (/cannot continue|Kernel panic/.test(serial)) throw new Error(`the rescue system did not start:\n${serial.slice(-3000)}`);
    return view.state === state ? view : undefined;
  }, timeoutMs, 500);
}

function knownHostsFile(view: RescueView, name: string): string {
  const file = join(work, name);
  writeFileSync(file, `${view.ssh.knownHosts.join('\n')}\n`);
  return file;
}

let login: SshLogin;
let password = '';
let firstFingerprints: string[] = [];

/** Commands in the rescue system as the current login: `run` (any status), `ok` (must exit 0). */
const { run, ok } = sshCommands(() => login, log);

test('boots into rescue; root logs in with the password whose hash came from the control plane', async () => {
  const started = Date.now();
  const entered = await harness.cp.api<RescueView>('POST', '/v1/servers/web-1/rescue', {}, 202);
  password = entered.ssh.password ?? '';
  assert.ok(password.length >= 12, 'a temporary password is shown once');
  const view = await rescueState('rescue');
  const readyS = (Date.now() - started) / 1000;
  assert.ok(view.ssh.knownHosts.length >= 2, 'host keys were published');
  assert.ok(view.ssh.knownHosts.every((l) => l.startsWith(`[127.0.0.1]:${sshPort} `)));
  firstFingerprints = view.ssh.hostKeyFingerprints;
  login = { port: sshPort, knownHosts: knownHostsFile(view, 'known_hosts-1'), password };
  // StrictHostKeyChecking=yes with only the published keys: the login proves they are sshd's.
  const out = await ok('hostname; grep ^root: /etc/shadow | cut -d: -f2; /usr/sbin/sshd -T | grep -E "^(passwordauthentication|permitrootlogin) "');
  const loginS = (Date.now() - started) / 1000;
  log(`rescue requested -> agent ready ${readyS.toFixed(1)} s, -> first SSH command done ${loginS.toFixed(1)} s (TCG, shared CPU)`);
  const [hostname, hash] = out.split('\n');
  assert.equal(hostname, 'web-1-rescue');
  const salt = hash?.split('$')[2] ?? '';
  assert.equal(execFileSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: `${password}\n`, encoding: 'utf8' }).trim(), hash);
  assert.match(out, /^passwordauthentication yes$/m);
  assert.match(out, /^permitrootlogin yes$/m);

  const wrong = await ssh({ ...login, password: `${password}x` }, 'true');
  assert.notEqual(wrong.code, 0, 'a wrong password is refused');

  // The image's sshd presents host certificates signed by the control plane's CA: OpenSSH with only the
  // @cert-authority line (the server's SSH address, 127.0.0.1, is a principal) logs in strictly.
  assert.match(execFileSync('ssh-keyscan', ['-c', '-p', String(sshPort), '127.0.0.1'], { encoding: 'utf8' }), /ssh-ed25519-cert-v01@openssh\.com AAAA/);
  const caOnly = join(work, 'known_hosts-ca');
  writeFileSync(caOnly, `${view.ssh.certAuthority}\n`);
  const throughCa = await ssh({ ...login, knownHosts: caOnly }, 'true');
  assert.equal(throughCa.code, 0, throughCa.stderr);

  const { tasks } = await harness.cp.api<{ tasks: Array<{ kind: string; steps: Array<{ name: string }> }> }>('GET', '/v1/servers/web-1/tasks');
  const steps = tasks.find((t) => t.kind === 'enter_rescue')?.steps.map((s) => s.name) ?? [];
  for (const name of ['power_cycled', 'agent_started', 'sshd_started', 'host_keys_reported', 'ready']) assert.ok(steps.includes(name), `${name} in ${steps.join(',')}`);
  const agentLog = await ok('cat /var/log/lifeboat-agent.log');
  assert.match(agentLog, /ready/);
  for (const secret of [password, hash ?? '']) assert.equal(agentLog.includes(secret), false, 'no secret in the agent log');
  assert.equal(await ok('ss -ltnp | grep -c node || true'), '0\n', 'the agent listens on no port');
});

test('the login shell shows the menu: server, disks, helpers', async () => {
  const out = await ok('bash -lic true 2>/dev/null');
  assert.match(out, /Lifeboat rescue system for server web-1/);
  assert.match(out, /\/dev\/vda\s+512M/);
  for (const helper of ['rescue-mount', 'rescue-chroot', 'rescue-passwd', 'rescue-fsck', 'rescue-raid', 'rescue-backup', 'rescue-umount']) {
    assert.match(out, new RegExp(helper));
    await ok(`command -v ${helper}`);
  }
});

test('the five layouts are laid out on the blank disks with the image\'s own tools', async () => {
  const script = readFileSync(join(import.meta.dirname, 'make-layouts.sh'), 'utf8');
  // Uploaded first: a script read from stdin would lose lines to any command that reads stdin.
  await ok('cat > /run/make-layouts.sh', script);
  const out = await ok('bash /run/make-layouts.sh < /dev/null');
  assert.match(out, /layouts-ready/);
  const menu = await ok('rescue-menu');
  assert.match(menu, /\/dev\/vda1\s+Lab Linux plain/);
  assert.match(menu, /\/dev\/vdb1\s+Lab Linux split/);
  assert.match(menu, /\/dev\/vdf2\s+Lab Linux xfs/);
  assert.match(menu, /RAID\/LVM member/);
});

/** Mount points under /mnt, in mount order, as `SOURCE TARGET FSTYPE OPTIONS`. */
async function mounts(): Promise<string[]> {
  const out = await ok("awk '$2 ~ \"^/mnt\" { print $1, $2, $3, $4 }' /proc/mounts");
  return out.trim().split('\n').filter((l) => l.length > 0);
}

test('plain ext4: mount, chroot, passwd, backup, fsck refused while mounted, umount, fsck clean', async () => {
  const out = await ok('rescue-mount --root /dev/vda1');
  assert.match(out, /mounted \/dev\/vda1 on \/mnt/);
  assert.match(out, /skipped swap \/dev\/vda2/);
  assert.match(out, /\/data: device UUID=0b5e55ed-0000-4000-8000-000000000000 not found \(nofail\)/);
  assert.deepEqual((await mounts()).map((l) => l.split(' ').slice(0, 2).join(' ')), ['/dev/vda1 /mnt']);
  assert.equal(await ok('rescue-chroot cat /etc/layout'), 'plain\n');
  await ok('rescue-chroot /bin/sh -c "test -r /proc/self/status && test -d /sys/block && test -c /dev/null"');

  const refused = await run('rescue-fsck /dev/vda1');
  assert.equal(refused.code, 4);
  assert.match(refused.stderr, /refused: \/dev\/vda1 is mounted on \/mnt/);
  const refusedDisk = await run('rescue-fsck /dev/vda');
  assert.equal(refusedDisk.code, 4, 'a disk whose partition is mounted is refused too');
  assert.match(refusedDisk.stderr, /in use by \/dev\/vda1, which is mounted on \/mnt/);

  const newPassword = 'N3w-pass-for-alice';
  assert.match(await ok('rescue-passwd --password-stdin alice', `${newPassword}\n`), /password of alice changed/);
  const aliceHash = (await ok('grep ^alice: /mnt/etc/shadow | cut -d: -f2')).trim();
  const salt = aliceHash.split('$')[2] ?? '';
  assert.equal(execFileSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: `${newPassword}\n`, encoding: 'utf8' }).trim(), aliceHash);
  assert.equal((await run('rescue-passwd --password-stdin nobody-here', 'x\n')).code, 3);

  // Copy data off with rsync over SSH (to this rescue system's own sshd: the only host reachable here).
  await ok('ssh-keygen -q -t ed25519 -N "" -f /root/.ssh/backup_key && cat /root/.ssh/backup_key.pub >> /root/.ssh/authorized_keys && ssh-keyscan 127.0.0.1 >> /root/.ssh/known_hosts 2>/dev/null');
  assert.match(await ok('rescue-backup --identity /root/.ssh/backup_key /mnt/etc root@127.0.0.1:/tmp/backup/'), /done/);
  assert.equal(await ok('cat /tmp/backup/etc/layout'), 'plain\n');

  assert.match(await ok('rescue-umount'), /unmounted \/mnt/);
  assert.deepEqual(await mounts(), []);
  const fsck = await run('rescue-fsck /dev/vda1');
  assert.equal(fsck.code, 0, fsck.stdout + fsck.stderr);
  assert.match(fsck.stdout, /\/dev\/vda1: clean/);
});

test('root + separate /var and /home: LABEL=, PARTUUID= and /dev names mounted in fstab order', async () => {
  await ok('rescue-mount --root LABEL=split-root');
  assert.deepEqual(
    (await mounts()).map((l) => l.split(' ').slice(0, 2).join(' ')),
    ['/dev/vdb1 /mnt', '/dev/vdb2 /mnt/var', '/dev/vdb3 /mnt/home'],
  );
  assert.match((await mounts())[2] ?? '', /nodev/);
  assert.equal(await ok('cat /mnt/var/log/marker /mnt/home/alice/marker'), 'split-var\nsplit-home\n');
  const refused = await run('rescue-fsck /dev/vdb');
  assert.equal(refused.code, 4);
  await ok('rescue-umount');
  assert.deepEqual(await mounts(), []);
});

test('read-only mount: everything ro, password reset refused', async () => {
  await ok('rescue-mount --read-only --root LABEL=split-root');
  const lines = await mounts();
  assert.equal(lines.length, 3);
  for (const line of lines) assert.match(line.split(' ')[3] ?? '', /(^|,)ro(,|$)/, line);
  const r = await run('rescue-passwd --password-stdin root', 'abc\n');
  assert.equal(r.code, 4);
  assert.match(r.stderr, /read-only/);
  await ok('rescue-umount');
});

test('RAID1 root: assembled, mounted, member fsck refused, re-add, stopped by umount', async () => {
  assert.equal((await ok('cat /proc/mdstat')).includes('active'), false, 'nothing assembled before');
  const out = await ok('rescue-mount --root LABEL=raid-root');
  const md = /assembled RAID array (\/dev\/md\S+)/.exec(out)?.[1];
  assert.ok(md, out);
  assert.deepEqual((await mounts()).map((l) => l.split(' ').slice(0, 2).join(' ')), [`${md} /mnt`]);
  assert.equal(await ok('cat /mnt/etc/layout'), 'raid1\n');
  const refused = await run('rescue-fsck /dev/vdc1');
  assert.equal(refused.code, 4);
  assert.match(refused.stderr, new RegExp(`in use by ${md}, which is mounted on /mnt`));
  assert.match(await ok('rescue-raid status'), /\[UU\]/);

  // A member drops out and comes back.
  await ok(`mdadm ${md} --fail /dev/vdd1 --remove /dev/vdd1`);
  assert.match(await ok('cat /proc/mdstat'), /\[U_\]/);
  assert.match(await ok(`rescue-raid re-add ${md} /dev/vdd1`), /\/dev\/vdd1 (re-)?added to/);
  await waitFor('the array to be whole again', async () => ((await ok('cat /proc/mdstat')).includes('[UU]') ? true : undefined), 120_000, 2000);

  const umount = await ok('rescue-umount');
  assert.match(umount, new RegExp(`stopped RAID array ${md}`));
  assert.doesNotMatch(await ok('cat /proc/mdstat'), /^md/m);
  const fsck = await run('rescue-fsck /dev/vdc1');
  assert.equal(fsck.code, 5, 'a RAID member holds no file system of its own once stopped');

  // assemble / status through rescue-raid, then umount stops what it assembled.
  assert.match(await ok('rescue-raid assemble'), /assembled \/dev\/md/);
  assert.match(await ok('rescue-umount'), /stopped RAID array/);
});

test('LVM root with an XFS /var by UUID: activated, mounted, PV fsck refused, deactivated by umount', async () => {
  const out = await ok('rescue-mount --root LABEL=lvm-root');
  assert.match(out, /activated LVM volume group labvg/);
  const lines = await mounts();
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.match(lines[0] ?? '', /^\/dev\/(mapper\/labvg-root|dm-\d+) \/mnt ext4 /);
  assert.match(lines[1] ?? '', /^\/dev\/(mapper\/labvg-var|dm-\d+) \/mnt\/var xfs /);
  assert.equal(await ok('cat /mnt/var/marker'), 'lvm-var\n');
  const refused = await run('rescue-fsck /dev/vde1');
  assert.equal(refused.code, 4);
  assert.match(refused.stderr, /in use by \/dev\/dm-\d+, which is mounted on \/mnt/);
  const refusedLv = await run('rescue-fsck /dev/mapper/labvg-root');
  assert.equal(refusedLv.code, 4, refusedLv.stderr);
  assert.match(refusedLv.stderr, /refused: \/dev\/(mapper\/labvg-root|dm-\d+) is mounted on \/mnt/);
  assert.match(await ok('rescue-umount'), /deactivated LVM volume group labvg/);
  assert.equal((await ok("lvs --config 'devices{obtain_device_list_from_udev=0}' --noheadings -o lv_active labvg")).trim(), '');
});

test('XFS root with an ext4 /boot: mounted, fsck refused while mounted, xfs_repair -n clean after umount', async () => {
  await ok('rescue-mount --root LABEL=xfs-root');
  const lines = await mounts();
  assert.match(lines[0] ?? '', /^\/dev\/vdf2 \/mnt xfs /);
  assert.match(lines[1] ?? '', /^\/dev\/vdf1 \/mnt\/boot ext4 /);
  assert.equal(await ok('cat /mnt/boot/marker'), 'xfs-boot\n');
  const refused = await run('rescue-fsck /dev/vdf2');
  assert.equal(refused.code, 4);
  await ok('rescue-umount');
  const fsck = await run('rescue-fsck /dev/vdf2');
  assert.equal(fsck.code, 0, fsck.stdout + fsck.stderr);
  assert.match(fsck.stdout, /checking xfs on \/dev\/vdf2/);
});

test('second boot with a key: key login works, password login is refused, host keys are new', async () => {
  await harness.cp.api('POST', '/v1/servers/web-1/rescue/exit', undefined, 202);
  // No installed system answers in this test: the exit ends as exit_failed after its 20 s deadline
  // (time enough for the agent's answer first, even on a loaded machine).
  await rescueState('exit_failed', 60_000);
  // The agent released the disks and rebooted the VM (QEMU runs with -no-reboot: it ended).
  assert.equal(harness.machine.poweredOn, false);
  const { tasks } = await harness.cp.api<{ tasks: Array<{ kind: string; steps: Array<{ name: string; detail: string | null }> }> }>('GET', '/v1/servers/web-1/tasks');
  const rebooted = tasks.find((t) => t.kind === 'exit_rescue')?.steps.find((s) => s.name === 'rebooted');
  assert.match(rebooted?.detail ?? '', /^agent rebooted cleanly \(/);
  await waitFor('sshd to be gone', async () => ((await sshBanner(sshPort)) ? undefined : true), 10_000);

  const key = join(work, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'customer@example', '-f', key]);
  const entered = await harness.cp.api<RescueView>('POST', '/v1/servers/web-1/rescue', { sshKeys: [readFileSync(`${key}.pub`, 'utf8').trim()] }, 202);
  assert.equal(entered.ssh.password, undefined, 'no password with keys');
  const view = await rescueState('rescue');
  assert.equal(view.ssh.hostKeyFingerprints.some((f) => firstFingerprints.includes(f)), false, 'fresh host keys at every boot');
  const knownHosts = knownHostsFile(view, 'known_hosts-2');
  login = { port: sshPort, knownHosts, identity: key };
  const out = await ok('grep ^root: /etc/shadow | cut -d: -f2; /usr/sbin/sshd -T | grep -E "^(passwordauthentication|permitrootlogin) "');
  assert.match(out, /^\*$/m);
  assert.match(out, /^passwordauthentication no$/m);
  assert.match(out, /^permitrootlogin without-password$/m);
  const byPassword = await ssh({ port: sshPort, knownHosts, password }, 'true');
  assert.notEqual(byPassword.code, 0, 'password login is refused');
  assert.match(byPassword.stderr, /Permission denied/);
});
