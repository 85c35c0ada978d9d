// `lifeboat keys ...` and `lifeboat console info` as a script runs them, against a control plane
// process: a customer registers, lists and removes its key; a duplicate and a bad key exit 1 with
// their codes; the console gateway's address and host key fingerprint come back with --json; `lifeboat
// ca show` prints the host CA's known_hosts line.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api, freePort, startControlPlaneProcess, type ControlPlaneProcess } from '@lifeboat/test-support';
import { runLifeboat } from './run-cli.js';

const lifeboat = (args: string[], env: NodeJS.ProcessEnv) => runLifeboat(args, env, 60_000);

describe('lifeboat keys, console info and ca show', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-keys-cli-'));
  let plane: ControlPlaneProcess;
  let acmeEnv: NodeJS.ProcessEnv;
  let fingerprint: string;

  before(async () => {
    plane = await startControlPlaneProcess({ dataDir: join(dir, 'data'), port: await freePort() });
    const admin = plane.adminToken();
    assert.equal((await api(plane.url, admin, 'POST', '/v1/tenants', { name: 'acme' })).status, 201);
    const token = ((await api(plane.url, admin, 'POST', '/v1/tokens', { tenant: 'acme', role: 'customer' })).body as { token: string }).token;
    acmeEnv = { ...process.env, LIFEBOAT_URL: plane.url, LIFEBOAT_DATA: join(dir, 'nowhere'), LIFEBOAT_TOKEN: token };
    execFileSync('ssh-keygen', ['-q', '-t', 'ecdsa', '-b', '384', '-N', '', '-C', 'ops@acme', '-f', join(dir, 'id')]);
    fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(dir, 'id.pub')], { encoding: 'utf8' }).split(' ')[1] ?? '';
  });
  after(async () => {
    await plane?.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('keys add NAME --public-key FILE, keys list, keys rm NAME', async () => {
    const added = await lifeboat(['keys', 'add', 'laptop', '--public-key', join(dir, 'id.pub'), '--json'], acmeEnv);
    assert.equal(added.code, 0, added.stderr);
    assert.deepEqual([added.json.name, added.json.type, added.json.bits, added.json.fingerprint, added.json.tenant], ['laptop', 'ecdsa-sha2-nistp384', 384, fingerprint, 'acme']);
    const listed = await lifeboat(['keys', 'list'], acmeEnv);
    assert.match(listed.stdout, new RegExp(`laptop\\s+ecdsa-sha2-nistp384 \\(384\\)\\s+${fingerprint.replace(/[+/]/g, '\\$&')}\\s+ops@acme`));
    const again = await lifeboat(['keys', 'add', 'desktop', '--public-key', join(dir, 'id.pub')], acmeEnv);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /KEY_EXISTS.*as laptop/);
    writeFileSync(join(dir, 'private'), '-----BEGIN OPENSSH PRIVATE KEY-----\n');
    const priv = await lifeboat(['keys', 'add', 'oops', '--public-key', join(dir, 'private')], acmeEnv);
    assert.equal(priv.code, 1);
    assert.match(priv.stderr, /KEY_INVALID.*give the \.pub file/);
    const missing = await lifeboat(['keys', 'add', 'x'], acmeEnv);
    assert.equal(missing.code, 2);
    assert.equal((await lifeboat(['keys', 'rm', 'laptop', '--json'], acmeEnv)).json.removed, true);
    const gone = await lifeboat(['keys', 'rm', 'laptop'], acmeEnv);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /KEY_NOT_FOUND/);
  });

  it('console info --json gives the gateway address, its host key fingerprint and the ssh command', async () => {
    const info = await lifeboat(['console', 'info', '--json'], acmeEnv);
    assert.equal(info.code, 0, info.stderr);
    const port = Number(String(info.json.listen).split(':')[1]);
    assert.ok(port > 0);
    assert.match(info.json.hostKeyFingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.equal(info.json.sshCommandExample, `ssh -p ${port} SERVER@127.0.0.1`);
    assert.match(info.json.knownHostsLine, new RegExp(`^\\[127\\.0\\.0\\.1\\]:${port} ssh-ed25519 AAAA`));
    const text = await lifeboat(['console', 'info'], acmeEnv);
    assert.match(text.stdout, /-- --write/);
  });

  it('ca show prints the @cert-authority line alone (ready for >> known_hosts); --json gives it with the key and its fingerprint', async () => {
    const shown = await lifeboat(['ca', 'show', '--json'], acmeEnv);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(Object.keys(shown.json).sort(), ['fingerprint', 'knownHostsLine', 'publicKey']);
    assert.equal(shown.json.knownHostsLine, `@cert-authority * ${shown.json.publicKey} lifeboat-host-ca`);
    writeFileSync(join(dir, 'ca.pub'), `${shown.json.publicKey}\n`);
    assert.equal(execFileSync('ssh-keygen', ['-lf', join(dir, 'ca.pub')], { encoding: 'utf8' }).split(' ')[1], shown.json.fingerprint);
    const text = await lifeboat(['ca', 'show'], acmeEnv);
    assert.equal(text.stdout, `${shown.json.knownHostsLine}\n`);
  });
});
