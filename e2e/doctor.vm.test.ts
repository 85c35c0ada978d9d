/**
 * The rescue doctor's fix loop end to end, with nothing mocked (issue 15, "Done means"): the real
 * `lifeboat serve`, one lab server (QEMU + iPXE behind its IPMI BMC) whose installed Debian is broken
 * four ways at once (broken-fstab, firewall-drops-ssh, renamed-nic, bad-sshd-config: it never answers
 * SSH), the rescue image built from Debian packages, the CLI as the customer runs it and OpenSSH.
 * One rescue boot: `lifeboat doctor` lists the four faults with their evidence; one fix is applied
 * and undone (the file is back byte for byte, its copy gone); the four are fixed; then `rescue exit`
 * and the installed system boots from its disk and answers SSH with the lab's key.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DoctorFinding, DoctorFixAnswer, DoctorView } from '@lifeboat/core/api';
import { ensureRescueImage } from '@lifeboat/image';
import type { LabServerStatus } from '@lifeboat/lab';
import { E2eWorld, lifeboat, lifeboatJson, ssh, waitFor, type CommandResult, type SshLogin } from './support.js';

const scenarios = ['broken-fstab', 'firewall-drops-ssh', 'renamed-nic', 'bad-sshd-config'];
/** The finding of each scenario: id, check, severity, fix, and the file its evidence points at. */
const expected = [
  { id: 'fstab-data', check: 'fstab', severity: 'critical', fix: 'fstab-nofail', file: /^\/etc\/fstab$/ },
  { id: 'firewall-nftables', check: 'firewall', severity: 'critical', fix: 'firewall-disable', file: /^\/etc\/nftables\.d\/lab-ssh\.nft$/ },
  { id: 'network-enp9s0', check: 'network-interface', severity: 'critical', fix: 'network-rename', file: /^\/etc\/systemd\/network\/\S+\.network$/ },
  { id: 'sshd-config', check: 'sshd', severity: 'critical', fix: 'sshd-config', file: /^\/etc\/ssh\/sshd_config$/ },
] as const;

