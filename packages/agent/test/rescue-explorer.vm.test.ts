/**
 * The partition explorer in a real rescue VM with a real control plane, on the lab's installed
 * Debian 12 (layout `plain`): one boot serves every check. The API is called as a user would; what
 * the explorer answers is compared with the same files read over SSH in the rescue system.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureLayoutDisks } from '@lifeboat/lab';
import type { LayoutDisks } from '@lifeboat/lab';
import { waitFor, type SshLogin } from '@lifeboat/test-support';
import { sshCommands, startRescueHarness } from './rescue-harness.js';
import type { RescueHarness } from './rescue-harness.js';

const work = mkdtempSync(join(tmpdir(), 'lifeboat-explorer-vm-'));
const log = (line: string): void => void process.stdout.write(`# ${line}\n`);
let harness: RescueHarness;
let disks: LayoutDisks;
let login: SshLogin;
let device: string;
let token: string;
const { ok, run } = sshCommands(() => login, log);

const api = async (path: string, as = token, method = 'GET', json?: unknown) => {
  const response = await fetch(`${harness.cp.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${as}`, ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(json === undefined ? {} : { body: JSON.stringify(json) }),
  });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
};
const parsed = <T = Record<string, unknown>>(answer: { body: Buffer }): T => JSON.parse(answer.body.toString()) as T;
/** The 1 GiB file written in the installed system before the explorer mounts it, and its sha256 there. */
const big = { path: '/lifeboat-big.img', size: 1024 * 1024 * 1024, sha256: '' };

