import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Explorer, firstPartition } from './explorer.js';
import { nodePlatform } from './platform-node.js';

/**
 * The explorer on this machine's shell tools, with the mount already in the mount table (mounting
 * needs root: the VM test does that part). The control plane's upload route is a local HTTP server.
 */
describe('explorer (agent side, without mounting)', () => {
  let root: string;
  let explorer: Explorer;
  let upload: Server;
  let uploadUrl: string;
  const received: Array<{ headers: Record<string, unknown>; body: Buffer }> = [];
  const code = (error: unknown) => (error as { code?: string }).code;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'lifeboat-explorer-'));
    const point = join(root, 'run/lifeboat/explore/sda1');
    mkdirSync(join(point, 'etc/ssh'), { recursive: true });
    writeFileSync(join(point, 'etc/fstab'), 'UUID=1234 / ext4 defaults 0 1\n');
    writeFileSync(join(point, 'etc/ssh/sshd_config'), 'PermitRootLogin no\n');
    symlinkSync('/etc/shadow', join(point, 'etc/shadow-link'));
    symlinkSync('../..', join(point, 'etc/up'));
    mkdirSync(join(root, 'dev'));
    writeFileSync(join(root, 'dev/sdb1'), '');
    writeFileSync(join(root, 'dev/sdc'), Buffer.alloc(64 * 1024));
    writeFileSync(join(root, 'mountinfo'), `30 1 8:1 / ${point} ro,nosuid,nodev,noexec - ext4 /dev/sda1 ro,norecovery\n`);
    mkdirSync(join(root, 'run/lifeboat/holds'), { recursive: true });
    writeFileSync(join(root, 'run/lifeboat/holds/sdb1.json'), JSON.stringify({ holder: 'fsck', testId: 'tst_42', since: new Date().toISOString() }));
    explorer = new Explorer(nodePlatform, { rootDir: root, devDir: join(root, 'dev'), mountInfo: join(root, 'mountinfo'), idleMs: 60_000 });
    upload = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        received.push({ headers: request.headers, body: Buffer.concat(chunks) });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => upload.listen(0, '127.0.0.1', resolve));
    const address = upload.address() as { port: number };
    uploadUrl = `http://127.0.0.1:${address.port}/v1/agent/work/w1/upload`;
  });
  after(() => {
    explorer?.close();
    upload?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('lists a directory: files, directories, symlinks with their targets (not followed)', async () => {
    const listing = await explorer.list({ device: 'sda1', path: '/etc' });
    assert.equal(listing.path, '/etc');
    assert.deepEqual(
      listing.entries.map((e) => [e.name, e.type, e.target]),
      [['fstab', 'file', null], ['shadow-link', 'symlink', '/etc/shadow'], ['ssh', 'directory', null], ['up', 'symlink', '../..']],
    );
    const fstab = listing.entries[0]!;
    assert.equal(fstab.size, 30);
    assert.match(fstab.mode, /^0?6[0-7]{2}$/);
    assert.ok(Date.parse(fstab.mtime) > Date.now() - 600_000);
  });

  it('refuses a symlink out of the partition and `..`', async () => {
    await assert.rejects(explorer.list({ device: 'sda1', path: '/etc/up' }), (e) => code(e) === 'PATH_INVALID');
    await assert.rejects(explorer.read({ device: 'sda1', path: '/etc/shadow-link', offset: 0, length: 10 }), (e) => code(e) === 'PATH_INVALID');
    await assert.rejects(explorer.list({ device: 'sda1', path: '/etc/../..' }), (e) => code(e) === 'PATH_INVALID');
  });

  it('reads a range with the file size; a directory is not readable', async () => {
    const range = await explorer.read({ device: 'sda1', path: '/etc/fstab', offset: 5, length: 4 });
    assert.deepEqual([range.size, Buffer.from(range.data, 'base64').toString()], [30, '1234']);
    const end = await explorer.read({ device: 'sda1', path: '/etc/fstab', offset: 40, length: 4 });
    assert.equal(end.data, '');
    await assert.rejects(explorer.read({ device: 'sda1', path: '/etc', offset: 0, length: 4 }), (e) => code(e) === 'PATH_INVALID');
  });

  it('answers DEVICE_BUSY while a file system check holds the device, DEVICE_NOT_FOUND for a missing one', async () => {
    await assert.rejects(explorer.list({ device: 'sdb1', path: '/' }), (e) => code(e) === 'DEVICE_BUSY' && /a file system check of sdb1 is running \(test tst_42\)/.test((e as Error).message));
    await assert.rejects(explorer.list({ device: 'sdz9', path: '/' }), (e) => code(e) === 'DEVICE_NOT_FOUND');
    await assert.rejects(explorer.list({ device: '../sda', path: '/' }), (e) => code(e) === 'DEVICE_NOT_FOUND');
  });

  it('a device with no file system (a whole disk) is DEVICE_NOT_FOUND saying so, and leaves no mount point', async () => {
    await assert.rejects(explorer.list({ device: 'sdc', path: '/' }), (e) => code(e) === 'DEVICE_NOT_FOUND' && /sdc holds no file system .*browse a partition, e\.g\. sdc1\)/.test((e as Error).message));
    assert.deepEqual(readdirSync(join(root, 'run/lifeboat/explore')), ['sda1']);
    assert.deepEqual(['sda', 'vdb', 'nvme0n1', 'mmcblk0'].map(firstPartition), ['sda1', 'vdb1', 'nvme0n1p1', 'mmcblk0p1']);
  });

  it('says clearly when the installed system has no persistent journal', async () => {
    await assert.rejects(explorer.journal({ device: 'sda1', lines: 10, boot: -1, priority: null }), (e) => code(e) === 'PATH_NOT_FOUND' && /no persistent journal/.test((e as Error).message));
  });

  it('uploads a directory as a tar stream and a file as it is; the token is in a header file, removed after', async () => {
    const target = { url: uploadUrl, authorization: 'Bearer agent-secret' };
    await explorer.download({ device: 'sda1', path: '/etc', }, target, 'w1');
    const tar = received.shift()!;
    assert.equal(tar.headers.authorization, 'Bearer agent-secret');
    assert.equal(tar.headers['x-lifeboat-type'], 'directory');
    const listed = execFileSync('tar', ['-t'], { input: tar.body }).toString().trim().split('\n').sort();
    assert.deepEqual(listed, ['etc/', 'etc/fstab', 'etc/shadow-link', 'etc/ssh/', 'etc/ssh/sshd_config', 'etc/up']);
    await explorer.download({ device: 'sda1', path: '/etc/fstab' }, target, 'w2');
    const file = received.shift()!;
    assert.deepEqual([file.headers['x-lifeboat-type'], file.headers['x-lifeboat-size'], file.body.toString()], ['file', '30', 'UUID=1234 / ext4 defaults 0 1\n']);
    assert.deepEqual(readdirSync(join(root, 'run/lifeboat/uploads')), [], 'no header file left');
    assert.ok(!existsSync(join(root, 'run/lifeboat/uploads/w1.headers')));
  });
});
