/**
 * The rescue doctor on a real installed Debian 12 broken in several ways at once (one lab disk with
 * the scenarios bad-sshd-config, firewall-drops-ssh, renamed-nic, missing-kernel, disk-full and
 * broken-fstab), in one rescue boot: the agent runs it after ready by itself; `rescue-doctor --json`
 * over SSH lists each fault, nothing of the disk stays mounted or assembled afterwards, and
 * `--rerun` runs it again. The same boot has two more installed systems attached, behind the first
 * (the doctor's own run examines the first system found): a raid1 whose second member is blank
 * (degraded-raid) and a split-var system whose root password is lost and whose root file system is
 * marked as having errors and whose firewall drops everything (lost-password, corrupt-fs, no-network); each is mounted with `rescue-mount --root`,
 * which the doctor then examines.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { DoctorReport } from '@lifeboat/core/api';
import { ensureScenarioDisks } from '@lifeboat/lab';
import type { ScenarioDisks } from '@lifeboat/lab';
import type { SshLogin } from '@lifeboat/test-support';
import { sshCommands, startRescueHarness } from './rescue-harness.js';
import type { RescueHarness } from './rescue-harness.js';

const work = mkdtempSync(join(tmpdir(), 'lifeboat-doctor-vm-'));
const log = (line: string): void => void process.stdout.write(`# ${line}\n`);
const scenarios = ['bad-sshd-config', 'firewall-drops-ssh', 'renamed-nic', 'missing-kernel', 'disk-full', 'broken-fstab'];

let harness: RescueHarness;
let login: SshLogin;
let disks: readonly string[] = [];
let degradedRaid: ScenarioDisks;
let lostPassword: ScenarioDisks;
const { run, ok } = sshCommands(() => login, log);

before(async () => {
  disks = (await ensureScenarioDisks('plain', scenarios, { onProgress: log })).disks;
  degradedRaid = await ensureScenarioDisks('raid1', ['degraded-raid'], { onProgress: log });
  lostPassword = await ensureScenarioDisks('split-var', ['lost-password', 'corrupt-fs', 'no-network'], { onProgress: log });
  disks = [...disks, ...degradedRaid.disks, ...lostPassword.disks];
  harness = await startRescueHarness({ work, mac: '52:54:00:ab:cd:15', serverName: 'web-15', disks: () => disks, log });
});

after(async () => {
  await harness?.close();
});

test('the doctor finds every fault of the broken disk by itself after ready, and lets the disk go', async () => {
  login = await harness.enterWithKey();
  const started = Date.now();
  const out = await run('rescue-doctor --json --wait 240');
  log(`rescue-doctor --json answered in ${Date.now() - started} ms after the login (exit ${out.code})`);
  assert.equal(out.code, 1, `findings: exit 1 (${out.stderr})`);
  const report = JSON.parse(out.stdout) as DoctorReport;
  log(`doctor run ${report.durationMs} ms on ${report.installedSystem}: ${report.findings.map((f) => f.id).join(', ')}`);
  assert.equal(report.state, 'done', report.error);
  const ids = report.findings.map((f) => f.id);
  for (const id of ['sshd-config', 'firewall-nftables', 'network-enp9s0', 'boot-entry-extlinux-conf', 'filesystem-full-root', 'fstab-data']) assert.ok(ids.includes(id), `${id} in ${ids.join(', ')}`);
  const byId = new Map(report.findings.map((f) => [f.id, f]));
  assert.match(byId.get('network-enp9s0')?.fix?.description ?? '', /Rename enp9s0 to ens3/, 'the lab NIC is named as the installed system names it');
  assert.deepEqual(byId.get('sshd-config')?.evidence.slice(1).map((e) => e.text), ['PermitRootLogn yes']);
  assert.equal(byId.get('firewall-nftables')?.evidence[0]?.file, '/etc/nftables.d/lab-ssh.nft');
  assert.ok(!ids.includes('sshd-disabled') && !ids.includes('root-login'), 'ssh is enabled and root has the lab key');
  // Nothing of the installed system stays mounted, nor anything the doctor assembled.
  assert.equal((await ok("awk '$2 ~ \"^/run/lifeboat/doctor\"' /proc/mounts")).trim(), '');
  const text = await run('rescue-doctor');
  assert.match(text.stdout, /\[CRITICAL\] sshd-config \(sshd\)/);
  assert.match(text.stdout, /apply: lifeboat doctor fix SERVER fstab-data/);

  const again = await run('rescue-doctor --rerun --json');
  const rerun = JSON.parse(again.stdout) as DoctorReport;
  assert.notEqual(rerun.startedAt, report.startedAt);
  // The raid check reads /proc/mdstat: the other disks' degraded arrays show there too, under md numbers
  // that change with each assembly.
  const own = (list: string[]): string[] => list.filter((id) => !id.startsWith('raid-')).sort();
  assert.deepEqual(own(rerun.findings.map((f) => f.id)), own(ids));
});

/** The doctor's report on the installed system whose root has `uuid`, mounted by the customer at /mnt. */
async function examineMounted(uuid: string): Promise<DoctorReport> {
  const mounted = await run(`rescue-mount --read-only --root UUID=${uuid}`);
  assert.ok(mounted.code === 0 || mounted.code === 4, `rescue-mount: ${mounted.code}\n${mounted.stdout}\n${mounted.stderr}`);
  try {
    const out = await run('rescue-doctor --rerun --json --wait 240');
    const report = JSON.parse(out.stdout) as DoctorReport;
    log(`doctor on UUID=${uuid} (${report.installedSystem}): ${report.findings.map((f) => `${f.id} ${f.severity}`).join(', ')} in ${report.durationMs} ms`);
    assert.equal(report.state, 'done', report.error);
    return report;
  } finally {
    await ok('rescue-umount');
  }
}

