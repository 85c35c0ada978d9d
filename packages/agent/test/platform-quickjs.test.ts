/**
 * The agent's QuickJS platform on the real QuickJS (the qjs the image carries): programs, HTTP through
 * curl, files, signals and timers, driven by test/quickjs/platform-probe.ts and checked from here.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureQuickjs } from '@lifeboat/image';
import * as esbuild from 'esbuild';
import { freePort } from '@lifeboat/test-support';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-qjs-'));
const seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }> = [];
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    if (req.url?.startsWith('/echo')) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ method: req.method, body }));
    else if (req.url === '/empty') res.writeHead(204).end();
    else if (req.url === '/slow') setTimeout(() => res.writeHead(200).end('late'), 5000).unref();
    else res.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"NOT_FOUND","message":"no such thing"}');
  });
});
let result: Record<string, unknown> = {};
let argvSeen = '';

before(async () => {
  const qjs = (await ensureQuickjs()).path;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const refusedPort = await freePort();
  const script = join(dir, 'probe.mjs');
  await esbuild.build({
    entryPoints: [join(import.meta.dirname, 'quickjs/platform-probe.ts')],
    bundle: true,
    platform: 'neutral',
    target: 'es2023',
    format: 'esm',
    external: ['os', 'std'],
    outfile: script,
    logLevel: 'warning',
  });
  // Watch the curl processes' argv while the probe runs: no header or body may be in it.
  const watcher = setInterval(() => {
    execFile('ps', ['-eo', 'args'], (_e, stdout) => {
      argvSeen += stdout.split('\n').filter((l) => l.includes('curl')).join('\n');
    });
  }, 20);
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      qjs,
      ['--no-unhandled-rejection', script],
      { env: { PATH: process.env.PATH, PROBE_DIR: dir, PROBE_URL: `http://127.0.0.1:${port}`, PROBE_REFUSED_URL: `http://127.0.0.1:${refusedPort}` }, timeout: 120_000 },
      (error, out) => (error ? reject(new Error(`${error.message}\n${out}`)) : resolve(out)),
    );
  }).finally(() => clearInterval(watcher));
  result = JSON.parse(stdout) as Record<string, unknown>;
});

after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

test('programs: stdin, stdout, stderr and status; large output; a missing program; a stop kills', () => {
  assert.equal(result.runtime, 'quickjs');
  assert.ok(Number.isInteger(result.pid) && (result.pid as number) > 1);
  assert.deepEqual(result.echo, { status: 3, stdout: 'héllo\nwörld 🛟', stderr: 'to-stderr\n' });
  assert.equal(result.big, 300_000);
  // Run under setpriv (it dies with the agent), which says why it could not start it.
  const missing = result.missing as { status: number; stdout: string; stderr: string };
  assert.deepEqual([missing.status, missing.stdout], [127, '']);
  assert.match(missing.stderr, /setpriv: failed to execute \/nonexistent\/program: No such file or directory/);
  assert.equal(result.killed, 128 + 15);
  assert.deepEqual(result.group, { status: 128 + 15, streamed: 'started\n' });
  assert.equal(result.groupLeft, '0', 'the stopped group left no process');
});

test('HTTP through curl: method, headers, body byte for byte, any status, and transport failures', () => {
  assert.deepEqual(result.get, { status: 200, body: '{"method":"GET","body":""}' });
  const get = seen.find((s) => s.url === '/echo?x=1');
  assert.equal(get?.headers.authorization, 'Bearer s3cret');
  assert.equal(get?.headers.accept, 'application/json');
  const body = JSON.stringify({ quote: 'a"b', backslash: 'c\\d', newline: 'e\nf', unicode: 'ü🛟', at: '@/etc/passwd' });
  assert.deepEqual(result.post, { status: 200, body: JSON.stringify({ method: 'POST', body }) });
  assert.equal(seen.find((s) => s.method === 'POST' && s.url === '/echo')?.headers['content-type'], 'application/json');
  assert.deepEqual(result.status404, { status: 404, body: '{"code":"NOT_FOUND","message":"no such thing"}' });
  assert.deepEqual(result.empty204, { status: 204, body: '' });
  assert.match((result.refused as { error: string }).error, /curl: \(\d+\)/);
  assert.match((result.timedOut as { error: string }).error, /curl: \(28\)/);
  assert.deepEqual(result.stopped, { error: 'shutting down' });
  assert.equal(argvSeen.includes('s3cret'), false, 'the bearer token was in a curl argv');
  assert.equal(argvSeen.includes('backslash'), false, 'the body was in a curl argv');
});

test('a body over curl\'s config line limit is sent byte for byte', () => {
  assert.deepEqual(result.postLarge, { status: 200, same: true, bytes: (result.postLarge as { bytes: number }).bytes });
  assert.ok((result.postLarge as { bytes: number }).bytes > 300_000);
});

test('a program that always has output does not starve the others: their output is whole', () => {
  assert.deepEqual(result.beside, {
    programs: ['beside 0\n', 'beside 1\n', 'beside 2\n', 'beside 3\n', 'beside 4\n'],
    http: { status: 200, body: '{"method":"GET","body":""}' },
    chattyStatus: 128 + 15,
  });
});

test('files: exact modes, text round trip, /proc, listings, rename, owner, append', () => {
  assert.equal(result.read, 'top\nsecret ü');
  assert.equal(statSync(join(dir, 'a/b/c/secret')).mode & 0o7777, 0o600);
  assert.equal(statSync(join(dir, 'a/b/c')).mode & 0o7777, 0o700);
  assert.equal(statSync(join(dir, 'a/b/c/renamed')).mode & 0o7777, 0o640, 'a rewrite sets the new mode');
  assert.equal(readFileSync(join(dir, 'a/b/c/renamed'), 'utf8'), 'hello again');
  assert.equal(result.proc, true);
  assert.match((result.readMissing as { error: string }).error, /cannot read .*nope: No such file or directory/);
  assert.deepEqual(result.list, ['public', 'secret']);
  assert.deepEqual(result.exists, [true, false]);
  assert.deepEqual(result.owner, { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 });
  assert.equal(result.ownerMissing, null);
  assert.deepEqual(result.ownerAfter, { uid: 0, gid: 42 });
  assert.equal(readFileSync(join(dir, 'log'), 'utf8'), 'one\ntwo\n');
  assert.deepEqual(result.kill, [true, false]);
  assert.equal(result.sleepStoppedEarly, true);
});