describe('the rescue doctor on a lab server broken four ways: find, fix, undo, boot', { timeout: 30 * 60_000 }, () => {
  const world = new E2eWorld('lifeboat-doctor-e2e-');
  let customerKey: string;
  let operator: NodeJS.ProcessEnv;
  let customer: NodeJS.ProcessEnv;
  let server: LabServerStatus;
  let rescueLogin: SshLogin;
  let view: DoctorView;
  const log = (line: string): void => void process.stdout.write(`# ${line}\n`);

  /** A command in the rescue system over SSH that must exit 0 (`rescue-mount` may exit 4: /data is missing). */
  async function inRescue(command: string): Promise<string> {
    const result = await ssh(server.ssh.port, rescueLogin, command);
    assert.equal(result.code, 0, `${command}\n${result.stdout}\n${result.stderr}`);
    return result.stdout;
  }
  /** Runs `command` with the installed system mounted read-only at /mnt, then lets it go. */
  const withSystem = (command: string): Promise<string> =>
    inRescue(`rescue-mount --read-only >/dev/null 2>&1; test -f /mnt/etc/fstab || exit 9; ${command}; s=$?; rescue-umount >/dev/null 2>&1; exit $s`);

  async function doctor(action: 'fix' | 'undo', id: string): Promise<DoctorFixAnswer> {
    const started = Date.now();
    const answer = await lifeboatJson<DoctorFixAnswer>(['doctor', action, server.name, id], customer);
    log(`doctor ${action} ${id}: ${answer.state} in ${Date.now() - started} ms`);
    assert.equal(answer.state, 'done', JSON.stringify(answer.error));
    return answer;
  }

  before(async () => {
    const image = await ensureRescueImage({ onProgress: (line) => process.stderr.write(`[image] ${line}\n`) });
    await world.start({
      serve: ['--console-listen', '127.0.0.1:0', '--image', image.dir, '--rescue-timeout', '8m', '--exit-timeout', '8m', '--scheduler-interval', '1s'],
      lab: scenarios.flatMap((s) => ['--scenario', s]),
    });
    ({ operator, server } = world);
    assert.deepEqual([...server.scenarios].sort(), [...scenarios].sort());
    customer = await world.customer('acme');
    customerKey = world.sshKey('customer_ed25519');
  });

  after(() => world.close());

  it('lifeboat doctor lists the four faults with their evidence, by itself after ready', async () => {
    const started = Date.now();
    const enter = await lifeboatJson<{ state: string; ssh: { knownHosts: string } }>(['rescue', 'enter', server.name, '--ssh-key', `${customerKey}.pub`, '--wait'], customer);
    assert.equal(enter.state, 'rescue');
    log(`rescue enter --wait: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const knownHostsFile = join(world.dir, 'known_hosts');
    writeFileSync(knownHostsFile, `${enter.ssh.knownHosts}\n`);
    rescueLogin = { keyFile: customerKey, knownHostsFile };

    // Between ready and the agent's first report, the doctor answers DOCTOR_NOT_RUN ("it starts once the
    // rescue system is ready"): not yet, like a report still running.
    view = await waitFor('the doctor\'s report', async () => {
      const result = await lifeboat(['doctor', server.name, '--json'], customer);
      if (result.code !== 0 && result.stderr.includes('DOCTOR_NOT_RUN')) return undefined;
      assert.equal(result.code, 0, `lifeboat doctor ${server.name}: ${result.stderr}`);
      const v = JSON.parse(result.stdout) as DoctorView;
      return v.report.state === 'running' ? undefined : v;
    }, 300_000, 1000);
    log(`doctor ${view.report.state} in ${view.report.durationMs} ms on ${view.report.installedSystem}: ${view.report.findings.map((f) => f.id).join(', ')}`);
    assert.equal(view.report.state, 'done', view.report.error);
    assert.equal(view.current, true);
    assert.match(view.report.installedSystem ?? '', /^\/dev\/\S+ \(ext4\)$/);
    // The faults of the four scenarios, and nothing else but the journal's summary of the failed boots.
    const found = view.report.findings.filter((f) => f.check !== 'journal');
    assert.deepEqual(found.map((f) => f.id).sort(), expected.map((e) => e.id).sort());
    for (const want of expected) {
      const f = found.find((x) => x.id === want.id) as DoctorFinding;
      assert.equal(f.check, want.check, want.id);
      assert.equal(f.severity, want.severity, want.id);
      assert.equal(f.fix?.kind, want.fix, want.id);
      assert.equal(f.fix?.state, 'available', want.id);
      const cited = f.evidence.filter((e) => e.file !== undefined && e.line !== undefined);
      assert.ok(cited.length > 0 && cited.every((e) => want.file.test(e.file ?? '') && (e.line ?? 0) >= 1 && e.text.length > 0), `${want.id}: evidence with file and line: ${JSON.stringify(f.evidence)}`);
    }
    const byId = new Map(found.map((f) => [f.id, f]));
    assert.match(byId.get('fstab-data')?.evidence[0]?.text ?? '', /^UUID=\S+ \/data ext4 /);
    assert.ok(byId.get('sshd-config')?.evidence.some((e) => e.text === 'PermitRootLogn yes'));
    assert.match(byId.get('firewall-nftables')?.evidence.map((e) => e.text).join('\n') ?? '', /dport 22 reject/);
    assert.match(byId.get('network-enp9s0')?.fix?.description ?? '', /^Rename enp9s0 to ens3 /);

    // The text form names the fix command of each.
    const text = await lifeboat(['doctor', server.name], customer);
    assert.equal(text.code, 0, text.stderr);
    for (const want of expected) assert.ok(text.stdout.includes(`lifeboat doctor fix ${server.name} ${want.id}`), `${want.id} in\n${text.stdout}`);
  });

  it('a fix and its undo: the file is back byte for byte and the copy is gone', async () => {
    const sum = async (): Promise<string> => (await withSystem('sha256sum /mnt/etc/fstab')).split(' ')[0] ?? '';
    const before = await sum();
    assert.match(before, /^[0-9a-f]{64}$/);
    assert.equal((await withSystem('ls /mnt/etc | grep -c "^fstab\\.lifeboat-" || true')).trim(), '0');

    const fixed = await doctor('fix', 'fstab-data');
    assert.equal(fixed.finding?.fix?.state, 'applied');
    assert.deepEqual(fixed.finding?.fix?.changedFiles, ['/etc/fstab']);
    const backup = fixed.finding?.fix?.backups?.[0] ?? '';
    assert.match(backup, /^\/etc\/fstab\.lifeboat-\d{8}T\d{6}Z$/);
    const afterFix = await withSystem(`grep ' /data ' /mnt/etc/fstab; sha256sum /mnt${backup}`);
    assert.match(afterFix, /^UUID=\S+ \/data ext4 \S*nofail/m, 'the /data line has nofail');
    assert.ok(afterFix.includes(before), 'the copy is the file as it was');

    const undone = await doctor('undo', 'fstab-data');
    assert.equal(undone.finding?.fix?.state, 'available');
    assert.equal(await sum(), before, '/etc/fstab is back byte for byte');
    assert.equal((await withSystem('ls /mnt/etc | grep -c "^fstab\\.lifeboat-" || true')).trim(), '0', 'the copy is removed');
  });

  it('fixes all four; the audit log has them; each fixed file keeps its copy', async () => {
    const originals = new Map<string, string>();
    const answers = new Map<string, DoctorFixAnswer>();
    for (const want of expected) answers.set(want.id, await doctor('fix', want.id));
    for (const [id, answer] of answers) {
      assert.equal(answer.finding?.fix?.state, 'applied', id);
      const files = answer.finding?.fix?.changedFiles ?? [];
      const backups = answer.finding?.fix?.backups ?? [];
      assert.ok(files.length > 0 && backups.length === files.length, `${id}: ${JSON.stringify(answer.finding?.fix)}`);
      backups.forEach((b, i) => originals.set(files[i] ?? '', b));
    }
    // The sshd_config copy is the file as the scenario left it; the fixed file has the line commented out.
    const sshdBackup = originals.get('/etc/ssh/sshd_config') ?? '';
    assert.match(sshdBackup, /^\/etc\/ssh\/sshd_config\.lifeboat-\d{8}T\d{6}Z$/);
    const sshd = await withSystem(`tail -n 1 /mnt${sshdBackup}; echo ---; grep -n 'PermitRootLogn' /mnt/etc/ssh/sshd_config; echo ---; chroot /mnt /usr/sbin/sshd -t -f /etc/ssh/sshd_config -h /etc/ssh/ssh_host_ed25519_key 2>&1 | grep -c PermitRootLogn || true`);
    const [copyTail, fixedLine, complaints] = sshd.split('---\n');
    assert.equal(copyTail?.trim(), 'PermitRootLogn yes');
    assert.match(fixedLine ?? '', /^\d+:#.*PermitRootLogn yes/);
    assert.equal(complaints?.trim(), '0', 'sshd no longer rejects the line');

    const shown = await lifeboatJson<DoctorView>(['doctor', server.name], customer);
    for (const want of expected) assert.equal(shown.report.findings.find((f) => f.id === want.id)?.fix?.state, 'applied', want.id);
    assert.equal(shown.fixes.filter((f) => f.state === 'done').length, 6, 'six fixes and undos, all done');

    const audit = (await (await fetch(`${operator.LIFEBOAT_URL}/v1/audit?server=${server.name}&limit=100`, { headers: { authorization: `Bearer ${operator.LIFEBOAT_TOKEN}` } })).json()) as { events: Array<{ action: string; detail: { kind?: string } }> };
    const actions = audit.events.map((e) => e.action);
    assert.equal(actions.filter((a) => a === 'doctor.fix_applied').length, 5, actions.join(', '));
    assert.equal(actions.filter((a) => a === 'doctor.fix_undone').length, 1, actions.join(', '));
    assert.deepEqual(new Set(audit.events.filter((e) => e.action === 'doctor.fix_applied').map((e) => e.detail.kind)), new Set(expected.map((e) => e.fix)));
  });

  it('rescue exit: the installed system boots from its disk and answers SSH', async () => {
    const started = Date.now();
    const exit = await lifeboatJson<{ state: string }>(['rescue', 'exit', server.name, '--wait'], customer);
    assert.equal(exit.state, 'active');
    const answered: CommandResult = await waitFor('the installed system to answer SSH', async () => {
      const r = await ssh(server.ssh.port, { keyFile: server.osLogin!.keyFile }, 'cat /etc/fstab; ls /etc; systemctl is-enabled nftables; true', 30_000);
      return r.code === 0 ? r : undefined;
    }, 300_000, 3000);
    log(`rescue exit to SSH of the installed system: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.match(answered.stdout, /^UUID=\S+ \/data ext4 \S*nofail/m, 'booted with the fixed fstab');
    assert.match(answered.stdout, /^fstab\.lifeboat-\d{8}T\d{6}Z$/m, 'the copy of the fixed fstab is beside it');
    assert.match(answered.stdout, /^disabled$/m, 'nftables is disabled');
  });
});
