/**
 * Hardware tests in a real rescue VM (one boot: QEMU TCG, the image, a real control plane), started
 * from SSH with `rescue-tests` (the agent records each with POST /v1/agent/tests and runs it): every
 * kind on SATA disks through AHCI (QEMU's disks answer SMART), and the two exclusion races on a real
 * ext4 — mount-then-fsck refused naming the mount, fsck-then-mount refused by the kernel while the
 * check holds the device, and the data intact afterwards. Through the control plane's API: memory
 * progress recorded from the events stream with its times (and the size asked honoured), a cancel that
 * stops the process, and every result still listed, exactly as it ended, once the rescue ended.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LifeboatClient, type HardwareTestView } from '@lifeboat/core';
import { waitFor, type SshLogin } from '@lifeboat/test-support';
import { sshCommands, startRescueHarness } from './rescue-harness.js';
import type { RescueHarness } from './rescue-harness.js';

const work = mkdtempSync(join(tmpdir(), 'lifeboat-hwtests-vm-'));
const log = (line: string): void => void process.stdout.write(`# ${line}\n`);
/** sda: blank, for SMART and the read test; sdb: an ext4 made in the VM, for the checks. */
const sata = [join(work, 'sata0.raw'), join(work, 'sata1.raw')];

let harness: RescueHarness;
let login: SshLogin;
/** The control plane's API as a user calls it (the operator token). */
let api: LifeboatClient;
const { run, ok } = sshCommands(() => login, log);

before(async () => {
  execFileSync('truncate', ['-s', '256M', sata[0] as string]);
  execFileSync('truncate', ['-s', '4G', sata[1] as string]);
  harness = await startRescueHarness({ work, mac: '52:54:00:ab:cd:11', serverName: 'hw-1', disks: () => [], sataDisks: () => sata, log, controlPlaneFlags: ['--exit-timeout', '20s', '--scheduler-interval', '1s'] });
  login = await harness.enterWithKey();
  api = new LifeboatClient({ url: harness.cp.url, token: readFileSync(join(work, 'data', 'admin.token'), 'utf8').trim() });
});

after(async () => {
  await harness?.close();
});

/** Runs `rescue-tests run ...` and returns its exit code and output, timing it. */
async function rescueTest(args: string): Promise<{ code: number; out: string; seconds: number }> {
  const started = Date.now();
  const r = await run(`rescue-tests run ${args}`);
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  log(`rescue-tests run ${args}: ${r.code} in ${seconds} s: ${(r.stdout + r.stderr).trim().split('\n').filter((l) => !l.startsWith('result:')).slice(-1)[0]}`);
  return { code: r.code, out: r.stdout + r.stderr, seconds };
}

test('disk: both SATA disks with their SMART health', async () => {
  const r = await rescueTest('disk');
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /passed: 2 disk\(s\): sda SMART ok, sdb SMART ok/);
  assert.match(r.out, /"serial":"LAB-SATA-0"/);
});

test('smart: a short self-test followed to its result', async () => {
  const r = await rescueTest('smart sda');
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /passed: short self-test of sda: Completed without error/i);
});

test('readtest: the whole disk, with its throughput', async () => {
  const r = await rescueTest('readtest sda');
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /passed: read sda \(0\.27 GB\) in [\d.]+ s at [\d.]+ MB\/s: 0 bad block\(s\)/);
});

test('cpu and memory', async () => {
  const cpu = await rescueTest('cpu --duration 10s');
  assert.equal(cpu.code, 0, cpu.out);
  assert.match(cpu.out, /passed: CPU stress 10 s on 1 CPU\(s\)/);
  const memory = await rescueTest('memory --size 4M');
  assert.equal(memory.code, 0, memory.out);
  assert.match(memory.out, /passed: memtester 4 MiB, one loop: 18 sub-tests ok/);
  // The helper says the outcome once the control plane recorded it: the history says the same, at once.
  for (const started of [cpu, memory]) {
    const id = /^rescue-tests: test (\S+): /m.exec(started.out)?.[1] ?? '';
    const recorded = await api.getTest('hw-1', id);
    assert.deepEqual([recorded.status, recorded.origin, recorded.progress], ['passed', 'ssh', 100], `${id}: ${recorded.summary}`);
  }
});

