// `lifeboat users ...` as a script runs it, against a control plane process: an operator adds users
// (a generated password printed once, or one from a file), lists and removes them; the passwords sign
// in; a customer's token may not manage users; bad command lines exit 2 before any request.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiError, LifeboatClient } from '@lifeboat/core';
import { api, freePort, startControlPlaneProcess, type ControlPlaneProcess } from '@lifeboat/test-support';
import { runLifeboat } from './run-cli.js';

const lifeboat = (args: string[], env: NodeJS.ProcessEnv) => runLifeboat(args, env, 60_000);

describe('lifeboat users', { timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-users-cli-'));
  let plane: ControlPlaneProcess;
  let adminEnv: NodeJS.ProcessEnv;
  let customerEnv: NodeJS.ProcessEnv;

  const signIn = (name: string, password: string) => new LifeboatClient({ url: plane.url, browser: true }).signIn({ name, password });

  before(async () => {
    plane = await startControlPlaneProcess({ dataDir: join(dir, 'data'), port: await freePort() });
    const admin = plane.adminToken();
    const base: NodeJS.ProcessEnv = { ...process.env, LIFEBOAT_URL: plane.url, LIFEBOAT_DATA: join(dir, 'nowhere') };
    delete base.LIFEBOAT_TOKEN;
    adminEnv = { ...base, LIFEBOAT_TOKEN: admin };
    assert.equal((await api(plane.url, admin, 'POST', '/v1/tenants', { name: 'acme' })).status, 201);
    customerEnv = { ...base, LIFEBOAT_TOKEN: (await api(plane.url, admin, 'POST', '/v1/tokens', { tenant: 'acme', role: 'customer' })).body.token };
  });
  after(async () => {
    await plane?.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds a customer with a generated password, printed once, that signs in', async () => {
    const added = await lifeboat(['users', 'add', 'alice', '--tenant', 'acme', '--role', 'customer', '--json'], adminEnv);
    assert.equal(added.code, 0, added.stderr);
    assert.deepEqual([added.json.user.name, added.json.user.role, added.json.user.tenant, added.json.user.email], ['alice', 'customer', 'acme', null]);
    assert.equal(typeof added.json.password, 'string');
    const session = await signIn('alice', added.json.password);
    assert.equal(session.user.tenant, 'acme');

    const human = await lifeboat(['users', 'add', 'bob', '--tenant', 'acme', '--role', 'customer'], adminEnv);
    assert.equal(human.code, 0, human.stderr);
    const password = /^password \(shown this once\): (\S+)$/m.exec(human.stdout)?.[1];
    assert.ok(password, human.stdout);
    assert.match(human.stdout, /^user bob added \(customer of acme\)$/m);
    await signIn('bob', password);
  });

  it('adds a technician with the password of a file, and refuses a short one', async () => {
    const file = join(dir, 'tom.pw');
    writeFileSync(file, 'a password from a file\n', { mode: 0o600 });
    const added = await lifeboat(['users', 'add', 'tom', '--role', 'technician', '--email', 'tom@example.net', '--password-file', file, '--json'], adminEnv);
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.json.password, undefined, 'no password is printed when the operator chose it');
    assert.equal(added.json.user.email, 'tom@example.net');
    assert.equal((await signIn('tom', 'a password from a file')).user.role, 'technician');

    writeFileSync(file, 'short\n');
    const weak = await lifeboat(['users', 'add', 'tim', '--role', 'technician', '--password-file', file], adminEnv);
    assert.equal(weak.code, 1);
    assert.match(weak.stderr, /PASSWORD_WEAK/);
    const taken = await lifeboat(['users', 'add', 'tom', '--role', 'operator', '--json'], adminEnv);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /USER_EXISTS/);
  });

  it('refuses bad command lines with exit 2, and a customer token with exit 1', async () => {
    for (const args of [
      ['users', 'add', 'x'],
      ['users', 'add', 'x', '--role', 'customer'],
      ['users', 'add', 'x', '--role', 'operator', '--tenant', 'acme'],
      ['users', 'add', 'x', '--role', 'king'],
      ['users', 'add', 'x', '--role', 'operator', '--password-file', join(dir, 'missing.pw')],
    ]) {
      const run = await lifeboat(args, adminEnv);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    }
    const forbidden = await lifeboat(['users', 'list'], customerEnv);
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.stderr, /FORBIDDEN/);
  });

  it('lists and removes users; a removed user cannot sign in', async () => {
    const list = await lifeboat(['users', 'list', '--json'], adminEnv);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(list.json.users.map((u: { name: string }) => u.name), ['admin', 'alice', 'bob', 'tom']);
    const text = await lifeboat(['users', 'list'], adminEnv);
    assert.match(text.stdout, /^NAME +ROLE +TENANT +EMAIL/);
    assert.match(text.stdout, /^tom +technician +tom@example\.net$/m);

    const removed = await lifeboat(['users', 'rm', 'tom', '--json'], adminEnv);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual(removed.json, { user: 'tom', removed: true });
    await assert.rejects(signIn('tom', 'a password from a file'), (e: unknown) => e instanceof ApiError && e.code === 'SIGN_IN_FAILED');
    const again = await lifeboat(['users', 'rm', 'tom'], adminEnv);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /USER_NOT_FOUND/);
  });
});
