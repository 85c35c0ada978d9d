import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cpioArchive } from './cpio.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-cpio-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('GNU cpio unpacks the archive with its files, modes, symlinks and parent directories', () => {
  const archive = cpioArchive([
    { kind: 'file', path: 'init', content: Buffer.from('#!/bin/sh\necho hi\n'), mode: 0o755 },
    { kind: 'file', path: '/lib/lifeboat/root/opt/lifeboat/agent.mjs', content: Buffer.from('x'.repeat(1001)), mode: 0o644 },
    { kind: 'symlink', path: 'bin/sh', target: 'busybox' },
    { kind: 'dir', path: 'root', mode: 0o700 },
  ]);
  writeFileSync(join(dir, 'a.cpio'), archive);
  const listing = execFileSync('cpio', ['-it', '--quiet', '-F', join(dir, 'a.cpio')], { encoding: 'utf8' }).trim().split('\n');
  assert.deepEqual(listing, ['init', 'lib', 'lib/lifeboat', 'lib/lifeboat/root', 'lib/lifeboat/root/opt', 'lib/lifeboat/root/opt/lifeboat',
    'lib/lifeboat/root/opt/lifeboat/agent.mjs', 'bin', 'bin/sh', 'root']);
  const out = join(dir, 'out');
  execFileSync('sh', ['-c', `mkdir -p ${out} && cd ${out} && cpio -idm --quiet --no-absolute-filenames -F ../a.cpio`]);
  assert.equal(readFileSync(join(out, 'init'), 'utf8'), '#!/bin/sh\necho hi\n');
  assert.equal(lstatSync(join(out, 'init')).mode & 0o7777, 0o755);
  assert.equal(readFileSync(join(out, 'lib/lifeboat/root/opt/lifeboat/agent.mjs'), 'utf8').length, 1001);
  assert.equal(readlinkSync(join(out, 'bin/sh')), 'busybox');
  assert.equal(lstatSync(join(out, 'root')).mode & 0o7777, 0o700);
});

test('the same entries give the same bytes', () => {
  const entries = [{ kind: 'file' as const, path: 'a', content: Buffer.from('a'), mode: 0o644 }];
  assert.deepEqual(cpioArchive(entries), cpioArchive(entries));
});

test('a path climbing out of the archive is refused', () => {
  assert.throws(() => cpioArchive([{ kind: 'file', path: 'a/../../etc/passwd', content: Buffer.alloc(0), mode: 0o644 }]));
});