test('fsck: refused on a whole disk without a file system and on an unknown device', async () => {
  const blank = await rescueTest('fsck sda');
  assert.equal(blank.code, 3, blank.out);
  assert.match(blank.out, /error: no file system on sda \(a whole disk/);
  const unknown = await rescueTest('fsck sdq');
  assert.equal(unknown.code, 3, unknown.out);
  assert.match(unknown.out, /error: no block device sdq/);
});

test('exclusion: mount then fsck is refused naming the mount; fsck then mount is refused while the check runs; nothing lost', async () => {
  // Without metadata_csum/uninit_bg and with every inode table written, e2fsck reads all of them
  // (64 MiB): the check lasts long enough under TCG for the race below to happen while it runs.
  await ok('mkfs.ext4 -q -F -O ^metadata_csum,^uninit_bg -E lazy_itable_init=0 /dev/sdb && mkdir -p /mnt/var && mount /dev/sdb /mnt/var && echo kept-data > /mnt/var/file && sync');
  const refused = await rescueTest('fsck sdb');
  assert.equal(refused.code, 3, refused.out);
  assert.match(refused.out, /error: refused: sdb is mounted on \/mnt\/var/);
  await ok('umount /mnt/var');

  // The check holds sdb: a mount (anyone's) and rescue-fsck are refused while it runs.
  // The helper in the background (it polls its status each second: the check may be over by then);
  // this shell watches for the hold itself.
  const race = await run(`rescue-tests run fsck sdb >/tmp/fsck.out 2>&1 &
for i in $(seq 1500); do [ -e /run/lifeboat/holds/sdb.json ] && break; sleep 0.01; done
cat /run/lifeboat/holds/sdb.json
mount /dev/sdb /mnt/var; echo "mount=$?"
rescue-fsck /dev/sdb; echo "rescue-fsck=$?"
wait
cat /tmp/fsck.out`);
  log(race.stdout + race.stderr);
  assert.match(race.stdout, /"holder":"fsck","testId":"[^"]+"/);
  assert.match(race.stdout, /mount=32/);
  assert.match(race.stderr, /busy|already mounted/i);
  assert.match(race.stdout, /rescue-fsck=4/);
  assert.match(race.stderr, /refused: a file system check of sdb is running \(test [^)]+\)/);
  assert.match(race.stdout, /^passed: ext4 on sdb: clean$/m);

  // The check ends clean; the hold is gone; the data is there.
  const list = await ok('for i in $(seq 300); do [ -e /run/lifeboat/holds/sdb.json ] || break; sleep 0.1; done; rescue-tests list');
  assert.match(list, /passed\s+100%\s+ext4 on sdb: clean/);
  assert.equal((await ok('mount /dev/sdb /mnt/var && cat /mnt/var/file && umount /mnt/var')).trim(), 'kept-data');
});

test('partitions: lists the disks, the file system and that nothing is mounted', async () => {
  const r = await rescueTest('partitions');
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /passed: 2 disk\(s\), 0 partition\(s\); no RAID; no LVM; nothing mounted/);
  assert.match(r.out, /"fstype":"ext4"/);
});

/** Polls a test through the API until `done` says so. */
async function testUntil(id: string, what: string, done: (t: HardwareTestView) => boolean, timeoutMs = 300_000): Promise<HardwareTestView> {
  return waitFor(what, async () => {
    const t = await api.getTest('hw-1', id);
    return done(t) ? t : undefined;
  }, timeoutMs, 500);
}

