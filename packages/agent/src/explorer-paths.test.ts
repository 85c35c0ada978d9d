import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveInside } from './explorer-paths.js';
import { shellInspector } from './explorer.js';
import { nodePlatform } from './platform-node.js';

/** A partition's tree with every kind of symlink, inspected by the shell as in the rescue system. */
describe('explorer path rules', () => {
  let base: string;
  let root: string;
  const inspect = shellInspector(nodePlatform);
  const code = (error: unknown) => (error as { code?: string }).code;

  before(() => {
    base = mkdtempSync(join(tmpdir(), 'lifeboat-paths-'));
    root = join(base, 'mnt');
    mkdirSync(join(root, 'etc'), { recursive: true });
    mkdirSync(join(root, 'var/log'), { recursive: true });
    writeFileSync(join(root, 'etc/fstab'), 'UUID=x / ext4 defaults 0 1\n');
    writeFileSync(join(base, 'secret'), 'outside the partition\n');
    symlinkSync('../etc/fstab', join(root, 'var/fstab-link')); // relative, inside
    symlinkSync('log', join(root, 'var/logs')); // relative directory, inside
    symlinkSync('/etc/shadow', join(root, 'etc/absolute')); // absolute: the rescue's own file
    symlinkSync('../../secret', join(root, 'var/escape')); // relative, climbs out
    symlinkSync('../../../../../../../../secret', join(root, 'etc/deep-escape'));
    symlinkSync('loop-b', join(root, 'etc/loop-a'));
    symlinkSync('loop-a', join(root, 'etc/loop-b'));
    symlinkSync('missing', join(root, 'etc/dangling'));
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  it('resolves plain paths and the root', async () => {
    assert.equal(await resolveInside(root, '/', inspect), '/');
    assert.equal(await resolveInside(root, '/etc/fstab', inspect), '/etc/fstab');
    assert.equal(await resolveInside(root, '//etc/./fstab', inspect), '/etc/fstab');
  });

  it('follows symlinks that stay inside the partition', async () => {
    assert.equal(await resolveInside(root, '/var/fstab-link', inspect), '/etc/fstab');
    assert.equal(await resolveInside(root, '/var/logs', inspect), '/var/log');
  });

  it('keeps a final symlink as it is when asked not to follow it', async () => {
    assert.equal(await resolveInside(root, '/etc/absolute', inspect, false), '/etc/absolute');
  });

  it('refuses ".." in the request', async () => {
    await assert.rejects(resolveInside(root, '/etc/../../secret', inspect), (e) => code(e) === 'PATH_INVALID');
    await assert.rejects(resolveInside(root, '/..', inspect), (e) => code(e) === 'PATH_INVALID');
  });

  it('refuses relative paths', async () => {
    await assert.rejects(resolveInside(root, 'etc/fstab', inspect), (e) => code(e) === 'PATH_INVALID');
  });

  it('refuses an absolute symlink (it names the rescue system\'s file)', async () => {
    await assert.rejects(resolveInside(root, '/etc/absolute', inspect), (e) => code(e) === 'PATH_INVALID' && /absolute path \/etc\/shadow/.test((e as Error).message));
  });

  it('refuses relative symlinks that climb out, however deep', async () => {
    await assert.rejects(resolveInside(root, '/var/escape', inspect), (e) => code(e) === 'PATH_INVALID' && /out of the partition/.test((e as Error).message));
    await assert.rejects(resolveInside(root, '/etc/deep-escape', inspect), (e) => code(e) === 'PATH_INVALID');
  });

  it('refuses symlink loops', async () => {
    await assert.rejects(resolveInside(root, '/etc/loop-a', inspect), (e) => code(e) === 'PATH_INVALID' && /loop/.test((e as Error).message));
  });

  it('answers PATH_NOT_FOUND for missing paths, dangling links and a file used as a directory', async () => {
    await assert.rejects(resolveInside(root, '/nope', inspect), (e) => code(e) === 'PATH_NOT_FOUND');
    await assert.rejects(resolveInside(root, '/etc/dangling', inspect), (e) => code(e) === 'PATH_NOT_FOUND');
    await assert.rejects(resolveInside(root, '/etc/fstab/x', inspect), (e) => code(e) === 'PATH_NOT_FOUND');
  });
});
