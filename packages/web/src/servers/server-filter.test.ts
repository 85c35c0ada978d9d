import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RescueState } from '@lifeboat/core/rescue-state';
import { parseFilter, serverMatches } from './server-filter.js';
import { statusTone } from './status-tone.js';

const server = (name: string, state: RescueState, tenant = 'acme', macs = ['52:54:00:aa:00:01']) => ({ name, state, tenant, macs });

describe('servers list filter', () => {
  it('colours preparing in orange, rescue in red, failures apart', () => {
    assert.equal(statusTone('active'), 'ok');
    assert.equal(statusTone('rescue_requested'), 'pending');
    assert.equal(statusTone('preparing_rescue'), 'pending');
    assert.equal(statusTone('rescue'), 'rescue');
    assert.equal(statusTone('rescue_failed'), 'failed');
    assert.equal(statusTone('exit_failed'), 'failed');
    assert.equal(statusTone('exiting_rescue'), 'exiting');
  });

  it('searches name, tenant and MAC, case-insensitively', () => {
    const s = server('Web-1', 'active', 'Globex', ['52:54:00:AB:CD:EF']);
    assert.ok(serverMatches(s, 'web', 'all'));
    assert.ok(serverMatches(s, 'globex', 'all'));
    assert.ok(serverMatches(s, 'ab:cd', 'all'));
    assert.ok(serverMatches(s, '  ', 'all'));
    assert.ok(!serverMatches(s, 'db', 'all'));
  });

  it('filters by group or by one state', () => {
    assert.ok(serverMatches(server('a', 'preparing_rescue'), '', 'in-rescue'));
    assert.ok(serverMatches(server('a', 'rescue'), '', 'in-rescue'));
    assert.ok(!serverMatches(server('a', 'exit_failed'), '', 'in-rescue'));
    assert.ok(serverMatches(server('a', 'exit_failed'), '', 'failed'));
    assert.ok(!serverMatches(server('a', 'rescue'), '', 'failed'));
    assert.ok(serverMatches(server('a', 'exiting_rescue'), '', 'exiting_rescue'));
    assert.ok(!serverMatches(server('a', 'active'), '', 'exiting_rescue'));
  });

  it('reads ?status= and ignores unknown values', () => {
    assert.equal(parseFilter('failed'), 'failed');
    assert.equal(parseFilter('rescue'), 'rescue');
    assert.equal(parseFilter('nope'), 'all');
    assert.equal(parseFilter(null), 'all');
  });
});
