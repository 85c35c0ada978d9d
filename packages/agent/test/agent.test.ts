/**
 * The bundled agent, run as a local process on its real runtime (QuickJS's qjs, as built for the
 * image) against a real control plane (no VM): redeem, credentials,
 * sshd (the real one, bound to 127.0.0.1, admitting root by the session's key only), host keys and their
 * certificates, inventory, ready, work, and what happens on a restart after the session ended or with
 * a used boot token.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureQuickjs } from '@lifeboat/image';
import { bundleAgent } from '../src/rescue-files.js';
import { startTestControlPlane } from '@lifeboat/test-support';
import type { RescueBoot, RescueView, TestControlPlane, TestMachine } from '@lifeboat/test-support';
import { freePort, sshBanner, waitFor } from '@lifeboat/test-support';

const execFileAsync = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'lifeboat-agent-'));
const root = join(work, 'root');
const mac = '52:54:00:12:34:56';

/** The rescue system as a directory and the agent as a process: what "power" means for this test. */
class LocalRescueSystem implements TestMachine {
  url = '';
  sshPort = 0;
  agentScript = '';
  qjs = '';
  child: ChildProcess | undefined;
  output = '';
  exitCode: number | null | undefined;

  get poweredOn(): boolean {
    return this.child !== undefined && this.exitCode === undefined;
  }

  /** Whether the image's init is still loading drivers at the next boot (until the test says it is done). */
  holdDrivers = false;

  async bootRescue(boot: RescueBoot): Promise<void> {
    // A fresh boot: the image's init made new host keys (the agent's ensureHostKeys does it here); /run is empty.
    rmSync(join(root, 'run'), { recursive: true, force: true });
    for (const name of readdirSync(join(root, 'etc/ssh')).filter((n) => n.startsWith('ssh_host_'))) rmSync(join(root, 'etc/ssh', name));
    if (!this.holdDrivers) {
      mkdirSync(join(root, 'run/lifeboat'), { recursive: true });
      writeFileSync(join(root, 'run/lifeboat/drivers-loaded'), '');
    }
    writeFileSync(join(work, 'cmdline'), `console=ttyS0,115200 lifeboat.url=${this.url} lifeboat.server=${boot.serverId} lifeboat.token=${boot.bootToken}\n`);
    this.start();
  }