test('memory through the API: progress on the events stream at least every few seconds, only going up; the size is honoured', async () => {
  const events = new AbortController();
  const seen: Array<{ at: number; status: string; progress: number }> = [];
  let id = '';
  const stream = (async () => {
    for await (const event of api.events({ server: 'hw-1', tests: true, signal: events.signal })) {
      if ('test' in event && event.test.id === id) seen.push({ at: Date.now(), status: event.test.status, progress: event.test.progress });
    }
  })().catch((error: unknown) => {
    if (!events.signal.aborted) throw error;
  });
  // Events before the test's id is known are not counted: the checks below are on the running ones,
  // which come after the agent took the test (at least a second later).
  const started = Date.now();
  const queued = await api.runTest('hw-1', { kind: 'memory', size: '2M' });
  id = queued.id;
  const done = await testUntil(id, 'the memory test to end', (t) => !['queued', 'running'].includes(t.status), 300_000);
  await waitFor('its last event', async () => (seen.some((e) => e.status === done.status) ? true : undefined), 10_000, 200);
  events.abort();
  await stream;
  assert.equal(done.status, 'passed', done.summary ?? '');
  assert.equal((done.result as { testedBytes: number }).testedBytes, 2 * 1024 * 1024, 'the size asked is the size tested');
  const running = seen.filter((e) => e.status === 'running');
  const gaps = running.slice(1).map((e, i) => e.at - running[i]!.at);
  log(`memory 2M through the API: ${Math.round((Date.now() - started) / 1000)} s, ${running.length} progress events: ${running.map((e) => `${((e.at - started) / 1000).toFixed(1)}s ${e.progress}%`).join(', ')}`);
  assert.ok(running.length >= 4, `${running.length} progress events`);
  assert.ok(Math.max(...gaps) <= 7_000, `longest gap between progress events ${Math.max(...gaps)} ms`);
  assert.ok(seen.every((e, i) => i === 0 || e.progress >= seen[i - 1]!.progress), 'progress never goes back');
  assert.ok(new Set(running.map((e) => e.progress)).size >= 3, 'progress keeps moving');
});

test('cancel through the API stops a running test: status cancelled, stress-ng gone', async () => {
  const queued = await api.runTest('hw-1', { kind: 'cpu', duration: '300s' });
  await testUntil(queued.id, 'the cpu test to run', (t) => t.status === 'running' && t.progress > 0, 120_000);
  assert.equal((await run('pgrep -x stress-ng')).code, 0, 'stress-ng runs');
  const asked = Date.now();
  const answer = await api.cancelTest('hw-1', queued.id);
  assert.ok(['running', 'cancelled'].includes(answer.status), answer.status);
  const cancelled = await testUntil(queued.id, 'the cancel to land', (t) => t.status !== 'running', 60_000);
  log(`cpu cancelled after ${Date.now() - asked} ms: ${cancelled.summary}`);
  assert.equal(cancelled.status, 'cancelled');
  await waitFor('stress-ng to be gone', async () => ((await run('pgrep -x stress-ng')).code === 1 ? true : undefined), 15_000, 500);
});

// Last: it ends the rescue.
test('every result is still listed, with its output, after the rescue ended', async () => {
  const before = (await api.listTests('hw-1')).tests;
  await harness.cp.api('POST', '/v1/servers/hw-1/rescue/exit', undefined, 202);
  // No installed system answers here: the exit ends at its deadline (exit_failed) after the agent rebooted the VM.
  await waitFor('the rescue to end', async () => {
    const view = await harness.cp.api<{ state: string }>('GET', '/v1/servers/hw-1/rescue');
    return ['exit_failed', 'active'].includes(view.state) ? view : undefined;
  }, 180_000, 1_000);
  assert.equal(harness.machine.poweredOn, false, 'the rescue system is gone');
  const after = (await api.listTests('hw-1')).tests;
  // Every test had ended before the exit, and is listed exactly as it ended.
  assert.ok(before.every((t) => !['queued', 'running'].includes(t.status)), before.map((t) => `${t.kind} ${t.origin} ${t.status}`).join(', '));
  assert.deepEqual(after.map((t) => [t.id, t.kind, t.origin, t.status, t.summary]), before.map((t) => [t.id, t.kind, t.origin, t.status, t.summary]));
  const kinds = new Set(after.map((t) => t.kind));
  for (const kind of ['disk', 'smart', 'readtest', 'cpu', 'memory', 'fsck', 'partitions']) assert.ok(kinds.has(kind as never), `${kind} is in the history`);
  assert.ok(after.some((t) => t.kind === 'cpu' && t.status === 'cancelled'), 'the cancelled test is kept as cancelled');
  for (const origin of ['ssh', 'api']) assert.ok(after.some((t) => t.kind === 'memory' && t.origin === origin && t.status === 'passed'), `the memory test started from ${origin} is kept as passed`);
  const smart = after.find((t) => t.kind === 'smart')!;
  assert.match(await api.getTestOutput('hw-1', smart.id), /smartctl/, 'the output is kept');
});
