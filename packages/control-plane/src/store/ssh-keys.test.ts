import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretBox } from '../credentials/secret-box.js';
import { parsePublicKey } from '../keys/public-key.js';
import { Store } from './store.js';
import { createTestDatabase, testDialects, type TestDatabase } from './testing.js';

/** An ed25519 public key line (the store checks the format, not the curve point). */
function ed25519Line(comment: string): string {
  const field = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([field(Buffer.from('ssh-ed25519')), field(randomBytes(32))]).toString('base64')} ${comment}`;
}

for (const dialect of testDialects()) {
  describe(`SSH key store on ${dialect}`, { timeout: 120_000 }, () => {
    let database: TestDatabase;
    let store: Store;
    let dir: string;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'lifeboat-keys-'));
      database = await createTestDatabase(dialect);
      store = await Store.open({ databaseUrl: database.url, secretBox: SecretBox.fromKeyFile(join(dir, 'secret.key')), deadlines: { requestMs: 1, rescueMs: 1, exitMs: 1 } });
    });
    after(async () => {
      await store?.close();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('keeps keys per tenant and staff keys apart, refusing duplicates of name or key in one scope', async () => {
      const acme = await store.tenants.add('acme');
      const globex = await store.tenants.add('globex');
      const laptop = parsePublicKey(ed25519Line('me@laptop'));
      await store.sshKeys.add({ tenantId: acme.id, name: 'laptop', key: laptop, createdBy: 't1' });
      await assert.rejects(store.sshKeys.add({ tenantId: acme.id, name: 'laptop', key: parsePublicKey(ed25519Line('x')), createdBy: 't1' }), { code: 'KEY_EXISTS', message: /named laptop/ });
      await assert.rejects(store.sshKeys.add({ tenantId: acme.id, name: 'other', key: laptop, createdBy: 't1' }), { code: 'KEY_EXISTS', message: /as laptop/ });
      // The same key in another tenant and as a staff key: separate scopes.
      await store.sshKeys.add({ tenantId: globex.id, name: 'laptop', key: laptop, createdBy: 't2' });
      const staff = parsePublicKey(ed25519Line('tech@noc'));
      await store.sshKeys.add({ tenantId: null, name: 'noc', key: staff, createdBy: 't3' });

      assert.deepEqual((await store.sshKeys.list(acme.id)).map((k) => [k.name, k.fingerprint, k.comment]), [['laptop', laptop.fingerprint, 'me@laptop']]);
      assert.deepEqual((await store.sshKeys.list(null)).map((k) => k.name), ['noc']);
      assert.deepEqual((await store.sshKeys.forServer(laptop.fingerprint, acme.id)).map((k) => k.tenantId), [acme.id]);
      assert.deepEqual((await store.sshKeys.forServer(staff.fingerprint, acme.id)).map((k) => k.tenantId), [null]);
      assert.deepEqual(await store.sshKeys.forServer(staff.fingerprint, null).then((k) => k.length), 1);
      const other = await store.tenants.add('initech');
      assert.deepEqual(await store.sshKeys.forServer(laptop.fingerprint, other.id), []);

      assert.deepEqual((await store.sshKeys.byNames(acme.id, ['laptop'])).map((k) => k.publicKey), [laptop.line]);
      await assert.rejects(store.sshKeys.byNames(acme.id, ['laptop', 'noc']), { code: 'KEY_NOT_FOUND', message: /named noc/ });
      await store.sshKeys.remove(acme.id, 'laptop');
      await assert.rejects(store.sshKeys.remove(acme.id, 'laptop'), { code: 'KEY_NOT_FOUND' });
      assert.equal((await store.sshKeys.list(globex.id)).length, 1);
    });
  });
}
