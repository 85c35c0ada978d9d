/**
 * The mission, start to finish, on lab servers with nothing mocked: a control plane (the real
 * `lifeboat serve`), two QEMU servers that netboot with iPXE, one behind an IPMI BMC (ipmi_sim) and
 * one behind Redfish, the rescue image built from Debian packages, OpenSSH as the customer's client
 * and a real SMTP server. Two VMs at most run at once (npm test: two VMs at once, so this file runs
 * alone, after the others).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureRescueImage } from '@lifeboat/image';
import { labStatus, main as lab, type LabServerStatus } from '@lifeboat/lab';
import { freePort, lifeboat, lifeboatJson, ServeProcess, ssh, startSmtpServer, waitFor, type CommandResult } from './support.js';


interface EnterAnswer {
  server: string;
  state: string;
  sessionId: string;
  expiresAt: string;
  ssh: { host: string; port: number; user: string; password?: string; hostKeyFingerprints: string[]; knownHosts: string };
}

describe('rescue end to end on lab servers', { timeout: 40 * 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-e2e-'));
  const dataDir = join(dir, 'data');
  const labDir = join(dir, 'lab');
  let port: number;
  let imageDir: string;
  let controlPlane: ServeProcess | undefined;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let operator: NodeJS.ProcessEnv;
  let customer: NodeJS.ProcessEnv;
  let servers: Map<string, LabServerStatus>;
  const customerKey = join(dir, 'customer_ed25519');

  /** Starts `lifeboat serve` (the control plane as an operator runs it) and waits for /healthz. */
  const startControlPlane = (extraFlags: string[] = []): Promise<void> =>
    controlPlane!.start([
      '--data', dataDir, '--console-listen', '127.0.0.1:0', '--image', imageDir, '--smtp-url', smtp.url,
      '--rescue-timeout', '8m', '--exit-timeout', '8m', '--scheduler-interval', '1s', '--lease-warning', '40s',
      ...extraFlags,
    ]);
  const stopControlPlane = (): Promise<void> => controlPlane?.stop() ?? Promise.resolve();

  async function stateOf(name: string): Promise<string> {
    return (await lifeboatJson<{ state: string }>(['servers', 'show', name], operator)).state;
  }

  function server(name: string): LabServerStatus {
    const found = servers.get(name);
    assert.ok(found, `lab server ${name}`);
    return found;
  }

  /** The installed Debian answers SSH with the lab's key, which only it accepts (it booted from its disk). */
  async function installedSystemAnswers(name: string, timeoutMs: number): Promise<CommandResult> {
    const s = server(name);
    return waitFor(`${name}'s installed system to answer SSH`, async () => {
      const result = await ssh(s.ssh.port, { keyFile: s.osLogin!.keyFile }, 'cat /etc/fstab', 30_000);
      return result.code === 0 ? result : undefined;
    }, timeoutMs, 3000);
  }

  before(async () => {
    const image = await ensureRescueImage({ onProgress: (line) => process.stderr.write(`[image] ${line}\n`) });
    imageDir = image.dir;
    smtp = await startSmtpServer();
    port = await freePort();
    controlPlane = new ServeProcess(port);
    mkdirSync(dataDir, { recursive: true });
    await startControlPlane();
    const adminToken = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
    const base = { ...process.env, LIFEBOAT_URL: `http://127.0.0.1:${port}` };
    operator = { ...base, LIFEBOAT_TOKEN: adminToken };

    // Two servers: lab-1 healthy (Redfish), lab-2 whose fstab names a missing disk (IPMI).
    process.env.LIFEBOAT_LAB = labDir;
    const up = await lab(['up', '--servers', '2', '--scenario', 'broken-fstab', '--boot-url', `http://10.0.2.2:${port}/boot.ipxe`]);
    assert.equal(up, 0, 'lifeboat lab up');
    servers = new Map(labStatus(labDir).servers.map((s) => [s.name, s]));

    await lifeboatJson(['tenants', 'add', 'lab', '--email', 'owner@lab.example'], operator);
    const bmcPasswordFile = join(dir, 'bmc.password');
    writeFileSync(bmcPasswordFile, server('lab-1').ipmi.password, { mode: 0o600 });
    const redfish = new URL(server('lab-1').redfish.url);
    await lifeboatJson(
      ['servers', 'add', 'lab-1', '--tenant', 'lab', '--mac', server('lab-1').mac,
        '--bmc', `redfish://${redfish.host}${redfish.pathname}`, '--bmc-user', server('lab-1').redfish.user, '--bmc-password-file', bmcPasswordFile,
        '--ssh-endpoint', `127.0.0.1:${server('lab-1').ssh.port}`],
      operator,
    );
    await lifeboatJson(
      ['servers', 'add', 'lab-2', '--tenant', 'lab', '--mac', server('lab-2').mac,
        '--bmc', `ipmi://127.0.0.1:${server('lab-2').ipmi.port}`, '--bmc-user', server('lab-2').ipmi.user, '--bmc-password-file', bmcPasswordFile,
        '--ssh-endpoint', `127.0.0.1:${server('lab-2').ssh.port}`],
      operator,
    );
    const { token } = await lifeboatJson<{ token: string }>(['tokens', 'create', '--tenant', 'lab', '--role', 'customer'], operator);
    customer = { ...base, LIFEBOAT_TOKEN: token };
    const keygen = await new Promise<number | null>((resolve) =>
      spawn('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', customerKey], { stdio: 'ignore' }).once('exit', resolve),
    );
    assert.equal(keygen, 0);
  });

  after(async () => {
    const left = labDir ? await lab(['down']) : 0;
    await stopControlPlane();
    await smtp?.close();
    if (process.exitCode && process.exitCode !== 0) process.stderr.write((controlPlane?.log ?? '').slice(-20_000));
    rmSync(dir, { recursive: true, force: true });
    assert.equal(left, 0);
  });

  it('rescues a server stuck in emergency mode by a broken fstab (IPMI, password, mail)', async () => {
    const s = server('lab-2');
    await waitFor('lab-2 to stop in emergency mode', async () => /emergency mode/i.test(readFileSync(s.serialLog, 'utf8')), 300_000, 2000);
    const stuck = await ssh(s.ssh.port, { keyFile: s.osLogin!.keyFile }, 'true', 20_000);
    assert.notEqual(stuck.code, 0, 'the stuck system must not answer SSH');

    const enter = await lifeboatJson<EnterAnswer>(['rescue', 'enter', 'lab-2', '--email', 'oncall@customer.example', '--wait'], customer);
    assert.equal(enter.state, 'rescue');
    assert.equal(enter.server, 'lab-2');
    assert.ok(enter.ssh.password && enter.ssh.password.length >= 20, 'a temporary password of 20+ characters');
    assert.ok(enter.ssh.hostKeyFingerprints.length > 0);
    assert.match(enter.ssh.knownHosts, new RegExp(`^\\[127\\.0\\.0\\.1\\]:${s.ssh.port} ssh-ed25519 AAAA`, 'm'));
    const knownHostsFile = join(dir, 'known_hosts.lab-2');
    writeFileSync(knownHostsFile, `${enter.ssh.knownHosts}\n`);

    // The password is shown once: `rescue show` never repeats it.
    const shown = await lifeboat(['rescue', 'show', 'lab-2', '--json'], customer);
    assert.equal(shown.code, 0, shown.stderr);
    assert.doesNotMatch(shown.stdout, new RegExp(enter.ssh.password.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));

    // The customer repairs the installed system over SSH, verifying the host key.
    const login = { password: enter.ssh.password, knownHostsFile };
    // rescue-mount mounts the root and names the fstab line that keeps the system from booting
    // (exit status 4: something of the fstab could not be mounted, everything else is).
    const mount = await ssh(s.ssh.port, login, 'rescue-mount');
    assert.equal(mount.code, 4, mount.stderr + mount.stdout);
    assert.match(mount.stdout + mount.stderr, /mounted \/dev\/\S+ on \/mnt/);
    assert.match(mount.stderr + mount.stdout, /\/data: device UUID=\S+ not found/);
    const fix = await ssh(s.ssh.port, login, "sed -i '\\# /data ext4 #d' /mnt/etc/fstab && cat /mnt/etc/fstab && rescue-umount");
    assert.equal(fix.code, 0, fix.stderr + fix.stdout);
    assert.doesNotMatch(fix.stdout, / \/data /);

    // The mail carries the password, the fingerprints and the known_hosts line.
    const mail = await waitFor('the credentials mail', async () => smtp.messages.find((m) => m.to.includes('oncall@customer.example')), 30_000, 200);
    const body = mail.data.replace(/=\r?\n/g, '');
    for (const fingerprint of enter.ssh.hostKeyFingerprints) assert.ok(body.includes(fingerprint), `mail has ${fingerprint}`);
    assert.ok(body.includes(enter.ssh.knownHosts.split('\n')[0]!.split(' ')[2]!.slice(0, 40)), 'mail has the known_hosts line');

    // The boot timeline of the task, in order.
    const tasks = await lifeboatJson<{ tasks: Array<{ kind: string; steps: Array<{ name: string; state: string }> }> }>(['tasks', 'lab-2'], customer);
    const steps = tasks.tasks.flatMap((t) => t.steps.map((step) => step.name));
    for (const wanted of ['validated', 'boot_device_set', 'power_cycled', 'ipxe_script_served', 'kernel_fetched', 'initrd_fetched', 'agent_started', 'host_keys_reported', 'ready']) {
      assert.ok(steps.includes(wanted), `timeline step ${wanted} in ${steps.join(', ')}`);
    }

    const exit = await lifeboatJson<{ state: string }>(['rescue', 'exit', 'lab-2', '--wait'], customer);
    assert.equal(exit.state, 'active');
    const back = await installedSystemAnswers('lab-2', 240_000);
    assert.doesNotMatch(back.stdout, / \/data /, 'the fix is on the disk');
  });

  it('rescues with the customer\'s SSH key and no password (Redfish)', async () => {
    const s = server('lab-1');
    await installedSystemAnswers('lab-1', 300_000);
    const enter = await lifeboatJson<EnterAnswer>(['rescue', 'enter', 'lab-1', '--ssh-key', `${customerKey}.pub`, '--wait'], customer);
    assert.equal(enter.state, 'rescue');
    assert.equal(enter.ssh.password, undefined, 'no password exists with SSH keys');
    const knownHostsFile = join(dir, 'known_hosts.lab-1');
    writeFileSync(knownHostsFile, `${enter.ssh.knownHosts}\n`);

    const inside = await ssh(s.ssh.port, { keyFile: customerKey, knownHostsFile }, 'cat /proc/cmdline; lsblk --json');
    assert.equal(inside.code, 0, inside.stderr);
    assert.match(inside.stdout, /lifeboat\.token=/);
    assert.doesNotMatch(inside.stdout, /password/i, 'no password on the kernel command line');
    const refused = await ssh(s.ssh.port, { password: 'not-the-password-0123456789', knownHostsFile }, 'true', 30_000);
    assert.notEqual(refused.code, 0, 'password login is refused');

    // The customer leaves the installed system mounted read-write with a file just written (no sync):
    // the exit goes through the agent, which syncs and unmounts before it reboots.
    const proof = `written in rescue ${Date.now()}`;
    const write = await ssh(s.ssh.port, { keyFile: customerKey, knownHostsFile }, `rescue-mount && printf '%s\\n' '${proof}' > /mnt/root/lifeboat-exit-proof`);
    assert.equal(write.code, 0, write.stderr + write.stdout);

    const exit = await lifeboatJson<{ state: string }>(['rescue', 'exit', 'lab-1', '--wait'], customer);
    assert.equal(exit.state, 'active');
    const back = await installedSystemAnswers('lab-1', 240_000);
    assert.ok(back.stdout.length > 0);
    const found = await ssh(s.ssh.port, { keyFile: s.osLogin!.keyFile }, 'cat /root/lifeboat-exit-proof', 30_000);
    assert.equal(found.stdout, `${proof}\n`, 'the file written in rescue is on the booted system');
    const tasks = await lifeboatJson<{ tasks: Array<{ kind: string; steps: Array<{ name: string; detail?: string | null }> }> }>(['tasks', 'lab-1'], customer);
    const rebooted = tasks.tasks.find((t) => t.kind === 'exit_rescue')?.steps.find((step) => step.name === 'rebooted');
    assert.match(rebooted?.detail ?? '', /^agent rebooted cleanly \(unmounted (\S+, )*\/mnt\)$/);
  });

  it('ends a rescue by itself when its lease expires, after a warning mail', async () => {
    const enter = await lifeboatJson<EnterAnswer>(
      ['rescue', 'enter', 'lab-1', '--ssh-key', `${customerKey}.pub`, '--email', 'lease@customer.example', '--expires-in', '90s', '--wait'],
      customer,
    );
    assert.equal(enter.state, 'rescue');
    await waitFor('lab-1 to leave rescue by itself', async () => (await stateOf('lab-1')) === 'active', 600_000, 3000);
    await installedSystemAnswers('lab-1', 240_000);
    assert.ok(smtp.messages.some((m) => m.to.includes('lease@customer.example') && /expir/i.test(m.data)), 'an expiry warning was mailed');
  });

  it('refuses a rescue at once when the profile has no image, and leaves the server untouched', async () => {
    // The operator points the profile at a directory without an image: the request is refused before
    // anything touches the BMC (it used to be accepted, and failed only at the rescue deadline).
    await stopControlPlane();
    const empty = join(dir, 'no-image');
    mkdirSync(empty, { recursive: true });
    imageDir = empty;
    await startControlPlane(['--rescue-timeout', '2m']);
    const enter = await lifeboat(['rescue', 'enter', 'lab-1', '--ssh-key', `${customerKey}.pub`, '--json'], customer);
    assert.equal(enter.code, 1, 'refused by the control plane');
    assert.match(enter.stdout + enter.stderr, /IMAGE_NOT_FOUND/);
    assert.match(enter.stdout + enter.stderr, /lifeboat image build/);
    const shown = await lifeboatJson<{ state: string; sessionId: string | null }>(['rescue', 'show', 'lab-1'], customer);
    assert.equal(shown.state, 'active');
    await installedSystemAnswers('lab-1', 60_000);
  });

  it('rolls back to disk boot when the rescue image cannot boot', async () => {
    // The three files are there, but the kernel is not one: iPXE fetches it, cannot boot it, and boots
    // the local disk; the rescue deadline then rolls the server back.
    await stopControlPlane();
    const broken = join(dir, 'broken-image');
    mkdirSync(broken, { recursive: true });
    for (const file of ['vmlinuz', 'initrd', 'rootfs.squashfs']) writeFileSync(join(broken, file), `not a ${file}\n`);
    imageDir = broken;
    await startControlPlane(['--rescue-timeout', '2m']);
    const enter = await lifeboat(['rescue', 'enter', 'lab-1', '--ssh-key', `${customerKey}.pub`, '--wait', '--json'], customer);
    assert.notEqual(enter.code, 0, 'enter --wait fails');
    assert.match(enter.stderr + enter.stdout, /rescue_failed|RESCUE_FAILED/i);
    const shown = await lifeboatJson<{ state: string; reason?: string | null }>(['rescue', 'show', 'lab-1'], customer);
    assert.equal(shown.state, 'rescue_failed');
    await installedSystemAnswers('lab-1', 300_000);
  });
});