const rootOf = (d: ScenarioDisks): string => d.fileSystems.find((f) => f.mount === '/')?.uuid ?? '';

test('degraded-raid: a raid finding names each degraded array', async () => {
  const report = await examineMounted(rootOf(degradedRaid));
  const raid = report.findings.filter((f) => f.check === 'raid');
  // Every array of the raid1 layout lost its second member.
  assert.ok(raid.length >= 1, JSON.stringify(report.findings));
  for (const f of raid) {
    assert.equal(f.severity, 'warning');
    assert.match(f.summary, /is degraded: 1 of 2 devices work/);
    assert.match(f.evidence[0]?.text ?? '', /\[2\/1\]/);
  }
  assert.deepEqual(report.findings.filter((f) => f.check !== 'raid' && f.check !== 'journal'), [], 'nothing else is wrong with it');
});

test('lost-password, corrupt-fs and no-network: root cannot log in (password reset offered); the root file system has errors; the firewall drops everything', async () => {
  const report = await examineMounted(rootOf(lostPassword));
  const byCheck = new Map(report.findings.map((f) => [f.check, f]));
  const login = byCheck.get('root-login');
  assert.ok(login, JSON.stringify(report.findings));
  // The password is not locked, only unknown, and sshd takes root's password: the doctor cannot know it
  // is lost, so it says so as information and offers the reset.
  assert.equal(login.severity, 'info');
  assert.equal(login.fix?.kind, 'root-password');
  assert.equal(login.fix?.state, 'available');
  assert.ok(!JSON.stringify(login).includes('$6$'), 'no hash in the evidence');
  const errors = byCheck.get('filesystem-errors');
  assert.ok(errors, JSON.stringify(report.findings));
  assert.equal(errors.id, 'filesystem-errors-root');
  assert.equal(errors.severity, 'critical');
  assert.match(errors.evidence[0]?.text ?? '', /with errors|FS Error count/);
  assert.equal(errors.fix, undefined, 'the repair is rescue-fsck, not a one-step fix');
  // no-network: nftables enabled with an input policy that drops everything.
  const firewall = byCheck.get('firewall');
  assert.ok(firewall, JSON.stringify(report.findings));
  assert.deepEqual([firewall.id, firewall.severity, firewall.fix?.kind, firewall.evidence[0]?.file], ['firewall-nftables', 'critical', 'firewall-disable', '/etc/nftables.conf']);
  assert.deepEqual(report.findings.filter((f) => !['root-login', 'filesystem-errors', 'firewall', 'journal', 'raid'].includes(f.check)), [], 'nothing else is wrong with it');
});
