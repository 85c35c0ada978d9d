/**
 * The serial console of a lab server, end to end with nothing mocked: the real `lifeboat serve` and
 * its SSH console gateway, the OpenSSH client, a lab server (QEMU + iPXE) behind its IPMI BMC
 * (ipmi_sim), whose Serial-over-LAN (RMCP+, `ipmitool sol activate`) carries the VM's ttyS0 through
 * the lab's serial fan-out, and the rescue image built from Debian packages. One lab server started
 * once, whose installed system stops in emergency mode (the lab's broken-fstab scenario), serves every
 * check: a rescue of a broken image (an initrd the kernel cannot use) fails and its console log shows
 * the kernel panic; then, with the real image, attach, watch the reboot into rescue, log in on the
 * rescue's serial getty with the session's temporary password, a read-only second viewer, refusals,
 * `~.`, the audit log and the console log; last, an exit without repairing the fstab fails as soon as
 * the console shows emergency mode, and says so.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureRescueImage } from '@lifeboat/image';
import type { LabServerStatus } from '@lifeboat/lab';
import { E2eWorld, freePort, lifeboat, lifeboatJson, waitFor } from './support.js';


/** A running OpenSSH client attached to the gateway, with what it printed. */
interface Viewer {
  readonly child: ChildProcessWithoutNullStreams;
  stdout: string;
  stderr: string;
  readonly exited: Promise<number | null>;
}

/** What the console printed since `from`, without terminal escape sequences. */
function since(viewer: Viewer, from: number): string {
  // eslint-disable-next-line no-control-regex
  return viewer.stdout.slice(from).replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
}

