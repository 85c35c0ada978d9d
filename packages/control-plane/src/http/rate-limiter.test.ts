import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RateLimiter, formatRateLimit, parseRateLimit } from './rate-limiter.js';

describe('rate limiter', () => {
  it('parses COUNT/DURATION and off, and prints them back', () => {
    assert.deepEqual(parseRateLimit('600/1m'), { count: 600, windowMs: 60_000 });
    assert.deepEqual(parseRateLimit('5/30s'), { count: 5, windowMs: 30_000 });
    assert.equal(parseRateLimit('off'), null);
    for (const bad of ['600', '0/1m', '10/0s', 'x/1m', '10/soon', '']) assert.throws(() => parseRateLimit(bad), /COUNT\/DURATION|above 0/, bad);
    assert.equal(formatRateLimit({ count: 600, windowMs: 60_000 }), '600/1m');
    assert.equal(formatRateLimit({ count: 5, windowMs: 30_000 }), '5/30s');
    assert.equal(formatRateLimit(null), 'off');
  });

  it('lets COUNT requests through at once, then one per WINDOW/COUNT, per key', () => {
    let now = 1_000_000;
    const limiter = new RateLimiter({ count: 3, windowMs: 60_000 }, () => now);
    assert.deepEqual([limiter.take('a'), limiter.take('a'), limiter.take('a')], [0, 0, 0]);
    assert.equal(limiter.take('a'), 20_000, 'the wait until one request refilled');
    assert.equal(limiter.take('b'), 0, 'another key has its own budget');
    now += 10_000;
    assert.equal(limiter.waitMs('a'), 10_000, 'a refused request spent nothing');
    now += 10_000;
    assert.equal(limiter.take('a'), 0);
    assert.equal(limiter.take('a'), 20_000);
  });

  it('counts failures after the fact and never goes below empty', () => {
    let now = 0;
    const limiter = new RateLimiter({ count: 2, windowMs: 1000 }, () => now);
    for (let i = 0; i < 10; i++) limiter.spend('x');
    assert.equal(limiter.waitMs('x'), 500);
    now += 500;
    assert.equal(limiter.waitMs('x'), 0);
  });

  it('limits nothing when off', () => {
    const limiter = new RateLimiter(null);
    for (let i = 0; i < 1000; i++) assert.equal(limiter.take('a'), 0);
  });
});