  /** Starts the agent process on the current cmdline file and /run (a restart keeps /run). */
  start(): void {
    this.output = '';
    this.exitCode = undefined;
    const child = spawn(this.qjs, ['--no-unhandled-rejection', this.agentScript], {
      env: {
        PATH: process.env.PATH,
        LIFEBOAT_AGENT_CMDLINE: join(work, 'cmdline'),
        LIFEBOAT_AGENT_ROOT: root,
        LIFEBOAT_AGENT_SSHD: join(work, 'sshd'),
        LIFEBOAT_AGENT_SSH_PORT: String(this.sshPort),
        LIFEBOAT_AGENT_CONSOLE: '',
        LIFEBOAT_AGENT_REBOOT: join(work, 'reboot'),
        // heartbeats often enough that an extended lease reaches the agent within the test's wait
        LIFEBOAT_AGENT_HEARTBEAT_SECONDS: '3',
        // as in the image: the inventory waits for <root>/run/lifeboat/drivers-loaded
        LIFEBOAT_AGENT_WAIT_DRIVERS: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (c: Buffer) => (this.output += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (this.output += c.toString()));
    child.once('exit', (code) => (this.exitCode = code));
    this.child = child;
  }

  async powerOff(): Promise<void> {
    if (this.poweredOn && this.child?.pid !== undefined) {
      const exited = new Promise((r) => this.child?.once('exit', r));
      process.kill(this.child.pid, 'SIGTERM');
      await exited;
    }
    stopSshd();
  }
}

function stopSshd(): void {
  const pidFile = join(root, 'run/sshd.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // already gone
  }
  rmSync(pidFile, { force: true });
}

const machine = new LocalRescueSystem();
let cp: TestControlPlane;

before(async () => {
  mkdirSync(join(root, 'etc/ssh'), { recursive: true });
  // The kernel's mount table as the rescue system shows it with nothing of the server mounted.
  mkdirSync(join(root, 'proc/self'), { recursive: true });
  writeFileSync(
    join(root, 'proc/self/mountinfo'),
    '22 1 0:20 / / rw,relatime - overlay overlay rw\n24 22 0:21 / /proc rw - proc proc rw\n25 22 7:0 / /run/lower ro - squashfs /dev/loop0 ro\n',
  );
  writeFileSync(join(root, 'etc/shadow'), 'root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n', { mode: 0o640 });
  // The real sshd, bound to loopback: the agent's config is what it checks and serves. It admits root
  // by key only, and only with the keys of this rescue system's authorized_keys (this machine's own
  // root is never reachable by password); the host-certificate test logs in with its key.
  writeFileSync(
    join(work, 'sshd'),
    `#!/bin/sh\nexec /usr/sbin/sshd -o ListenAddress=127.0.0.1 -o AllowUsers=root -o PasswordAuthentication=no -o AuthorizedKeysFile=${join(root, 'root/.ssh/authorized_keys')} -o StrictModes=no "$@"\n`,
  );
  chmodSync(join(work, 'sshd'), 0o755);
  // "reboot" of this machine: logged, then what a reboot does to it: sshd and the agent (its caller) end.
  writeFileSync(
    join(work, 'reboot'),
    `#!/bin/sh\necho "reboot $*" >> ${join(work, 'reboots')}\n[ -f ${join(root, 'run/sshd.pid')} ] && kill $(cat ${join(root, 'run/sshd.pid')}) && rm -f ${join(root, 'run/sshd.pid')}\nkill -TERM $PPID\n`,
  );
  chmodSync(join(work, 'reboot'), 0o755);
  mkdirSync('/run/sshd', { recursive: true });
  machine.qjs = (await ensureQuickjs()).path;
  machine.agentScript = join(work, 'agent.mjs');
  writeFileSync(machine.agentScript, await bundleAgent());
  machine.sshPort = await freePort();
  cp = await startTestControlPlane(join(work, 'data'), mac, machine, ['--exit-timeout', '90s', '--scheduler-interval', '1s']);
  machine.url = cp.url;
  await cp.api('POST', '/v1/tenants', { name: 'acme' });
  await cp.api('POST', '/v1/servers', { name: 'web-1', tenant: 'acme', macs: [mac], bmc: cp.bmc.record });
});

after(async () => {
  await cp?.close();
  stopSshd();
  rmSync(work, { recursive: true, force: true });
});

async function rescueState(state: string, timeoutMs = 60_000): Promise<RescueView> {
  return waitFor(`rescue state ${state}`, async () => {
    const view = await cp.api<RescueView>('GET', '/v1/servers/web-1/rescue');
    if (view.state === 'rescue_failed' || view.state === 'exit_failed') throw new Error(`${view.state}: ${view.reason}\n${machine.output}`);
    return view.state === state ? view : undefined;
  }, timeoutMs);
}

let password = '';

test('password session: the agent writes the hash, starts sshd, reports host keys and becomes ready', async () => {
  machine.holdDrivers = true;
  const entered = await cp.api<RescueView>('POST', '/v1/servers/web-1/rescue', {}, 202);
  password = entered.ssh.password ?? '';
  assert.ok(password.length >= 12);
  // sshd runs, the host keys are reported and the session is ready while the image's init still
  // loads drivers: the customer can log in. The inventory follows once the drivers are loaded.
  const stepsOf = async (): Promise<string[]> => {
    const { tasks } = await cp.api<{ tasks: Array<{ kind: string; steps: Array<{ name: string; state: string }> }> }>('GET', '/v1/servers/web-1/tasks');
    return tasks.find((t) => t.kind === 'enter_rescue')?.steps.filter((s) => s.state === 'completed').map((s) => s.name) ?? [];
  };
  const early = await rescueState('rescue');
  assert.equal(await sshBanner(machine.sshPort), true, `${machine.output}\n${execFileSync('ss', ['-ltnp'], { encoding: 'utf8' })}`);
  for (const name of ['sshd_started', 'host_keys_reported', 'ready']) assert.ok((await stepsOf()).includes(name), name);
  assert.equal(existsSync(join(root, 'run/lifeboat/drivers-loaded')), false, 'the drivers are still loading');
  /** The inventory of web-1's current session (`GET /v1/servers/web-1/inventory`). */
  const inventoryOf = async () => {
    const answer = await cp.api<{ sessionId: string | null; inventory: unknown }>('GET', '/v1/servers/web-1/inventory');
    assert.equal(answer.sessionId, early.sessionId);
    return answer.inventory;
  };
  assert.equal(await inventoryOf(), null, 'no inventory before the drivers are loaded');
  writeFileSync(join(root, 'run/lifeboat/drivers-loaded'), '');
  machine.holdDrivers = false;
  await waitFor('the inventory after the drivers', async () => (await inventoryOf()) ?? undefined, 30_000);
  const view = await rescueState('rescue');

  const shadowRoot = readFileSync(join(root, 'etc/shadow'), 'utf8').split('\n')[0]?.split(':') ?? [];
  const hash = shadowRoot[1] ?? '';
  const salt = hash.split('$')[2] ?? '';
  assert.equal(execFileSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: `${password}\n`, encoding: 'utf8' }).trim(), hash);
  assert.match(readFileSync(join(root, 'etc/shadow'), 'utf8'), /\ndaemon:\*:19000:/);

  const expected = readdirSync(join(root, 'etc/ssh'))
    .filter((n) => n.endsWith('_key.pub'))
    .map((n) => execFileSync('ssh-keygen', ['-lf', join(root, 'etc/ssh', n)], { encoding: 'utf8' }).split(' ')[1])
    .sort();
  assert.equal(expected.length, 3);
  assert.deepEqual([...view.ssh.hostKeyFingerprints].map((f) => f.split(' ').find((w) => w.startsWith('SHA256:')) ?? f).sort(), expected);

  const sshd = readFileSync(join(root, 'etc/ssh/sshd_config'), 'utf8');
  assert.match(sshd, /^PermitRootLogin yes$/m);
  assert.match(sshd, /^PasswordAuthentication yes$/m);
  assert.equal(await sshBanner(machine.sshPort), true);
  assert.equal(readFileSync(join(root, 'etc/hostname'), 'utf8'), 'web-1-rescue\n');
  assert.match(readFileSync(join(root, 'etc/motd'), 'utf8'), /web-1/);
  assert.equal(readFileSync(join(root, 'root/.ssh/authorized_keys'), 'utf8'), '');

  const { tasks } = await cp.api<{ tasks: Array<{ kind: string; steps: Array<{ name: string }> }> }>('GET', '/v1/servers/web-1/tasks');
  const steps = tasks.find((t) => t.kind === 'enter_rescue')?.steps.map((s) => s.name) ?? [];
  for (const name of ['agent_started', 'credentials_written', 'sshd_started', 'host_keys_reported', 'ready']) assert.ok(steps.includes(name), `${name} in ${steps.join(',')}`);

  // The inventory is this machine's: CPU count, memory, lsblk's disks, NICs.
  const inventory = (await inventoryOf()) as {
    cpus: number; memoryBytes: number; disks: Array<{ name: string }>; nics: Array<{ name: string; mac: string }>;
  };
  assert.equal(inventory.cpus, cpus().length);
  assert.equal(inventory.memoryBytes, totalmem());
  const lsblk = JSON.parse(execFileSync('lsblk', ['--json'], { encoding: 'utf8' })) as { blockdevices: Array<{ name: string }> };
  assert.deepEqual(inventory.disks.map((d) => d.name).sort(), lsblk.blockdevices.map((d) => d.name).sort());
  assert.ok(Array.isArray(inventory.nics));
});

test('a job the agent has no handler for fails with a clear message', async () => {
  const { id } = await cp.api<{ id: string }>('POST', '/v1/servers/web-1/rescue/work', { kind: 'smart', params: { disk: '/dev/sda' } }, 202);
  const done = await waitFor('the work result', async () => {
    const w = await cp.api<{ state: string; message: string | null; result: unknown }>('GET', `/v1/servers/web-1/rescue/work/${id}`);
    return w.state === 'failed' || w.state === 'completed' ? w : undefined;
  }, 60_000);
  assert.equal(done.state, 'failed');
  assert.match(done.message ?? '', /unsupported job kind "smart"/);
  assert.deepEqual(done.result, { code: 'JOB_UNSUPPORTED' });
});

test('hardware test: a CPU test runs beside other work, reports progress and its outcome', async () => {
  const started = Date.now();
  const queued = await cp.api<{ id: string; status: string }>('POST', '/v1/servers/web-1/tests', { kind: 'cpu', duration: '6s' }, 202);
  assert.equal(queued.status, 'queued');
  type TestView = { status: string; progress: number; summary: string | null; result: { bogoOps: number; instances: number; bogoOpsPerCpu: number } };
  const testOf = () => cp.api<TestView>('GET', `/v1/servers/web-1/tests/${queued.id}`);
  await waitFor('the test to start', () => (new RegExp(`test ${queued.id} \\(cpu\\) started`).test(machine.output) ? true : undefined), 30_000);
  // Other work is taken while the test runs: an unknown kind is answered before the test ends.
  const other = await cp.api<{ id: string }>('POST', '/v1/servers/web-1/rescue/work', { kind: 'smart', params: {} }, 202);
  const workOf = (workId: string) => cp.api<{ state: string; message: string | null; result: unknown }>('GET', `/v1/servers/web-1/rescue/work/${workId}`);
  await waitFor('the other work', async () => ((await workOf(other.id)).state === 'failed' ? true : undefined), 30_000);
  const running = await testOf();
  assert.equal(running.status, 'running', 'the CPU test still runs');
  const progressed = await waitFor('progress reported', async () => {
    const t = await testOf();
    return t.progress > 0 ? t : undefined;
  }, 30_000);
  assert.ok(progressed.progress <= 100);
  const done = await waitFor('the test result', async () => {
    const t = await testOf();
    return t.status !== 'queued' && t.status !== 'running' ? t : undefined;
  }, 60_000);
  assert.ok(Date.now() - started >= 6000);
  assert.equal(done.status, 'passed', done.summary ?? '');
  assert.equal(done.progress, 100);
  assert.match(done.summary ?? '', /^CPU stress 6 s on \d+ CPU\(s\): \d+ bogo ops per CPU, no verification failure/);
  assert.equal(done.result.instances, cpus().length);
  assert.ok(done.result.bogoOps > 0);
});

test('rescue-tests: a test started from the shell is recorded as work, run by the agent and followed to its result', async () => {
  const helpers = join(import.meta.dirname, '../helpers');
  // Asynchronous: the control plane answering the agent runs in this process.
  const run = async (...args: string[]): Promise<string> =>
    (
      await execFileAsync(join(helpers, 'rescue-tests'), args, {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, RESCUE_LIB: join(helpers, 'rescue-common.sh'), RESCUE_TEST_REQUESTS: join(root, 'run/lifeboat/test-requests'), RESCUE_TEST_STATUS: join(root, 'run/lifeboat/tests'), HOLDS_DIR: join(root, 'run/lifeboat/holds') },
      })
    ).stdout;
  const out = await run('run', 'cpu', '--duration', '3s');
  assert.match(out, /^rescue-tests: test \S+: cpu$/m);
  assert.match(out, /^passed: CPU stress 3 s on \d+ CPU\(s\)/m);
  assert.match(out, /^result: \{"bogoOps":\d+/m);
  // The helper tells the outcome once the control plane recorded it: the history already says so.
  const id = /^rescue-tests: test (\S+): cpu$/m.exec(out)?.[1];
  const recorded = await cp.api<{ status: string; origin: string; progress: number }>('GET', `/v1/servers/web-1/tests/${id}`);
  assert.deepEqual([recorded.status, recorded.origin, recorded.progress], ['passed', 'ssh', 100]);
  assert.match(await run('list'), /passed\s+100%\s+CPU stress 3 s/);
  await assert.rejects(run('run', 'fsck'), (error: { code: number; stderr: string }) => error.code === 2 && /fsck needs a device/.test(error.stderr));
});

test('no secret reaches the agent\'s log', () => {
  const cmdline = readFileSync(join(work, 'cmdline'), 'utf8');
  const bootToken = /lifeboat\.token=(\S+)/.exec(cmdline)?.[1] ?? '';
  const saved = JSON.parse(readFileSync(join(root, 'run/lifeboat/agent-session.json'), 'utf8')) as { agentToken: string; config: { rootPasswordHash: string } };
  assert.match(machine.output, /ready/);
  for (const secret of [password, bootToken, saved.agentToken, saved.config.rootPasswordHash]) {
    assert.ok(secret.length > 8);
    assert.equal(machine.output.includes(secret), false);
  }
});

test('exit: the agent syncs, finds nothing mounted, reports and reboots; the BMC does not cycle the power', async () => {
  await cp.api('POST', '/v1/servers/web-1/rescue/exit', undefined, 202);
  await rescueState('active');
  await waitFor('the rescue system to go down', () => (machine.poweredOn ? undefined : true), 30_000);
  assert.equal(readFileSync(join(work, 'reboots'), 'utf8'), 'reboot \n', 'rebooted once, by the agent');
  assert.match(machine.output, /leaving rescue: nothing of the installed system was mounted/);
  const { tasks } = await cp.api<{ tasks: Array<{ kind: string; steps: Array<{ name: string; detail: string | null }> }> }>('GET', '/v1/servers/web-1/tasks');
  const rebooted = tasks.find((t) => t.kind === 'exit_rescue')?.steps.find((s) => s.name === 'rebooted');
  assert.equal(rebooted?.detail, 'agent rebooted cleanly (nothing of the installed system was mounted)');
});

test('after the session ends, a restarted agent is told it is revoked and stops; the used boot token is refused', async () => {
  // Restart with this boot's saved session (as after a crash): revoked, exit 0.
  machine.start();
  await waitFor('the restarted agent to stop', () => (machine.exitCode === undefined ? undefined : true), 30_000);
  assert.equal(machine.exitCode, 0, machine.output);
  assert.match(machine.output, /revoked this agent/);
  assert.equal(existsSync(join(root, 'run/sshd.pid')), false, 'an ended session does not get sshd back');
  // Without the saved session the agent must redeem the boot token again: already used.
  rmSync(join(root, 'run/lifeboat'), { recursive: true, force: true });
  machine.start();
  await waitFor('the agent with a used token to stop', () => (machine.exitCode === undefined ? undefined : true), 30_000);
  assert.equal(machine.exitCode, 1);
  assert.match(machine.output, /BOOT_TOKEN_INVALID/);
  stopSshd();
});

test('key session: keys in authorized_keys, no password, password login off', async () => {
  const key = join(work, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'alice@example', '-f', key]);
  const publicKey = readFileSync(`${key}.pub`, 'utf8').trim();
  const entered = await cp.api<RescueView>('POST', '/v1/servers/web-1/rescue', { sshKeys: [publicKey] }, 202);
  assert.equal(entered.ssh.password, undefined);
  await rescueState('rescue');
  assert.equal(readFileSync(join(root, 'root/.ssh/authorized_keys'), 'utf8'), `${publicKey}\n`);
  assert.match(readFileSync(join(root, 'etc/shadow'), 'utf8'), /^root:\*:/);
  const sshd = readFileSync(join(root, 'etc/ssh/sshd_config'), 'utf8');
  assert.match(sshd, /^PermitRootLogin prohibit-password$/m);
  assert.match(sshd, /^PasswordAuthentication no$/m);
  assert.equal(await sshBanner(machine.sshPort), true);
});

