// The PostgreSQL pool: a busy control plane waits for a free client; only a database that cannot be
// reached is DATABASE_UNAVAILABLE.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { isDatabaseUnavailable, openDatabase } from './database.js';
import { createTestDatabase } from './testing.js';

test('a busy pool makes requests wait for a free client, longer than the connect timeout, and none fails', async () => {
  const database = await createTestDatabase('postgres');
  const open = openDatabase(database.url);
  try {
    // 120 queries of 0.5 s on 10 clients: the last waits about 6 s for a client (the connect timeout is 5 s).
    const started = Date.now();
    const results = await Promise.allSettled(Array.from({ length: 120 }, () => sql`select pg_sleep(0.5)`.execute(open.db)));
    assert.ok(Date.now() - started > 5000, 'the queue lasted longer than the connect timeout');
    assert.deepEqual(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)), []);
  } finally {
    await open.close();
    await database.drop();
  }
});

test('a database nobody answers on is unavailable, within the connect timeout', async () => {
  const open = openDatabase('postgres://postgres@127.0.0.1:1/nowhere');
  try {
    const error = await sql`select 1`.execute(open.db).then(() => undefined, (e: unknown) => e);
    assert.ok(error, 'the query failed');
    assert.equal(isDatabaseUnavailable(error), true, String(error));
  } finally {
    await open.close();
  }
});
