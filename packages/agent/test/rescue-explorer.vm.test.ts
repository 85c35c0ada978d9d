/**
 * The partition explorer in a real rescue VM with a real control plane, on the lab's installed
 * Debian 12 (layout `plain`): one boot serves every check. The API is called as a user would; what
 * the explorer answers is compared with the same files read over SSH in the rescue system.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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

const api = async (path: string) => {
  const response = await fetch(`${harness.cp.running.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
};

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
