import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTestDuration, parseTestSize } from './hardware-tests.js';

describe('test durations and sizes', () => {
  it('parses durations in seconds: more than 0, at most 24 h', () => {
    assert.equal(parseTestDuration('60s'), 60);
    assert.equal(parseTestDuration('10m'), 600);
    assert.equal(parseTestDuration('24h'), 86_400);
    assert.equal(parseTestDuration('90'), 90);
    assert.equal(parseTestDuration('1.5m'), 90);
    assert.throws(() => parseTestDuration('0s'), { code: 'BAD_REQUEST', message: /at least 1s/ });
    assert.throws(() => parseTestDuration('24h1s'), { code: 'BAD_REQUEST', message: /not a test duration/ });
    assert.throws(() => parseTestDuration('86401'), { code: 'BAD_REQUEST', message: /at most 24h/ });
    assert.throws(() => parseTestDuration('-5s'), { code: 'BAD_REQUEST' });
  });

  it('parses sizes with binary units: more than 0, at most 1 TiB', () => {
    assert.equal(parseTestSize('256M'), 256 * 1024 ** 2);
    assert.equal(parseTestSize('2G'), 2 * 1024 ** 3);
    assert.equal(parseTestSize('2GiB'), 2 * 1024 ** 3);
    assert.equal(parseTestSize('1T'), 1024 ** 4);
    assert.equal(parseTestSize('4096'), 4096);
    assert.throws(() => parseTestSize('0M'), { code: 'BAD_REQUEST', message: /more than 0/ });
    assert.throws(() => parseTestSize('1025G'), { code: 'BAD_REQUEST', message: /at most 1T/ });
    assert.throws(() => parseTestSize('2 apples'), { code: 'BAD_REQUEST', message: /not a size/ });
  });
});
