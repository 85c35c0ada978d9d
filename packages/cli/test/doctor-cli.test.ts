/**
 * `lifeboat doctor ...` against a control plane process, the agent played by the test through the agent
 * API (its report, the fix work, its answers): the listing, the JSON documents, fix and undo waiting
 * for the rescue system, the root password printed once, and the exit codes (0 done, 4 the rescue
 * system could not, 1 refused, 2 bad command line).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LifeboatClient } from '@lifeboat/core';
import { brokenDoctorReport, playAgent, waitFor, type ControlPlaneProcess, type PlayedAgent } from '@lifeboat/test-support';
import { runLifeboat, startCustomerPlane } from './run-cli.js';

const report = brokenDoctorReport();
/** The finding whose fix the tests apply and undo. */
const fstabData = report.findings.find((f) => f.id === 'fstab-data')!;

describe('lifeboat doctor against a running control plane', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-cli-doctor-'));
  const mac = '52:54:00:cc:00:31';
  let plane: ControlPlaneProcess;
  let stop: (() => Promise<void>) | undefined;
  let env: NodeJS.ProcessEnv;
  let agent: PlayedAgent;

  const lifeboat = (args: string[]) => runLifeboat(args, env);
  /** The next doctor work the played agent receives by its long poll. */
  const nextWork = () =>
    waitFor('doctor work', async () => {
      const { body } = await agent.call('GET', '/work?waitSeconds=1');
      return (body.jobs as Array<{ id: string; kind: string; params: Record<string, unknown> }>).find((j) => j.kind.startsWith('doctor_'));
    }, 30_000, 10);

  before(async () => {
    let customer: LifeboatClient;
    ({ plane, env, customer, stop } = await startCustomerPlane(dir, mac));
    const before = await lifeboat(['doctor', 'web-1']);
    assert.equal(before.code, 1);
    assert.match(before.stderr, /DOCTOR_NOT_RUN: the rescue doctor never examined web-1/);
    await customer.enterRescue('web-1', { sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test'] });
    agent = await playAgent(plane.url, mac);
    assert.equal((await agent.call('POST', '/doctor', report)).status, 204);
  });
  after(async () => {
    await stop?.();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the findings with severity, evidence and the fix command; --json prints the report', async () => {
    const human = await lifeboat(['doctor', 'web-1']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /examined:\s+\/dev\/sda1 \(ext4\)/);
    assert.match(human.stdout, /fstab-data {2}CRITICAL {2}fstab\n {2}\/etc\/fstab mounts \/data/);
    assert.match(human.stdout, / {4}\/etc\/fstab:2: UUID=5b1e0c2a-7d4f-4a8e-9a51-3f0c2d9e8b11 \/data ext4 defaults 0 2/);
    assert.match(human.stdout, /fix: Add nofail to line 2 of \/etc\/fstab: the boot goes on without \/data \(its contents stay on the missing disk\)\.: lifeboat doctor fix web-1 fstab-data/);
    assert.match(human.stdout, / {4}\$ journalctl --directory \/var\/log\/journal -b 0 -p err\n {4}.*Timed out waiting/);
    const json = await lifeboat(['doctor', 'web-1', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual([json.json.server, json.json.current, json.json.report.state], ['web-1', true, 'done']);
    assert.deepEqual(json.json.report.findings.map((f: { id: string; severity: string; check: string }) => `${f.id}/${f.severity}/${f.check}`), ['journal/info/journal', 'root-login/warning/root-login', 'fstab-data/critical/fstab', 'firewall-nftables/critical/firewall']);
    assert.deepEqual(json.json.report.findings.find((f: { id: string }) => f.id === 'fstab-data').evidence, fstabData.evidence);
  });

  it('doctor fix waits for the rescue system and prints what changed and the copy kept; undo puts it back', async () => {
    const running = lifeboat(['doctor', 'fix', 'web-1', 'fstab-data']);
    const work = await nextWork();
    assert.deepEqual([work.kind, work.params], ['doctor_fix', { findingId: 'fstab-data' }]);
    const applied = { ...fstabData, fix: { ...fstabData.fix!, state: 'applied', changedFiles: ['/etc/fstab'], backups: ['/etc/fstab.lifeboat-20260601T100102Z'] } };
    assert.equal((await agent.call('POST', `/work/${work.id}/result`, { state: 'completed', result: { ok: true, finding: applied } })).status, 204);
    const run = await running;
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /fstab-data: fix applied: Add nofail to line 2 of \/etc\/fstab/);
    assert.match(run.stdout, /changed \/etc\/fstab; its copy: \/etc\/fstab\.lifeboat-20260601T100102Z/);
    assert.match(run.stdout, /undo: lifeboat doctor undo web-1 fstab-data/);
    const listed = await lifeboat(['doctor', 'web-1']);
    assert.match(listed.stdout, /fix applied: Add nofail to line 2 of \/etc\/fstab: .* \(\/etc\/fstab\); undo: lifeboat doctor undo web-1 fstab-data/);

    const again = await lifeboat(['doctor', 'fix', 'web-1', 'fstab-data']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /DOCTOR_ALREADY_FIXED/);

    const undoing = lifeboat(['doctor', 'undo', 'web-1', 'fstab-data', '--json']);
    const undo = await nextWork();
    assert.equal(undo.kind, 'doctor_undo');
    await agent.call('POST', `/work/${undo.id}/result`, { state: 'completed', result: { ok: true, finding: fstabData } });
    const undone = await undoing;
    assert.equal(undone.code, 0, undone.stderr);
    assert.deepEqual([undone.json.action, undone.json.state, undone.json.finding.fix.state], ['undo', 'done', 'available']);
  });

  it('exits 4 when the rescue system could not apply the fix, 1 for a finding without a fix, 2 for a bad command line', async () => {
    const running = lifeboat(['doctor', 'fix', 'web-1', 'fstab-data', '--json']);
    const work = await nextWork();
    await agent.call('POST', `/work/${work.id}/result`, { state: 'completed', result: { ok: false, error: { code: 'DEVICE_BUSY', message: '/dev/sda1 is mounted at /mnt by an SSH session' } } });
    const run = await running;
    assert.equal(run.code, 4, run.stderr);
    assert.deepEqual([run.json.state, run.json.error.code], ['failed', 'DEVICE_BUSY']);
    assert.match(run.stderr, /DOCTOR_FIX_FAILED: the fix of fstab-data failed: \/dev\/sda1 is mounted/);

    const none = await lifeboat(['doctor', 'fix', 'web-1', 'journal']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /DOCTOR_NO_FIX/);
    const unknown = await lifeboat(['doctor', 'undo', 'web-1', 'fstab-home']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /DOCTOR_FINDING_NOT_FOUND/);
    const usage = await lifeboat(['doctor', 'fix', 'web-1']);
    assert.equal(usage.code, 2);
  });

  it('the root-password fix prints the new password once; only its hash reaches the rescue system', async () => {
    const running = lifeboat(['doctor', 'fix', 'web-1', 'root-login']);
    const work = await nextWork();
    assert.match(String(work.params.passwordHash), /^\$6\$/);
    await agent.call('POST', `/work/${work.id}/result`, { state: 'completed', result: { ok: true } });
    const run = await running;
    assert.equal(run.code, 0, run.stderr);
    const password = /new root password \(shown once, not mailed\): (\S+)/.exec(run.stdout)?.[1];
    assert.ok(password && password.length >= 20, run.stdout);
    assert.ok(!JSON.stringify(work.params).includes(password));
    const shown = await lifeboat(['doctor', 'web-1', '--json']);
    assert.ok(!shown.stdout.includes(password), 'never shown again');
    assert.equal(shown.json.report.findings.find((f: { id: string }) => f.id === 'root-login').fix.state, 'applied');
  });
});
