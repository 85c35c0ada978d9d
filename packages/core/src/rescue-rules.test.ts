import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  acceptsAgentWork,
  canEnterRescue,
  canExitRescue,
  canExtendRescue,
  canRemoveServer,
  isEnteringRescue,
  isFailedState,
  isInRescue,
  rescueStates,
  type RescueState,
} from './rescue-state.js';

// The states each rule accepts, written out by hand: a change of the transition table that changes a
// rule must change this table too.
const expected: Record<string, { rule: (s: RescueState) => boolean; states: RescueState[] }> = {
  canEnterRescue: { rule: canEnterRescue, states: ['active', 'rescue_failed', 'exit_failed'] },
  canExitRescue: { rule: canExitRescue, states: ['rescue_requested', 'preparing_rescue', 'rescue', 'rescue_failed', 'exit_failed'] },
  canExtendRescue: { rule: canExtendRescue, states: ['rescue_requested', 'preparing_rescue', 'rescue'] },
  acceptsAgentWork: { rule: acceptsAgentWork, states: ['rescue'] },
  isInRescue: { rule: isInRescue, states: ['rescue'] },
  isEnteringRescue: { rule: isEnteringRescue, states: ['rescue_requested', 'preparing_rescue'] },
  isFailedState: { rule: isFailedState, states: ['rescue_failed', 'exit_failed'] },
  canRemoveServer: { rule: canRemoveServer, states: ['active', 'rescue_failed'] },
};

describe('state rules derived from the transition table', () => {
  for (const [name, { rule, states }] of Object.entries(expected)) {
    it(`${name} accepts exactly ${states.join(', ')}`, () => {
      assert.deepEqual(rescueStates.filter(rule), states);
    });
  }
});
