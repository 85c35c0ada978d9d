import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SecretBox } from '../credentials/secret-box.js';
import { Store } from './store.js';
import { createTestDatabase, testDialects, type TestDatabase } from './testing.js';

const deadlines = { requestMs: 60_000, rescueMs: 600_000, exitMs: 300_000 };
const lifetime = { idleMs: 3_600_000, maxMs: 86_400_000 };
const limit = { failures: 3, windowMs: 600_000 };

for (const dialect of testDialects()) {
  describe(`users and browser sessions on ${dialect}`, { timeout: 600_000 }, () => {
    let database: TestDatabase;
    let store: Store;
    let dir: string;
    let clock = new Date('2026-03-01T10:00:00.000Z');
    const advance = (ms: number) => (clock = new Date(clock.getTime() + ms));
    let tenantId: string;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'lifeboat-users-'));
      database = await createTestDatabase(dialect);
      store = await Store.open({ databaseUrl: database.url, secretBox: SecretBox.fromKeyFile(join(dir, 'secret.key')), deadlines, now: () => clock });
      tenantId = (await store.tenants.add('acme')).id;
    });
    after(async () => {
      await store?.close();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('adds users once, customers with a tenant, and verifies their passwords', async () => {
      assert.equal(await store.users.any(), false);
      const alice = await store.users.add({ name: 'alice', role: 'customer', tenantId, email: null, password: 'alice password 1' });
      assert.equal(await store.users.any(), true);
      await assert.rejects(store.users.add({ name: 'alice', role: 'operator', tenantId: null, email: null, password: 'whatever long one' }), { code: 'USER_EXISTS', status: 409 });
      await assert.rejects(store.users.add({ name: 'bob', role: 'customer', tenantId: null, email: null, password: 'whatever long one' }), { code: 'BAD_REQUEST' });
      assert.equal((await store.users.verify('alice', 'alice password 1'))?.id, alice.id);
      assert.equal(await store.users.verify('alice', 'alice password 2'), undefined);
      assert.equal(await store.users.verify('nobody', 'alice password 1'), undefined);
      const row = await store.database.db.selectFrom('users').select('password_hash').where('id', '=', alice.id).executeTakeFirstOrThrow();
      assert.match(row.password_hash, /^scrypt\$17\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{86}$/);
      await store.users.setPassword(alice.id, 'alice password 2');
      assert.equal(await store.users.verify('alice', 'alice password 1'), undefined);
      assert.equal((await store.users.verify('alice', 'alice password 2'))?.name, 'alice');
      assert.equal((await store.users.setEmail(alice.id, 'a@acme.test')).email, 'a@acme.test');
    });

    it('keeps sessions by the hash of their cookie, with idle and absolute expiry', async () => {
      const alice = (await store.users.byName('alice'))!;
      const { cookieValue, session } = await store.browserSessions.create(alice, lifetime);
      const rows = await store.database.db.selectFrom('browser_sessions').selectAll().execute();
      assert.ok(!JSON.stringify(rows).includes(cookieValue) && !JSON.stringify(rows).includes(session.csrfToken));
      assert.equal((await store.browserSessions.authenticate(cookieValue, lifetime))?.csrfToken, session.csrfToken);
      assert.equal(await store.browserSessions.authenticate(`${cookieValue}x`, lifetime), undefined);
      advance(lifetime.idleMs - 1);
      assert.equal((await store.browserSessions.authenticate(cookieValue, lifetime))?.id, session.id);
      advance(lifetime.idleMs);
      assert.equal(await store.browserSessions.authenticate(cookieValue, lifetime), undefined);
      assert.equal(await store.browserSessions.countFor(alice.id), 0, 'an expired session is deleted');

      const long = await store.browserSessions.create(alice, lifetime);
      const start = clock.getTime();
      while (clock.getTime() - start + lifetime.idleMs / 2 < lifetime.maxMs) {
        advance(lifetime.idleMs / 2);
        assert.ok(await store.browserSessions.authenticate(long.cookieValue, lifetime));
      }
      advance(lifetime.maxMs - (clock.getTime() - start));
      assert.equal(await store.browserSessions.authenticate(long.cookieValue, lifetime), undefined);
    });

    it('ends every other session of a user, and all of them with the user', async () => {
      const alice = (await store.users.byName('alice'))!;
      const a = await store.browserSessions.create(alice, lifetime);
      const b = await store.browserSessions.create(alice, lifetime);
      const c = await store.browserSessions.create(alice, lifetime);
      assert.equal(await store.browserSessions.removeOthers(alice.id, b.session.id), 2);
      assert.equal(await store.browserSessions.authenticate(a.cookieValue, lifetime), undefined);
      assert.ok(await store.browserSessions.authenticate(b.cookieValue, lifetime));
      assert.equal(await store.browserSessions.authenticate(c.cookieValue, lifetime), undefined);

      const own = await store.tokens.create({ name: 'laptop', role: alice.role, tenantId: alice.tenantId, userId: alice.id });
      assert.deepEqual(await store.tokens.authenticate(own.token), { tokenId: own.record.id, role: 'customer', tenantId, user: 'alice' });
      assert.deepEqual((await store.tokens.listOwn(alice.id)).map((t) => t.name), ['laptop']);
      assert.equal(await store.users.remove(alice.id), true);
      assert.equal(await store.users.remove(alice.id), false);
      assert.equal(await store.browserSessions.authenticate(b.cookieValue, lifetime), undefined);
      assert.equal(await store.tokens.authenticate(own.token), undefined);
      assert.equal(await store.users.byName('alice'), undefined);
    });

    it('revokes own tokens of their owner only', async () => {
      const tom = await store.users.add({ name: 'tom', role: 'technician', tenantId: null, email: null, password: 'tom password long' });
      const eve = await store.users.add({ name: 'eve', role: 'technician', tenantId: null, email: null, password: 'eve password long' });
      const token = await store.tokens.create({ name: 'ci', role: tom.role, tenantId: null, userId: tom.id });
      assert.equal(await store.tokens.revokeOwn(token.record.id, eve.id), false);
      assert.ok(await store.tokens.authenticate(token.token));
      assert.equal(await store.tokens.revokeOwn(token.record.id, tom.id), true);
      assert.equal(await store.tokens.authenticate(token.token), undefined);
      assert.deepEqual(await store.tokens.listOwn(tom.id), []);
      const operatorToken = await store.tokens.create({ name: 'admin', role: 'operator', tenantId: null });
      assert.deepEqual(await store.tokens.authenticate(operatorToken.token), { tokenId: operatorToken.record.id, role: 'operator', tenantId: null });
    });

    it('counts failed sign-ins per key over a sliding window', async () => {
      const keys = ['name:tom', 'address:192.0.2.1'];
      assert.equal(await store.signInFailures.retryAfterMs(keys, limit), 0);
      await store.signInFailures.record(keys, limit);
      advance(60_000);
      await store.signInFailures.record(keys, limit);
      assert.equal(await store.signInFailures.retryAfterMs(keys, limit), 0);
      advance(60_000);
      await store.signInFailures.record(['name:tom'], limit);
      // Three failures of name:tom, the oldest 2 min ago: blocked until it is 10 min old.
      assert.equal(await store.signInFailures.retryAfterMs(keys, limit), limit.windowMs - 120_000);
      assert.equal(await store.signInFailures.retryAfterMs(['address:192.0.2.1'], limit), 0);
      advance(limit.windowMs - 120_000);
      assert.equal(await store.signInFailures.retryAfterMs(keys, limit), 0);
      await store.signInFailures.record(['name:tom'], limit);
      await store.signInFailures.clear('name:tom');
      assert.equal(await store.signInFailures.retryAfterMs(keys, limit), 0);
    });
  });
}
