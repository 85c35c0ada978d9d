/**
 * The rescue doctor on a real installed Debian 12 broken in several ways at once (one lab disk with
 * the scenarios bad-sshd-config, firewall-drops-ssh, renamed-nic, missing-kernel, disk-full and
 * broken-fstab), in one rescue boot: the agent runs it after ready by itself; `rescue-doctor --json`
 * over SSH lists each fault, nothing of the disk stays mounted or assembled afterwards, and
 * `--rerun` runs it again.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { DoctorReport } from '@lifeboat/core/api';
import { ensureScenarioDisks } from '@lifeboat/lab';
import type { SshLogin } from '@lifeboat/test-support';
import { sshCommands, startRescueHarness } from './rescue-harness.js';
import type { RescueHarness } from './rescue-harness.js';

const work = mkdtempSync(join(tmpdir(), 'lifeboat-doctor-vm-'));
const log = (line: string): void => void process.stdout.write(`# ${line}\n`);
const scenarios = ['bad-sshd-config', 'firewall-drops-ssh', 'renamed-nic', 'missing-kernel', 'disk-full', 'broken-fstab'];

let harness: RescueHarness;
let login: SshLogin;
let disks: readonly string[] = [];
const { run, ok } = sshCommands(() => login, log);

before(async () => {
  disks = (await ensureScenarioDisks('plain', scenarios, { onProgress: log })).disks;
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
  assert.deepEqual(rerun.findings.map((f) => f.id).sort(), [...ids].sort());
});
