import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError } from '@lifeboat/core';
import { answeredNotFound } from './query-state.js';

const state = (status: 'pending' | 'error' | 'success', data: unknown, error: unknown) => ({ state: { status, data, error } }) as Parameters<typeof answeredNotFound>[0];

test('a query answered only 404 is settled; other errors, answers with data and pending ones are fetched again', () => {
  assert.equal(answeredNotFound(state('error', undefined, new ApiError('NOT_FOUND', 404, 'no such server'))), true);
  // A 503 or an unreachable control plane may answer otherwise now.
  assert.equal(answeredNotFound(state('error', undefined, new ApiError('DATABASE_UNAVAILABLE', 503, 'down'))), false);
  assert.equal(answeredNotFound(state('error', undefined, new TypeError('Failed to fetch'))), false);
  // A server that was shown and is now gone keeps its data: it is fetched again like any other.
  assert.equal(answeredNotFound(state('error', { name: 'web-1' }, new ApiError('NOT_FOUND', 404, 'gone'))), false);
  assert.equal(answeredNotFound(state('pending', undefined, null)), false);
  assert.equal(answeredNotFound(state('success', { name: 'web-1' }, null)), false);
});