before(async () => {
  disks = await ensureLayoutDisks('plain', { onProgress: log });
  harness = await startRescueHarness({ work, mac: '52:54:00:ab:cd:11', serverName: 'files-1', disks: () => disks.disks, log });
  token = readFileSync(join(work, 'data', 'admin.token'), 'utf8').trim();
  login = await harness.enterWithKey();
  const root = disks.fileSystems.find((f) => f.mount === '/');
  assert.ok(root);
  // Ready does not wait for the drivers: the disk appears once the image's init has loaded them.
  device = await waitFor('the lab disk\'s root file system', async () => {
    const found = await run(`findfs UUID=${root.uuid}`);
    return found.code === 0 ? found.stdout.trim().replace(/^\/dev\//, '') : undefined;
  }, 120_000, 1_000);
  log(`root file system on ${device}`);
  // A 1 GiB file in the installed system, written through the helpers before the explorer mounts the
  // partition read-only: sparse (the VM's disk is a snapshot overlay; 1 GiB of TCG writes is not
  // affordable) but with 4 MiB of random data at its start, middle and end, so every byte of it is
  // read by tar/curl in the rescue, relayed by the control plane, and the checksum means something.
  const mounted = await run(`rescue-mount --root UUID=${root.uuid}`);
  assert.ok(mounted.code === 0 || mounted.code === 4, `rescue-mount: ${mounted.code}\n${mounted.stdout}\n${mounted.stderr}`);
  const file = `/mnt${big.path}`;
  await ok(`truncate -s ${big.size} ${file} && for at in 0 510 1020; do dd if=/dev/urandom of=${file} bs=1M count=4 seek=$at conv=notrunc status=none || exit 1; done; sync`);
  big.sha256 = (await ok(`sha256sum ${file}`)).split(' ')[0] ?? '';
  assert.match(big.sha256, /^[0-9a-f]{64}$/);
  assert.equal((await ok(`stat -c %s ${file}`)).trim(), String(big.size));
  await ok('rescue-umount');
});

after(async () => {
  await harness?.close();
});

test('lists / read-only in a private mount; reads /etc/fstab as it is on the disk', async () => {
  const listing = await api(`/v1/servers/files-1/files/${encodeURIComponent(device)}?path=/`);
  assert.equal(listing.status, 200, listing.body.toString());
  const names = (JSON.parse(listing.body.toString()) as { entries: Array<{ name: string; type: string }> }).entries.map((e) => `${e.name}:${e.type}`);
  for (const expected of ['etc:directory', 'var:directory', 'usr:directory']) assert.ok(names.includes(expected), names.join(' '));
  const mount = (await ok(`awk '$2 == "/run/lifeboat/explore/${device}" { print $4 }' /proc/mounts`)).trim();
  assert.match(mount, /^ro,nosuid,nodev,noexec/, 'mounted read-only, private');
  assert.equal((await ok("awk '$2 ~ \"^/mnt\"' /proc/mounts")).trim(), '', 'nothing under /mnt');
  const fstab = await api(`/v1/servers/files-1/files/${device}/content?path=/etc/fstab`);
  assert.equal(fstab.status, 200);
  assert.equal(fstab.body.toString(), await ok(`cat /run/lifeboat/explore/${device}/etc/fstab`));
  assert.equal(fstab.headers.get('x-lifeboat-file-size'), String(fstab.body.length));
  assert.match(fstab.body.toString(), /UUID=/);
});

test('refuses a symlink out of the partition and ".."', async () => {
  const link = (await ok(`cd /run/lifeboat/explore/${device} && find etc usr/bin -maxdepth 1 -type l -lname '/*' | head -1`)).trim();
  assert.ok(link, 'the installed Debian has an absolute symlink (e.g. /etc/localtime)');
  const refused = await api(`/v1/servers/files-1/files/${device}/content?path=/${link}`);
  assert.equal(refused.status, 400);
  assert.equal(JSON.parse(refused.body.toString()).code, 'PATH_INVALID');
  const up = await api(`/v1/servers/files-1/files/${device}?path=/etc/../..`);
  assert.equal(JSON.parse(up.body.toString()).code, 'PATH_INVALID');
});

test('downloads /etc as tar, byte for byte the files read over SSH', async () => {
  const download = await api(`/v1/servers/files-1/files/${device}/download?path=/etc`);
  assert.equal(download.status, 200, download.body.toString());
  assert.equal(download.headers.get('content-type'), 'application/x-tar');
  const tarFile = join(work, 'etc.tar');
  writeFileSync(tarFile, download.body);
  const here = join(work, 'extracted');
  mkdirSync(here);
  execFileSync('tar', ['-xf', tarFile, '-C', here]);
  const sums = 'find etc -type f -print0 | sort -z | xargs -0 sha256sum';
  const local = execFileSync('sh', ['-c', `cd "${here}" && ${sums}`], { encoding: 'utf8' });
  const remote = await ok(`cd /run/lifeboat/explore/${device} && ${sums}`);
  assert.equal(local, remote);
  log(`/etc: ${download.body.length} bytes of tar, ${local.trim().split('\n').length} files identical`);
  assert.equal((await ok('ls -A /run/lifeboat/uploads')).trim(), '', 'no header file left');
});

test('the journal of the installed system, read by the image\'s journalctl: real entries, priorities, a clear answer for a missing boot', async () => {
  // Lab disks carry the journal systemd-journald wrote when the tree was built (packages/lab installed-tree.ts).
  const files = (await ok(`find /run/lifeboat/explore/${device}/var/log/journal -name '*.journal'`)).trim();
  assert.match(files, /system\.journal$/m, 'the installed system has a persistent journal');
  const journal = await api(`/v1/servers/files-1/journal?device=${device}&boot=0&lines=50`);
  assert.equal(journal.status, 200, journal.body.toString());
  assert.equal(journal.headers.get('content-type'), 'text/plain; charset=utf-8');
  const text = journal.body.toString();
  log(`journal, last boot:\n${text}`);
  assert.match(text, /lab lab-build\[\d+\]: lab disk built: /);
  assert.match(text, /systemd-journald\[\d+\]: Journal started/);
  const warnings = (await api(`/v1/servers/files-1/journal?device=${device}&boot=0&priority=warning`)).body.toString();
  assert.match(warnings, /lab lab-build\[\d+\]: lab disk built: a warning, for journal priority filters/);
  assert.doesNotMatch(warnings, /Journal started|has not booted yet/, 'info lines are filtered out');
  // The default boot is the last one the installed system recorded (its only one here); the one before
  // it does not exist, and journalctl answers it with no line (measured: exit 0).
  const byDefault = await api(`/v1/servers/files-1/journal?device=${device}&lines=50`);
  assert.equal(byDefault.status, 200, byDefault.body.toString());
  assert.match(byDefault.body.toString(), /lab-build/);
  const before = await api(`/v1/servers/files-1/journal?device=${device}&boot=-1&lines=50`);
  assert.equal(before.status, 200, before.body.toString());
  assert.equal(before.body.toString(), '');
  assert.match((await ok('ls /run/lifeboat/explore')).trim(), new RegExp(device), 'still browsed read-only, nothing else mounted');
});

test('a 1 GiB file streams through: size and sha256 as in the rescue, the control plane\'s RSS grows by less than 64 MB', async () => {
  // The control plane is a child process (startTestControlPlane runs its entry point): its RSS, read
  // from /proc every 20 ms while the download is read here, chunk by chunk into a hash (nothing kept).
  const pid = harness.cp.process.child.pid as number;
  const rss = (): number => Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024;
  const received = createHash('sha256');
  let receivedBytes = 0;
  const baseline = rss();
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rss());
  }, 20);
  let got: { status: number; headers: Record<string, unknown>; error: string };
  try {
    got = await new Promise((resolve, reject) => {
      const req = httpRequest(`${harness.cp.url}/v1/servers/files-1/files/${device}/download?path=${big.path}`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
        let error = '';
        res.on('data', (data: Buffer) => {
          if (res.statusCode !== 200) return void (error += data.toString());
          received.update(data);
          receivedBytes += data.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, error }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  } finally {
    clearInterval(sampler);
  }
  assert.equal(got.status, 200, got.error);
  assert.equal(got.headers['content-length'], String(big.size));
  assert.equal(receivedBytes, big.size);
  assert.equal(received.digest('hex'), big.sha256);
  const growth = peak - baseline;
  log(`1 GiB through the control plane: RSS ${Math.round(baseline / 1e6)} MB before, peak growth ${Math.round(growth / 1e6)} MB`);
  assert.ok(growth < 64 * 1024 * 1024, `RSS grew by ${Math.round(growth / 1e6)} MB`);
});

test('a device that is not a partition: a whole disk and a missing name answer 404 DEVICE_NOT_FOUND, saying why', async () => {
  const disk = (await ok(`lsblk -dno PKNAME /dev/${device}`)).trim();
  assert.ok(disk && disk !== device, `the disk holding ${device}`);
  for (const route of ['', '/download']) {
    const whole = await api(`/v1/servers/files-1/files/${disk}${route}?path=/`);
    assert.deepEqual([whole.status, parsed(whole).code], [404, 'DEVICE_NOT_FOUND'], whole.body.toString());
    assert.equal(parsed(whole).message, `${disk} holds no file system the rescue system recognises (a whole disk with partitions? browse a partition, e.g. ${disk}1)`);
    const missing = await api(`/v1/servers/files-1/files/${disk}9${route}?path=/`);
    assert.deepEqual([missing.status, parsed(missing).code], [404, 'DEVICE_NOT_FOUND'], missing.body.toString());
    assert.equal(parsed(missing).message, `the rescue system has no device ${disk}9`);
  }
  const journal = await api(`/v1/servers/files-1/journal?device=${disk}`);
  assert.deepEqual([journal.status, parsed(journal).code], [404, 'DEVICE_NOT_FOUND'], journal.body.toString());
  assert.match((await ok('ls /run/lifeboat/explore')).trim(), new RegExp(`^${device}$`), 'nothing else mounted');
});

test('an incident with a result of this boot attached: declared by the customer, seen by a technician and an operator, a 404 for another tenant', async () => {
  const operator = token;
  const mint = async (body: object): Promise<string> => {
    const made = await api('/v1/tokens', operator, 'POST', body);
    assert.equal(made.status, 201, made.body.toString());
    return String(parsed(made).token);
  };
  assert.equal((await api('/v1/tenants', operator, 'POST', { name: 'globex' })).status, 201);
  const acme = await mint({ tenant: 'acme', role: 'customer' });
  const globex = await mint({ tenant: 'globex', role: 'customer' });
  const technician = await mint({ role: 'technician' });
  const disk = (await ok(`lsblk -dno PKNAME /dev/${device}`)).trim();
  const started = await api('/v1/servers/files-1/tests', acme, 'POST', { kind: 'partitions', device: disk });
  assert.equal(started.status, 202, started.body.toString());
  const testId = String(parsed(started).id);
  const finished = await waitFor('the partitions test', async () => {
    const view = parsed<{ status: string; summary: string }>(await api(`/v1/servers/files-1/tests/${testId}`, acme));
    return ['queued', 'running'].includes(view.status) ? undefined : view;
  }, 300_000, 1_000);
  log(`partitions ${disk}: ${finished.status}: ${finished.summary}`);
  assert.equal(finished.status, 'passed');
  const declared = await api('/v1/servers/files-1/incidents', acme, 'POST', { message: `the disk looks odd\nsee the partitions test of ${disk}`, tests: [testId] });
  assert.equal(declared.status, 201, declared.body.toString());
  const id = String(parsed(declared).id);
  type View = { id: string; tenant: string; state: string; tests: Array<{ id: string; kind: string; status: string }> };
  for (const who of [technician, operator]) {
    const queue = parsed<{ incidents: View[] }>(await api('/v1/incidents?state=open', who)).incidents;
    const seen = queue.find((i) => i.id === id);
    assert.ok(seen, 'in the queue');
    assert.deepEqual([seen.tenant, seen.state, seen.tests.map((t) => [t.id, t.kind, t.status])], ['acme', 'open', [[testId, 'partitions', 'passed']]]);
    assert.equal((await api(`/v1/incidents/${id}`, who)).status, 200);
  }
  const theirs = await api(`/v1/incidents/${id}`, globex);
  const none = await api('/v1/incidents/no-such-incident', globex);
  assert.deepEqual([theirs.status, parsed(theirs).code], [404, 'INCIDENT_NOT_FOUND']);
  assert.equal(String(parsed(theirs).message), String(parsed(none).message).replace('no-such-incident', id), 'exactly like a missing one');
  assert.deepEqual(parsed<{ incidents: View[] }>(await api('/v1/incidents', globex)).incidents.map((i) => i.id), []);
  assert.equal((await api(`/v1/servers/files-1/tests/${testId}`, globex)).status, 404);
});

test('the rescue doctor finds nothing wrong with the healthy installed system', async () => {
  const out = await run('rescue-doctor --rerun --json --wait 240');
  const report = JSON.parse(out.stdout) as { state: string; error?: string; installedSystem?: string; findings: Array<{ id: string }> };
  log(`doctor on the healthy system (${report.installedSystem}): ${report.findings.map((f) => f.id).join(', ') || 'no finding'}`);
  assert.equal(report.state, 'done', report.error);
  assert.deepEqual(report.findings.map((f) => f.id), []);
  assert.equal(out.code, 0, 'exit 0: nothing wrong');
  const text = await ok('rescue-doctor');
  assert.match(text, /nothing wrong found/);
});
