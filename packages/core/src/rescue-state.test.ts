import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LifeboatError } from './errors.js';
import {
  canTransition,
  deadlineEvents,
  deadlineFor,
  isWaitingState,
  nextRescueState,
  rescueEvents,
  rescueStates,
  rescueStatus,
  rescueTransitions,
} from './rescue-state.js';

// The expected legal transitions, written out by hand so that a change to the table has to change this too.
const legal: Array<[string, string, string]> = [
  ['active', 'request', 'rescue_requested'],
  ['rescue_requested', 'boot_started', 'preparing_rescue'],
  ['rescue_requested', 'fail', 'rescue_failed'],
  ['rescue_requested', 'request_exit', 'exiting_rescue'],
  ['preparing_rescue', 'ready', 'rescue'],
  ['preparing_rescue', 'fail', 'rescue_failed'],
  ['preparing_rescue', 'request_exit', 'exiting_rescue'],
  ['rescue', 'request_exit', 'exiting_rescue'],
  ['rescue', 'expire', 'exiting_rescue'],
  ['exiting_rescue', 'exited', 'active'],
  ['exiting_rescue', 'exit_fail', 'exit_failed'],
  ['rescue_failed', 'request', 'rescue_requested'],
  ['rescue_failed', 'request_exit', 'exiting_rescue'],
  ['exit_failed', 'request', 'rescue_requested'],
  ['exit_failed', 'request_exit', 'exiting_rescue'],
];

describe('rescue transition table', () => {
  it('has exactly the expected legal transitions', () => {
    const actual = rescueStates.flatMap((state) =>
      Object.entries(rescueTransitions[state]).map(([event, next]) => [state, event, next]),
    );
    assert.deepEqual(new Set(actual.map((t) => t.join(' '))), new Set(legal.map((t) => t.join(' '))));
  });

  for (const state of rescueStates) {
    for (const event of rescueEvents) {
      const expected = legal.find(([s, e]) => s === state && e === event)?.[2];
      if (expected !== undefined) {
        it(`${state} --${event}--> ${expected}`, () => {
          assert.equal(nextRescueState(state, event), expected);
          assert.equal(canTransition(state, event), true);
        });
      } else {
        it(`${state} --${event}--> INVALID_STATE (409)`, () => {
          assert.equal(canTransition(state, event), false);
          assert.throws(
            () => nextRescueState(state, event),
            (error: unknown) =>
              error instanceof LifeboatError &&
              error.code === 'INVALID_STATE' &&
              error.status === 409 &&
              error.message.includes(rescueStatus(state)),
          );
        });
      }
    }
  }

  it('reaches every state from active and comes back', () => {
    const seen = new Set<string>(['active']);
    const queue: string[] = ['active'];
    while (queue.length > 0) {
      const state = queue.shift() as (typeof rescueStates)[number];
      for (const next of Object.values(rescueTransitions[state])) {
        if (!seen.has(next)) {
          seen.add(next);
          queue.push(next);
        }
      }
    }
    assert.deepEqual([...seen].sort(), [...rescueStates].sort());
  });

  it('gives every waiting state a deadline whose event the state accepts', () => {
    const entered = new Date('2026-01-01T00:00:00Z');
    const lease = new Date('2026-01-02T00:00:00Z');
    const deadlines = { requestMs: 60_000, rescueMs: 600_000, exitMs: 300_000 };
    for (const state of rescueStates) {
      const event = deadlineEvents[state];
      const deadline = deadlineFor(state, entered, deadlines, lease);
      assert.equal(isWaitingState(state), event !== undefined, state);
      assert.equal(deadline !== null, event !== undefined, state);
      if (event !== undefined) assert.equal(canTransition(state, event), true, state);
    }
    assert.equal(deadlineFor('preparing_rescue', entered, deadlines, lease)?.getTime(), entered.getTime() + 600_000);
    assert.equal(deadlineFor('rescue', entered, deadlines, lease), lease);
  });

  it('names every state for users', () => {
    assert.equal(rescueStatus('preparing_rescue'), 'Preparing rescue');
    assert.equal(rescueStatus('rescue_failed'), 'Rescue failed');
    assert.equal(new Set(rescueStates.map(rescueStatus)).size, rescueStates.length);
  });
});
