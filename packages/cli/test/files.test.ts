import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { freePort, playAgent, startControlPlaneProcess, startTestBmc, type ControlPlaneProcess, type TestBmc } from '@lifeboat/test-support';

const bin = fileURLToPath(new URL('../bin/lifeboat.mjs', import.meta.url));

/**
 * `lifeboat files` against a control plane process, the rescue agent played by the test through the
 * agent API: it answers from a directory of this machine, and uploads a real `tar -c` stream.
 */
describe('lifeboat files (CLI, control plane process, agent played)', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-cli-files-'));
  const tree = join(dir, 'partition');
  const mac = '52:54:00:cc:00:11';
  let plane: ControlPlaneProcess;
  let bmc: TestBmc;
  let env: NodeJS.ProcessEnv;
  let agentToken: string;
  let stopAgent = false;
  let agentLoop: Promise<void>;
  const big = Buffer.alloc(2_500_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 11)) & 0xff;

  const lifeboat = (args: string[]) =>
    new Promise<{ code: number; stdout: Buffer; stderr: string; json: any }>((resolve) => {
      execFile(process.execPath, [bin, ...args], { env, timeout: 120_000, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
        let json: unknown;
        try {
          json = JSON.parse(stdout.toString());
        } catch {
          json = undefined;
        }
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr: stderr.toString(), json });
      });
    });
  const agent = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${plane.url}/v1/agent${path}`, {
      method,
      headers: { authorization: `Bearer ${agentToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return text ? (JSON.parse(text) as Record<string, any>) : undefined;
  };

  /** What the played agent does for each work kind, from `tree`. */
  async function answer(job: { id: string; kind: string; params: Record<string, any> }): Promise<void> {
    const { path } = job.params;
    if (job.kind === 'files_list') {
      if (path === '/escape') return void (await agent('POST', `/work/${job.id}/result`, { state: 'failed', message: '/escape leads out of the partition through a symlink', result: { code: 'PATH_INVALID' } }));
      const entries = [
        { name: 'big.bin', type: 'file', size: big.length, mode: '0644', mtime: '2026-11-30T00:00:00.000Z', target: null },
        { name: 'etc', type: 'directory', size: 4096, mode: '0755', mtime: '2026-11-30T00:00:00.000Z', target: null },
        { name: 'escape', type: 'symlink', size: 9, mode: '0777', mtime: '2026-11-30T00:00:00.000Z', target: '../../etc' },
      ];
      return void (await agent('POST', `/work/${job.id}/result`, { state: 'completed', result: { path, entries, truncated: false } }));
    }
    if (job.kind === 'files_read') {
      const bytes = path === '/big.bin' ? big : readFileSync(join(tree, path));
      const data = bytes.subarray(job.params.offset, job.params.offset + job.params.length).toString('base64');
      return void (await agent('POST', `/work/${job.id}/result`, { state: 'completed', result: { path, size: bytes.length, offset: job.params.offset, data } }));
    }
    if (job.kind === 'journal_read') {
      return void (await agent('POST', `/work/${job.id}/result`, { state: 'failed', message: 'sda1 has no persistent journal (/var/log/journal is missing or empty)', result: { code: 'PATH_NOT_FOUND' } }));
    }
    if (job.kind === 'files_download') {
      // As the agent does: tar -c -C MOUNT etc | curl -T - (chunked, streamed). Under /broken, tar is
      // killed half-way: curl still ends its upload normally, and the agent then reports tar's status.
      const tar = spawn('tar', ['-c', '-C', tree, '--', path.slice(1)], { stdio: ['ignore', 'pipe', 'inherit'] });
      const status = new Promise<number | null>((resolve) => tar.on('exit', (code, signal) => resolve(signal ? 128 + 9 : code)));
      if (path === '/broken') tar.stdout.once('data', () => tar.kill('SIGKILL'));
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest(`${plane.url}/v1/agent/work/${job.id}/upload`, { method: 'PUT', headers: { authorization: `Bearer ${agentToken}`, 'x-lifeboat-type': 'directory', 'content-type': 'application/octet-stream' } });
        req.on('response', (res) => res.resume().on('end', resolve));
        req.on('error', reject);
        tar.stdout.pipe(req);
      });
      const code = await status;
      if (code === 0) return void (await agent('POST', `/work/${job.id}/result`, { state: 'completed', result: { path, type: 'directory' } }));
      await agent('POST', `/work/${job.id}/result`, { state: 'failed', message: `the upload of ${path} failed (status ${code}): `, result: { code: 'PROGRAM_FAILED' } });
    }
  }

  before(async () => {
    mkdirSync(join(tree, 'etc/ssh'), { recursive: true });
    writeFileSync(join(tree, 'etc/fstab'), 'UUID=1234 / ext4 errors=remount-ro 0 1\n');
    writeFileSync(join(tree, 'etc/ssh/sshd_config'), 'PermitRootLogin no\n');
    mkdirSync(join(tree, 'broken'));
    writeFileSync(join(tree, 'broken/disk.img'), Buffer.alloc(32 * 1024 * 1024, 7));
    plane = await startControlPlaneProcess({ dataDir: join(dir, 'data'), port: await freePort() });
    bmc = await startTestBmc({ controlPlaneUrl: plane.url, mac });
    const base: NodeJS.ProcessEnv = { ...process.env, LIFEBOAT_URL: plane.url, LIFEBOAT_DATA: join(dir, 'nowhere'), LIFEBOAT_TOKEN: plane.adminToken() };
    env = base;
    const tenant = await lifeboat(['tenants', 'add', 'acme', '--json']);
    assert.equal(tenant.code, 0, tenant.stderr);
    const token = await lifeboat(['tokens', 'create', '--tenant', 'acme', '--role', 'customer', '--json']);
    writeFileSync(join(dir, 'bmc.pw'), `${bmc.record.password}\n`, { mode: 0o600 });
    const server = await lifeboat(['servers', 'add', 'web-1', '--tenant', 'acme', '--mac', mac, '--bmc', bmc.record.url, '--bmc-user', bmc.record.user, '--bmc-password-file', join(dir, 'bmc.pw'), '--json']);
    assert.equal(server.code, 0, server.stderr);
    env = { ...base, LIFEBOAT_TOKEN: token.json.token };
    const entered = await lifeboat(['rescue', 'enter', 'web-1', '--json']);
    assert.equal(entered.code, 0, entered.stderr);
    agentToken = (await playAgent(plane.url, mac)).agentToken;
    agentLoop = (async () => {
      while (!stopAgent) {
        const work = await agent('GET', '/work?waitSeconds=1');
        for (const job of work?.jobs ?? []) await answer(job);
      }
    })();
  });
  after(async () => {
    stopAgent = true;
    await agentLoop?.catch(() => undefined);
    await plane?.stop('SIGTERM');
    await bmc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('files ls lists a directory, as a table and as JSON', async () => {
    const json = await lifeboat(['files', 'ls', 'web-1', 'sda1', '/', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(Object.keys(json.json).sort(), ['device', 'entries', 'path', 'server', 'truncated']);
    assert.deepEqual(json.json.entries.map((e: { name: string }) => e.name), ['big.bin', 'etc', 'escape']);
    const human = await lifeboat(['files', 'ls', 'web-1', 'sda1', '/']);
    assert.match(human.stdout.toString(), /^MODE\s+SIZE\s+MODIFIED\s+NAME/);
    assert.match(human.stdout.toString(), /l0777\s+9\s+2026-11-30 00:00:00\s+escape -> \.\.\/\.\.\/etc/);
  });

  it('files cat prints a file range by range, byte for byte', async () => {
    const small = await lifeboat(['files', 'cat', 'web-1', 'sda1', '/etc/fstab']);
    assert.equal(small.stdout.toString(), 'UUID=1234 / ext4 errors=remount-ro 0 1\n');
    const large = await lifeboat(['files', 'cat', 'web-1', 'sda1', '/big.bin']);
    assert.equal(large.code, 0, large.stderr);
    assert.ok(large.stdout.equals(big), 'three ranges put together');
  });

  it('files get saves a directory as a tar file, the same bytes tar made', async () => {
    const out = join(dir, 'etc.tar');
    const got = await lifeboat(['files', 'get', 'web-1', 'sda1', '/etc', '--out', out, '--json']);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.json.type, 'directory');
    const listed = await new Promise<string>((resolve, reject) => execFile('tar', ['-tf', out], (error, stdout) => (error ? reject(error) : resolve(stdout))));
    assert.deepEqual(listed.trim().split('\n').sort(), ['etc/', 'etc/fstab', 'etc/ssh/', 'etc/ssh/sshd_config']);
    mkdirSync(join(dir, 'x'));
    await new Promise<void>((resolve, reject) => execFile('tar', ['-xf', out, '-C', join(dir, 'x')], (error) => (error ? reject(error) : resolve())));
    assert.equal(readFileSync(join(dir, 'x/etc/fstab'), 'utf8'), readFileSync(join(tree, 'etc/fstab'), 'utf8'));
    assert.equal(got.json.bytes, readFileSync(out).length);
  });

  it('files get of a directory whose tar dies half-way exits 1 with DOWNLOAD_INCOMPLETE and leaves no partial file', async () => {
    const out = join(dir, 'broken.tar');
    const got = await lifeboat(['files', 'get', 'web-1', 'sda1', '/broken', '--out', out, '--json']);
    assert.equal(got.code, 1, got.stderr);
    assert.equal(got.json.code, 'DOWNLOAD_INCOMPLETE');
    assert.match(got.json.message, /the download of \/broken broke off after \d+ bytes .*the partial .*broken\.tar was removed/);
    assert.equal(existsSync(out), false, 'the partial tar is removed');
    const human = await lifeboat(['files', 'get', 'web-1', 'sda1', '/broken', '--out', out]);
    assert.equal(human.code, 1);
    assert.match(human.stderr, /DOWNLOAD_INCOMPLETE/);
  });

  it('answers the explorer\'s errors with their code and exit 1; a missing --out is a usage error', async () => {
    const refused = await lifeboat(['files', 'ls', 'web-1', 'sda1', '/escape', '--json']);
    assert.deepEqual([refused.code, refused.json.code], [1, 'PATH_INVALID']);
    const journal = await lifeboat(['files', 'journal', 'web-1', 'sda1']);
    assert.equal(journal.code, 1);
    assert.match(journal.stderr, /PATH_NOT_FOUND.*no persistent journal/);
    const usage = await lifeboat(['files', 'get', 'web-1', 'sda1', '/etc']);
    assert.equal(usage.code, 2);
  });
});
