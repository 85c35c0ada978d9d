import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LifeboatError } from '@lifeboat/core';
import { assertJsonSize, containsNul } from './input-limits.js';

describe('input limits', () => {
  it('finds a NUL in any string of a JSON value, keys and deep nesting included', () => {
    assert.equal(containsNul('plain'), false);
    assert.equal(containsNul({ a: ['b', { c: 1, d: null, e: true }] }), false);
    assert.equal(containsNul('a\u0000b'), true);
    assert.equal(containsNul({ list: [1, 'x', { deep: 'y\u0000' }] }), true);
    assert.equal(containsNul({ 'k\u0000': 1 }), true);
    let nested: unknown = 'bottom\u0000';
    for (let i = 0; i < 10_000; i++) nested = [nested];
    assert.equal(containsNul(nested), true, 'no depth hides it, and no recursion overflows');
  });

  it('refuses a free-form field over its size as JSON with PAYLOAD_TOO_LARGE', () => {
    assertJsonSize(undefined, 10, 'params');
    assertJsonSize({ a: 'x'.repeat(10) }, 100, 'params');
    assert.throws(() => assertJsonSize({ a: 'x'.repeat(200) }, 100, 'params'), (e: LifeboatError) => e.code === 'PAYLOAD_TOO_LARGE' && e.status === 413 && /params/.test(e.message));
    // Bytes, not characters: 60 three-byte characters are 180 bytes.
    assert.throws(() => assertJsonSize('€'.repeat(60), 100, 'attachment'), { code: 'PAYLOAD_TOO_LARGE' });
  });
});