/** The processes under `root` (its children, theirs, ...), from /proc: pid and command line. */
function descendants(root: number): Array<{ pid: number; args: string }> {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      // The command may hold spaces and parentheses: the fields after the last ')'.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parentOf.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const found: Array<{ pid: number; args: string }> = [];
  const walk = (parent: number): void => {
    for (const [pid, ppid] of parentOf) {
      if (ppid !== parent) continue;
      let args = '';
      try {
        args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      } catch {
        // gone meanwhile
      }
      found.push({ pid, args });
      walk(pid);
    }
  };
  walk(root);
  return found;
}

/** Whether a process is there (a zombie no longer counts: it is dead, waiting for its parent). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

test('a killed agent takes its test programs with it; restarted, it ends their test in error', async () => {
  const queued = await cp.api<{ id: string }>('POST', '/v1/servers/web-1/tests', { kind: 'cpu', duration: '300s' }, 202);
  type TestView = { status: string; progress: number; summary: string | null };
  const testOf = () => cp.api<TestView>('GET', `/v1/servers/web-1/tests/${queued.id}`);
  await waitFor('the test to run', async () => ((await testOf()).progress > 0 ? true : undefined), 60_000);
  const agentPid = machine.child?.pid as number;
  const programs = await waitFor('stress-ng and its workers', () => {
    const found = descendants(agentPid).filter((p) => p.args.startsWith('stress-ng'));
    return found.length >= 2 ? found : undefined;
  }, 30_000);
  // Its HTTP calls run in curl, outside its process group; they die with it too.
  const calls = descendants(agentPid).filter((p) => p.args.startsWith('curl'));
  // As a crash: no exit handler runs.
  const exited = new Promise((r) => machine.child?.once('exit', r));
  process.kill(agentPid, 'SIGKILL');
  await exited;
  await waitFor('the test programs to be gone', () => (programs.some((p) => alive(p.pid)) ? undefined : true), 15_000, 100);
  await waitFor("the killed agent's HTTP calls to be gone", () => (calls.some((p) => alive(p.pid)) ? undefined : true), 5_000, 50);
  // The agent starts again at this boot (its session saved in /run): the test it ran ends in error at once.
  machine.start();
  const ended = await waitFor('the test to end', async () => {
    const t = await testOf();
    return t.status === 'running' ? undefined : t;
  }, 60_000);
  assert.deepEqual([ended.status, ended.summary], ['error', 'the rescue agent restarted during the test']);
  await rescueState('rescue');
});

/** How long a process has run (ms), from /proc; 0 when it is gone. */
function ageMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const uptimeSeconds = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    // USER_HZ is 100 on Linux.
    return uptimeSeconds * 1000 - startTicks * 10;
  } catch {
    return 0;
  }
}

