import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SecretBox } from '../credentials/secret-box.js';
import { Store } from '../store/store.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../store/testing.js';
import { MemoryRateLimiter, RequestLimiters, SharedRateLimiter, formatRateLimit, parseRateLimit } from './rate-limiter.js';

describe('rate limiter in memory', () => {
  it('parses COUNT/DURATION and off, and prints them back', () => {
    assert.deepEqual(parseRateLimit('600/1m'), { count: 600, windowMs: 60_000 });
    assert.deepEqual(parseRateLimit('5/30s'), { count: 5, windowMs: 30_000 });
    assert.equal(parseRateLimit('off'), null);
    for (const bad of ['600', '0/1m', '10/0s', 'x/1m', '10/soon', '']) assert.throws(() => parseRateLimit(bad), /COUNT\/DURATION|above 0/, bad);
    assert.equal(formatRateLimit({ count: 600, windowMs: 60_000 }), '600/1m');
    assert.equal(formatRateLimit({ count: 5, windowMs: 30_000 }), '5/30s');
    assert.equal(formatRateLimit(null), 'off');
  });

  it('lets COUNT requests through at once, then one per WINDOW/COUNT, per key', async () => {
    let now = 1_000_000;
    const limiter = new MemoryRateLimiter({ count: 3, windowMs: 60_000 }, () => now);
    assert.deepEqual([await limiter.take('a'), await limiter.take('a'), await limiter.take('a')], [0, 0, 0]);
    assert.equal(await limiter.take('a'), 20_000, 'the wait until one request refilled');
    assert.equal(await limiter.take('b'), 0, 'another key has its own budget');
    now += 10_000;
    assert.equal(await limiter.waitMs('a'), 10_000, 'a refused request spent nothing');
    now += 10_000;
    assert.equal(await limiter.take('a'), 0);
    assert.equal(await limiter.take('a'), 20_000);
  });

  it('counts failures after the fact and never goes below empty', async () => {
    let now = 0;
    const limiter = new MemoryRateLimiter({ count: 2, windowMs: 1000 }, () => now);
    for (let i = 0; i < 10; i++) await limiter.spend('x');
    assert.equal(await limiter.waitMs('x'), 500);
    now += 500;
    assert.equal(await limiter.waitMs('x'), 0);
  });

  it('limits nothing when off', async () => {
    const limiter = new MemoryRateLimiter(null);
    for (let i = 0; i < 1000; i++) assert.equal(await limiter.take('a'), 0);
  });
});

const deadlines = { requestMs: 60_000, rescueMs: 600_000, exitMs: 300_000 };

for (const dialect of testDialects()) {
  describe(`rate limiter shared through the database on ${dialect}`, { timeout: 60_000 }, () => {
    let database: TestDatabase;
    // Two stores over one database: what two replicas have.
    const stores: Store[] = [];
    let dir: string;
    let now = Date.parse('2026-03-01T10:00:10.000Z');

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'lifeboat-limits-'));
      database = await createTestDatabase(dialect);
      for (let i = 0; i < 2; i++) {
        stores.push(await Store.open({ databaseUrl: database.url, secretBox: SecretBox.fromKeyFile(join(dir, 'secret.key')), deadlines, now: () => new Date(now) }));
      }
    });
    after(async () => {
      for (const store of stores) await store.close();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('spends one budget from both replicas, per limit and key, until the window ends', async () => {
      const limits = { enters: { count: 3, windowMs: 60_000 } };
      const [a, b] = stores.map((store) => RequestLimiters.shared(store.rateLimitHits, limits, () => now)) as [RequestLimiters, RequestLimiters];
      assert.ok(a.enters instanceof SharedRateLimiter);
      assert.deepEqual([await a.enters.take('token-1'), await b.enters.take('token-1'), await a.enters.take('token-1')], [0, 0, 0]);
      assert.equal(await b.enters.take('token-1'), 50_000, 'the fourth, on the other replica: refused until the window ends');
      assert.equal(await a.enters.waitMs('token-1'), 50_000);
      assert.equal(await a.enters.take('token-2'), 0, 'another key has its own budget');
      assert.equal(await a.redeems.take('token-1'), 0, 'another limit has its own budget');
      now += 50_000;
      assert.equal(await b.enters.waitMs('token-1'), 0, 'a new window');
      assert.equal(await b.enters.take('token-1'), 0);
    });

    it('counts failures after the fact from either replica', async () => {
      const limits = { authFailures: { count: 2, windowMs: 10_000 } };
      const [a, b] = stores.map((store) => RequestLimiters.shared(store.rateLimitHits, limits, () => now)) as [RequestLimiters, RequestLimiters];
      assert.equal(await b.authFailures.waitMs('10.0.0.9'), 0);
      await a.authFailures.spend('10.0.0.9');
      await b.authFailures.spend('10.0.0.9');
      assert.ok((await b.authFailures.waitMs('10.0.0.9')) > 0, 'two failures on two replicas use the budget');
      assert.ok((await a.authFailures.waitMs('10.0.0.9')) > 0);
    });

    it('deletes the rows of windows that ended', async () => {
      const hits = stores[0]!.rateLimitHits;
      const limiter = new SharedRateLimiter('bootScripts', { count: 5, windowMs: 1000 }, hits, () => now);
      await limiter.take('10.0.0.1');
      now += 120_000;
      await limiter.take('10.0.0.2');
      // A request may have swept already (at most once a minute per replica); this sweep finishes the job.
      await hits.deleteEnded();
      const left = await stores[0]!.database.db.selectFrom('rate_limit_hits').select(['key', 'window_end']).execute();
      assert.deepEqual(left.map((row) => row.key), ['10.0.0.2'], 'only the current window is kept');
    });

    it('limits nothing when off', async () => {
      const limiter = new SharedRateLimiter('redeems', null, stores[1]!.rateLimitHits, () => now);
      for (let i = 0; i < 20; i++) assert.equal(await limiter.take('10.0.0.3'), 0);
      assert.equal(await stores[1]!.rateLimitHits.count('redeems', '10.0.0.3', { start: new Date(0), end: new Date(now) }), 0, 'nothing counted');
    });
  });
}
