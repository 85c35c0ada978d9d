import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HardwareTestView } from '@lifeboat/core/api';
import { mergeTests } from './merge-tests.js';

const test = (id: string, createdAt: string, status: HardwareTestView['status'], progress = 0): HardwareTestView => ({
  id, server: 'web-1', sessionId: 's', kind: 'cpu', device: null, status, progress, summary: null, result: null, origin: 'api',
  params: { durationSeconds: 60, sizeBytes: null, repair: false, selfTest: null }, createdAt, startedAt: null, endedAt: null,
});

describe('mergeTests', () => {
  it('applies live copies, adds tests started since, newest first', () => {
    const loaded = [test('b', '2026-06-01T10:01:00Z', 'running', 10), test('a', '2026-06-01T10:00:00Z', 'passed', 100)];
    const live = new Map([['b', test('b', '2026-06-01T10:01:00Z', 'running', 55)], ['c', test('c', '2026-06-01T10:02:00Z', 'queued')]]);
    assert.deepEqual(mergeTests(loaded, live).map((t) => [t.id, t.status, t.progress]), [['c', 'queued', 0], ['b', 'running', 55], ['a', 'passed', 100]]);
  });

  it('keeps a finished answer over an older live event that arrived late', () => {
    const loaded = [test('a', '2026-06-01T10:00:00Z', 'passed', 100)];
    const live = new Map([['a', test('a', '2026-06-01T10:00:00Z', 'running', 90)]]);
    assert.equal(mergeTests(loaded, live)[0]!.status, 'passed');
  });
});