test("a killed agent's work long poll dies with it: the work queued next is run by the restarted agent", async () => {
  const agentPid = machine.child?.pid as number;
  // Heartbeats and steps take milliseconds; a curl alive for 2 s is the long poll of /work (25 s).
  await waitFor('the agent to long-poll for work', () => descendants(agentPid).find((p) => p.args.startsWith('curl') && ageMs(p.pid) > 2000), 30_000, 100);
  const calls = descendants(agentPid).filter((p) => p.args.startsWith('curl'));
  const exited = new Promise((r) => machine.child?.once('exit', r));
  process.kill(agentPid, 'SIGKILL');
  await exited;
  // PR_SET_PDEATHSIG: the kernel kills them with the agent. A long poll left alive (reparented, up to
  // 25 s) would take the work below within half a second and hand it to no one.
  await waitFor("the dead agent's curls to die with it", () => (calls.some((p) => alive(p.pid)) ? undefined : true), 5_000, 20);

  const queued = await cp.api<{ id: string }>('POST', '/v1/servers/web-1/rescue/work', { kind: 'smart', params: { disk: '/dev/sda' } }, 202);
  const workOf = () => cp.api<{ state: string; message: string | null; result: unknown }>('GET', `/v1/servers/web-1/rescue/work/${queued.id}`);
  assert.equal((await workOf()).state, 'pending', 'nobody took it while no agent runs');
  machine.start();
  const done = await waitFor('the restarted agent to answer it', async () => {
    const w = await workOf();
    return w.state === 'completed' || w.state === 'failed' ? w : undefined;
  }, 60_000);
  // The new agent's own answer (it has no handler for this kind), not the control plane's "restarted".
  assert.deepEqual([done.state, done.result], ['failed', { code: 'JOB_UNSUPPORTED' }]);
  assert.match(machine.output, new RegExp(`job ${queued.id} \\(smart\\): failed: unsupported job kind`));
  assert.notEqual(machine.child?.pid, agentPid);
  await rescueState('rescue');
});

