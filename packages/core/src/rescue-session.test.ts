import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agentResponding, agentSilenceMs } from './rescue-session.js';

const at = (s: number): Date => new Date(Date.UTC(2026, 10, 23, 12, 0, s));

test('the agent is expected to answer only in rescue', () => {
  for (const state of ['active', 'rescue_requested', 'preparing_rescue', 'exiting_rescue', 'rescue_failed', 'exit_failed'] as const) {
    assert.equal(agentResponding({ state, lastHeartbeatAt: null, updatedAt: at(0) }, at(3600)), null, state);
  }
});

test('a heartbeat within the silence limit means responding; a longer silence does not', () => {
  const session = { state: 'rescue' as const, lastHeartbeatAt: at(100), updatedAt: at(10) };
  assert.equal(agentResponding(session, at(100 + agentSilenceMs / 1000)), true);
  assert.equal(agentResponding(session, at(101 + agentSilenceMs / 1000)), false);
});

test('before the first heartbeat, the silence counts from the session entering rescue', () => {
  const session = { state: 'rescue' as const, lastHeartbeatAt: null, updatedAt: at(0) };
  assert.equal(agentResponding(session, at(30)), true);
  assert.equal(agentResponding(session, at(91)), false);
  assert.equal(agentResponding(session, at(20), 10_000), false, 'the limit can be given');
});