describe('the serial console of a lab server through IPMI SOL and the SSH gateway', { timeout: 25 * 60_000 }, () => {
  const world = new E2eWorld('lb-console-');
  const dir = world.dir;
  let keys: { readonly acme: string; readonly globex: string; readonly stranger: string };
  const knownHosts = join(dir, 'known_hosts');
  const viewers: Viewer[] = [];
  let port: number;
  let consolePort: number;
  let imageDir: string;
  let brokenImageDir: string;
  let operator: NodeJS.ProcessEnv;
  let acme: NodeJS.ProcessEnv;
  let server: LabServerStatus;
  let gatewayPort: number;

  function ssh(key: string, user: string, args: string[] = []): Viewer {
    const child = spawn('ssh', [
      '-F', '/dev/null', '-p', String(gatewayPort), '-i', key,
      '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-e', 'none',
      `${user}@127.0.0.1`, ...args,
    ]);
    const viewer: Viewer = { child, stdout: '', stderr: '', exited: new Promise((resolve) => child.once('close', (code) => resolve(code))) };
    child.stdout.on('data', (d: Buffer) => (viewer.stdout += d.toString('latin1')));
    child.stderr.on('data', (d: Buffer) => (viewer.stderr += d.toString('latin1')));
    viewers.push(viewer);
    return viewer;
  }

  const attached = (viewer: Viewer) => waitFor('the console banner', () => viewer.stderr.includes('~. at the start of a line detaches'), 60_000, 100);

  /** The flags of `lifeboat serve` serving `image` for profile linux. */
  const serveFlags = (image: string, rescueTimeout: string): string[] =>
    ['--console-listen', `127.0.0.1:${consolePort}`, '--image', image, '--rescue-timeout', rescueTimeout, '--scheduler-interval', '1s'];

  before(async () => {
    const image = await ensureRescueImage({ onProgress: (line) => process.stderr.write(`[image] ${line}\n`) });
    imageDir = image.dir;
    // A broken image: the real kernel with an initrd it cannot unpack (no root file system: panic).
    brokenImageDir = join(dir, 'broken-image');
    mkdirSync(brokenImageDir);
    copyFileSync(join(imageDir, 'vmlinuz'), join(brokenImageDir, 'vmlinuz'));
    writeFileSync(join(brokenImageDir, 'initrd'), 'this is not an initramfs\n');
    symlinkSync(join(imageDir, 'rootfs.squashfs'), join(brokenImageDir, 'rootfs.squashfs'));
    consolePort = await freePort();
    // The lab as `npm start` makes it: registered by `lab up --register` (IPMI BMC, so the console is
    // the BMC's SOL). Its installed Debian's fstab names a disk that does not exist: it boots into
    // emergency mode, where SSH never answers, until it is rescued and repaired.
    await world.start({ serve: serveFlags(brokenImageDir, '100s'), lab: ['--scenario', 'broken-fstab'] });
    ({ port, operator, server } = world);

    await lifeboatJson(['tenants', 'add', 'globex'], operator);
    keys = { acme: world.sshKey('id_acme', 'acme@test'), globex: world.sshKey('id_globex', 'globex@test'), stranger: world.sshKey('id_stranger', 'stranger@test') };
    acme = await world.customer('acme');
    const globex = await world.customer('globex');
    await lifeboatJson(['keys', 'add', 'laptop', '--public-key', `${keys.acme}.pub`], acme);
    await lifeboatJson(['keys', 'add', 'laptop', '--public-key', `${keys.globex}.pub`], globex);
  });

  after(async () => {
    for (const viewer of viewers) if (viewer.child.exitCode === null) viewer.child.kill('SIGKILL');
    await world.close();
  });

  it('a rescue of a broken image fails, and the console log and the failure reason show the kernel panic', async () => {
    const started = Date.now();
    const enter = await lifeboat(['rescue', 'enter', server.name, '--wait'], acme, 10 * 60_000);
    console.log(`# broken image: rescue enter to failure ${((Date.now() - started) / 1000).toFixed(1)} s (rescue timeout 100 s)`);
    assert.notEqual(enter.code, 0, 'the rescue failed');
    assert.match(enter.stderr, /the console ends with '.*Kernel panic/s, `the reason carries the console's last lines: ${enter.stderr}`);
    const log = await lifeboat(['console', 'log', server.name], acme);
    assert.equal(log.code, 0, log.stderr);
    assert.match(log.stdout, /iPXE/, 'the log has the netboot');
    assert.match(log.stdout, /Linux version \d/, 'the kernel started');
    assert.match(log.stdout, /Kernel panic - not syncing/, 'and why it stopped');
    assert.equal((await lifeboatJson<{ state: string }>(['servers', 'show', server.name], operator)).state, 'rescue_failed');
    // The operator fixes the profile's image: the control plane serves the real one from now on.
    await world.restartControlPlane(serveFlags(imageDir, '10m'));
  });

  it('attaches over IPMI SOL, watches the reboot into rescue, logs in on the serial getty with the temporary password; a second viewer reads along', async () => {
    // What a customer is told: the gateway's address and its host key (kept across restarts).
    const info = await lifeboatJson<{ listen: string; knownHostsLine: string }>(['console', 'info'], acme);
    gatewayPort = Number(info.listen.split(':').pop());
    assert.equal(gatewayPort, consolePort);
    writeFileSync(knownHosts, `${info.knownHostsLine}\n`);
    const writer = ssh(keys.acme, server.name, ['--', '--write']);
    await attached(writer);
    assert.match(writer.stderr, /writer/);
    const reader = ssh(keys.acme, server.name);
    await attached(reader);
    assert.match(reader.stderr, /read-only/);

    // Another tenant's key and a key registered nowhere are refused the same way.
    const refused = [ssh(keys.globex, server.name), ssh(keys.stranger, server.name)];
    assert.deepEqual(await Promise.all(refused.map((v) => v.exited)), [255, 255]);
    assert.equal(refused[0]!.stderr, refused[1]!.stderr);
    assert.match(refused[0]!.stderr, /Permission denied \(publickey\)/);

    const mark = writer.stdout.length;
    const markReader = reader.stdout.length;
    const started = Date.now();
    const enter = await lifeboatJson<{ state: string; sessionId: string; ssh: { password?: string } }>(['rescue', 'enter', server.name, '--wait'], acme, 15 * 60_000);
    assert.equal(enter.state, 'rescue');
    const password = enter.ssh.password;
    assert.ok(password, 'a temporary password');
    console.log(`# rescue enter to rescue: ${((Date.now() - started) / 1000).toFixed(1)} s (TCG, shared CPU)`);

    // The reboot into rescue as the console printed it: firmware, iPXE fetching the rescue, the kernel.
    const boot = since(writer, mark);
    assert.match(boot, /SeaBIOS/, 'firmware');
    assert.match(boot, /iPXE/, 'iPXE');
    assert.match(boot, /Linux version \d/, 'the kernel');
    // (Its prompt may be followed on the same line by the rescue's own messages to /dev/console.)
    await waitFor("the rescue's serial getty", () => since(writer, mark).includes('login:'), 180_000, 500).catch((error: Error) => {
      throw new Error(`${error.message}; the console ends with ${JSON.stringify(since(writer, mark).slice(-1500))}`);
    });
    let answeredAt = -1;
    let answeredWhen = 0;

    // Log in on ttyS0 with the session's temporary password, answering the prompts as they come.
    // (ipmi_sim may drop a keystroke packet that reuses a sequence number, see docs/console.md, and
    // kernel messages may land after a prompt: with no prompt to answer for 10 s, Enter is pressed.)
    const loginMark = writer.stdout.length;
    await waitFor('a root shell on the serial console', async () => {
      const text = since(writer, loginMark);
      if (text.includes('SHELL-42')) return true;
      const length = writer.stdout.length;
      if (length !== answeredAt) {
        const end = text.trimEnd();
        let answer: string | undefined;
        if (/login:$/.test(end)) answer = 'root\r';
        else if (/Password:$/.test(end)) answer = `${password}\r`;
        else if (/#$/.test(end)) answer = 'echo "SHELL-$((6*7))"\r';
        if (answer !== undefined) {
          writer.child.stdin.write(answer);
          answeredAt = length;
          answeredWhen = Date.now();
          return false;
        }
      }
      if (Date.now() - answeredWhen > 10_000) {
        writer.child.stdin.write('\r');
        answeredWhen = Date.now();
      }
      return false;
    }, 300_000, 250);

    // The read-only viewer saw the same bytes; what it types never reaches the console.
    reader.child.stdin.write('echo "FROM-$((1+1))-READER"\r');
    const afterReader = writer.stdout.length;
    writer.child.stdin.write('uname -s; cat /proc/cmdline | tr " " "\\n" | grep -c "^console=ttyS0"; echo "DONE-$((5*5))"\r');
    await waitFor('the command output', () => since(writer, afterReader).includes('DONE-25'), 60_000, 200);
    const output = since(writer, afterReader);
    assert.match(output, /Linux/, 'the command ran in the rescue system');
    assert.match(output, /^1\r?$/m, 'its kernel writes to ttyS0 (console=ttyS0)');
    await waitFor('the reader to catch up', () => since(reader, markReader).includes('DONE-25'), 30_000, 200);
    assert.ok(since(reader, markReader).includes('SHELL-42'), 'the second viewer saw the login session');
    assert.ok(since(reader, markReader).includes('Linux version'), 'and the boot');
    assert.ok(!writer.stdout.includes('FROM-2-READER'), "the read-only viewer's keystrokes never reached the console");

    // ~. at the start of a line detaches (the gateway, not the ssh client: -e none).
    writer.child.stdin.write('\r~.');
    assert.equal(await writer.exited, 0);
    assert.match(writer.stderr, /detached \(~\.\)/);
    reader.child.stdin.write('\r~.');
    assert.equal(await reader.exited, 0);

    // Both attaches and detaches are in the audit log.
    const events = await waitFor('the detaches in the audit log', async () => {
      const response = await fetch(`http://127.0.0.1:${port}/v1/audit?server=${server.name}&limit=200`, { headers: { authorization: `Bearer ${operator.LIFEBOAT_TOKEN}` } });
      const list = ((await response.json()) as { events: { action: string; detail: Record<string, unknown> }[] }).events;
      return list.filter((e) => e.action === 'console.detach').length >= 2 ? list : undefined;
    }, 30_000, 200);
    const attaches = events.filter((e) => e.action === 'console.attach');
    assert.ok(attaches.some((e) => e.detail.mode === 'write'), JSON.stringify(attaches));
    assert.ok(attaches.some((e) => e.detail.mode === 'read'), JSON.stringify(attaches));
    const detaches = events.filter((e) => e.action === 'console.detach');
    assert.ok(detaches.filter((e) => e.detail.reason === 'detached (~.)').length >= 2, JSON.stringify(detaches));
    for (const e of [...attaches, ...detaches]) assert.equal(e.detail.via, 'ssh');

    // What the recorder kept of this session's boot, through the same SOL session.
    const log = await lifeboat(['console', 'log', server.name], acme);
    assert.equal(log.code, 0, log.stderr);
    assert.match(log.stdout, /iPXE/);
    assert.match(log.stdout, /Linux version \d/);
  });

  it('an exit without repairing the fstab fails as soon as the console shows emergency mode, and the reason and the console log say so', async () => {
    const started = Date.now();
    const exit = await lifeboat(['rescue', 'exit', server.name, '--wait'], acme, 15 * 60_000);
    const seconds = (Date.now() - started) / 1000;
    console.log(`# broken fstab: rescue exit to exit_failed ${seconds.toFixed(1)} s (exit timeout 10 min)`);
    assert.notEqual(exit.code, 0, `the exit failed: ${exit.stdout}`);
    assert.match(exit.stderr, /the installed system did not come back: it stopped in emergency mode: the console shows 'You are in emergency mode\./, exit.stderr);
    assert.match(exit.stderr, /Give root password for maintenance/, 'the quote goes on with the prompt');
    assert.doesNotMatch(exit.stderr, /did not answer on SSH within/, 'not the deadline: the console told');
    assert.ok(seconds < 8 * 60, `well before the 10 min exit deadline (${seconds.toFixed(1)} s)`);
    const shown = await lifeboatJson<{ state: string; reason: string | null }>(['rescue', 'show', server.name], acme);
    assert.equal(shown.state, 'exit_failed');
    assert.match(shown.reason ?? '', /emergency mode/);
    const tasks = await lifeboatJson<{ tasks: Array<{ kind: string; steps: Array<{ name: string; state: string; detail?: string | null }> }> }>(['tasks', server.name], acme);
    const answered = tasks.tasks.find((t) => t.kind === 'exit_rescue')?.steps.find((step) => step.name === 'os_answered');
    assert.equal(answered?.state, 'failed');
    assert.match(answered?.detail ?? '', /^it stopped in emergency mode/);

    // The console log of the session, continued by the exit: the rescue going down, then the
    // installed system's boot from its disk up to the emergency shell.
    const log = await lifeboat(['console', 'log', server.name], acme);
    assert.equal(log.code, 0, log.stderr);
    const exitBoot = log.stdout.slice(log.stdout.lastIndexOf('SeaBIOS'));
    assert.match(exitBoot, /Linux version \d/, 'the installed kernel');
    assert.match(exitBoot, /emergency mode/, 'and where it stopped');
    assert.match(exitBoot, /Give root password for maintenance/);
  });
});