/** OpenSSH's client as a customer runs it, trusting only `knownHosts`; the outcome with its debug lines. */
async function customerSsh(knownHosts: string, alias: string, key: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = [
    '-v', '-i', key, '-p', String(machine.sshPort),
    '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes',
    '-o', `HostKeyAlias=${alias}`, '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'ConnectTimeout=10',
    'root@127.0.0.1', 'echo logged-in',
  ];
  try {
    const { stdout, stderr } = await execFileAsync('ssh', args, { encoding: 'utf8' });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test("host certificates: OpenSSH with only the CA's @cert-authority line logs into two rescue sessions in a row (new host keys) and refuses another server's name", async () => {
  const ca = await cp.api<{ knownHostsLine: string; publicKey: string; fingerprint: string }>('GET', '/v1/ssh-host-ca');
  assert.match(ca.knownHostsLine, /^@cert-authority \* ssh-ed25519 AAAA\S+ lifeboat-host-ca$/);
  const knownHosts = join(work, 'known_hosts_ca_only');
  writeFileSync(knownHosts, `${ca.knownHostsLine}\n`);
  // Another server of the provider: its name is a principal of its own rescues, never of web-1's.
  await cp.api('POST', '/v1/servers', { name: 'web-2', tenant: 'acme', macs: ['52:54:00:12:34:99'], bmc: { url: 'ipmi://127.0.0.1:1', user: 'admin', password: 'bmc-secret' } }, 201);
  const key = join(work, 'id_ed25519');
  const publicKey = readFileSync(`${key}.pub`, 'utf8').trim();

  const session = async (view: RescueView): Promise<{ fingerprints: string[]; certificate: string }> => {
    // The agent (restarted by the test above, or of a new boot) has set sshd up with the certificates.
    await waitFor('sshd with the certificates', async () => (/sshd started/.test(machine.output) && (await sshBanner(machine.sshPort)) ? true : undefined), 30_000);
    assert.equal(view.ssh.certAuthority, ca.knownHostsLine, 'the rescue view gives the same line');
    const sshd = readFileSync(join(root, 'etc/ssh/sshd_config'), 'utf8');
    assert.deepEqual([...sshd.matchAll(/^HostCertificate (.*)$/gm)].map((m) => m[1]), ['ecdsa', 'ed25519', 'rsa'].map((t) => join(root, `etc/ssh/ssh_host_${t}_key-cert.pub`)));
    const inside = await customerSsh(knownHosts, 'web-1', key);
    assert.equal(inside.code, 0, inside.stderr);
    assert.equal(inside.stdout, 'logged-in\n');
    // The host was trusted through its certificate, which names this session.
    const certificate = /Server host certificate: (.*)/.exec(inside.stderr)?.[1] ?? '';
    assert.match(certificate, new RegExp(`ID "lifeboat server=web-1 session=${view.sessionId} key=\\S+" CA ssh-ed25519 ${ca.fingerprint.replace(/[+/]/g, '\\$&')}`));
    const refused = await customerSsh(knownHosts, 'web-2', key);
    assert.equal(refused.code, 255);
    assert.match(refused.stderr, /Certificate invalid: name is not a listed principal/);
    assert.match(refused.stderr, /Host key verification failed\./);
    assert.doesNotMatch(refused.stdout, /logged-in/);
    return { fingerprints: [...view.ssh.hostKeyFingerprints], certificate };
  };

  // The session of the tests above (keys), then a new one after an exit: a new boot, new host keys.
  const first = await session(await rescueState('rescue'));
  await cp.api('POST', '/v1/servers/web-1/rescue/exit', undefined, 202);
  await rescueState('active');
  await waitFor('the rescue system to go down', () => (machine.poweredOn ? undefined : true), 30_000);
  await cp.api<RescueView>('POST', '/v1/servers/web-1/rescue', { sshKeys: [publicKey], expiresIn: '2h' }, 202);
  const second = await session(await rescueState('rescue'));
  assert.equal(second.fingerprints.some((f) => first.fingerprints.includes(f)), false, 'new host keys at the new boot');

  // An extended lease: the agent gets certificates for the new end at its next heartbeat and sshd serves them.
  const certFile = join(root, 'etc/ssh/ssh_host_ed25519_key-cert.pub');
  const validTo = (): string => /Valid: from \S+ to (\S+)/.exec(execFileSync('ssh-keygen', ['-L', '-f', certFile], { encoding: 'utf8' }))?.[1] ?? '';
  const before = validTo();
  const extended = await cp.api<RescueView>('POST', '/v1/servers/web-1/rescue/extend', { expiresIn: '5h' });
  const after = await waitFor('certificates for the extended lease', () => (validTo() !== before ? validTo() : undefined), 30_000);
  // ssh-keygen prints local time; the certificate ends five minutes after the lease.
  const end = new Date(Date.parse(extended.expiresAt as string) + 5 * 60_000);
  assert.equal(after, execFileSync('date', ['-d', `@${Math.floor(end.getTime() / 1000)}`, '+%Y-%m-%dT%H:%M:%S'], { encoding: 'utf8' }).trim());
  await waitFor('sshd to serve them', async () => {
    const again = await customerSsh(knownHosts, 'web-1', key);
    return again.code === 0 && (/Server host certificate: (.*)/.exec(again.stderr)?.[1] ?? '').includes(` to ${after}`) ? true : undefined;
  }, 30_000);
});
