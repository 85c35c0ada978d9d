/**
 * The rescue-session state machine: one transition table, in the spirit of Ironic's `states.py`.
 * A server's state is the state of its open rescue session, or `active` when it has none.
 */
import { LifeboatError } from './errors.js';

/** Every state a server goes through on its way into and out of rescue. */
export const rescueStates = [
  'active',
  'rescue_requested',
  'preparing_rescue',
  'rescue',
  'exiting_rescue',
  'rescue_failed',
  'exit_failed',
] as const;

/** A server's rescue state. */
export type RescueState = (typeof rescueStates)[number];

/** Events that move a session from one state to another. */
export const rescueEvents = [
  /** A user asked for rescue. */
  'request',
  /** The boot device is set to network and the server was rebooted: waiting for the agent. */
  'boot_started',
  /** The agent reported ready: sshd is up with the session's credentials. */
  'ready',
  /** Entering rescue failed (BMC error, deadline passed): the server was rolled back to disk boot. */
  'fail',
  /** A user (or the lease's end) asked to leave rescue. */
  'request_exit',
  /** The lease ended: leave rescue by itself. */
  'expire',
  /** The installed system answers again. */
  'exited',
  /** Leaving rescue failed (BMC error, the installed system never answered). */
  'exit_fail',
] as const;

/** An event of the rescue state machine. */
export type RescueEvent = (typeof rescueEvents)[number];

/** The transition table: for each state, the events it accepts and where they lead. */
export const rescueTransitions: Readonly<Record<RescueState, Readonly<Partial<Record<RescueEvent, RescueState>>>>> = {
  active: { request: 'rescue_requested' },
  rescue_requested: { boot_started: 'preparing_rescue', fail: 'rescue_failed', request_exit: 'exiting_rescue' },
  preparing_rescue: { ready: 'rescue', fail: 'rescue_failed', request_exit: 'exiting_rescue' },
  rescue: { request_exit: 'exiting_rescue', expire: 'exiting_rescue' },
  exiting_rescue: { exited: 'active', exit_fail: 'exit_failed' },
  rescue_failed: { request: 'rescue_requested', request_exit: 'exiting_rescue' },
  exit_failed: { request: 'rescue_requested', request_exit: 'exiting_rescue' },
};

/** Events that need a reason (failures). */
export const eventsWithReason: ReadonlySet<RescueEvent> = new Set(['fail', 'exit_fail']);

/** The state an event leads to, or an `INVALID_STATE` (409) error when the state does not accept it. */
export function nextRescueState(state: RescueState, event: RescueEvent): RescueState {
  const next = rescueTransitions[state][event];
  if (next === undefined) {
    throw new LifeboatError('INVALID_STATE', `cannot ${describeEvent(event)}: the server is ${rescueStatus(state)}`);
  }
  return next;
}

/** Whether a state accepts an event. */
export function canTransition(state: RescueState, event: RescueEvent): boolean {
  return rescueTransitions[state][event] !== undefined;
}

/** The status a user sees for a state. */
export function rescueStatus(state: RescueState): string {
  return statusNames[state];
}

const statusNames: Record<RescueState, string> = {
  active: 'Active',
  rescue_requested: 'Rescue requested',
  preparing_rescue: 'Preparing rescue',
  rescue: 'Rescue',
  exiting_rescue: 'Exiting rescue',
  rescue_failed: 'Rescue failed',
  exit_failed: 'Exit failed',
};

function describeEvent(event: RescueEvent): string {
  switch (event) {
    case 'request':
      return 'enter rescue';
    case 'request_exit':
    case 'expire':
      return 'exit rescue';
    case 'boot_started':
      return 'start the rescue boot';
    case 'ready':
      return 'mark rescue ready';
    case 'fail':
      return 'fail the rescue';
    case 'exited':
      return 'finish the exit';
    case 'exit_fail':
      return 'fail the exit';
  }
}

/** How long each waiting state may last before the scheduler acts. */
export interface RescueDeadlines {
  /** `rescue_requested`: until the job has set the boot device and rebooted (ms). */
  readonly requestMs: number;
  /** `preparing_rescue`: until the agent reports ready (ms); Ironic's `rescue_callback_timeout`. */
  readonly rescueMs: number;
  /** `exiting_rescue`: until the installed system answers (ms). */
  readonly exitMs: number;
}

/** What happens when a waiting state's deadline passes. `rescue` ends at the lease's `expiresAt`. */
export const deadlineEvents: Readonly<Partial<Record<RescueState, RescueEvent>>> = {
  rescue_requested: 'fail',
  preparing_rescue: 'fail',
  rescue: 'expire',
  exiting_rescue: 'exit_fail',
};

/** Whether the machine waits for something in this state (and so has a deadline). */
export function isWaitingState(state: RescueState): boolean {
  return deadlineEvents[state] !== undefined;
}

/**
 * The deadline of a state entered at `enteredAt`. For `rescue` it is the lease's end. Terminal and
 * stable states (`active`, `rescue_failed`, `exit_failed`) have none.
 */
export function deadlineFor(
  state: RescueState,
  enteredAt: Date,
  deadlines: RescueDeadlines,
  leaseExpiresAt: Date,
): Date | null {
  switch (state) {
    case 'rescue_requested':
      return new Date(enteredAt.getTime() + deadlines.requestMs);
    case 'preparing_rescue':
      return new Date(enteredAt.getTime() + deadlines.rescueMs);
    case 'rescue':
      return leaseExpiresAt;
    case 'exiting_rescue':
      return new Date(enteredAt.getTime() + deadlines.exitMs);
    default:
      return null;
  }
}

// Rules that routes and clients need, read from the transition table above so that a change of the
// table changes them too.

/** The events that carry a session forward into rescue without anyone asking again. */
const forwardEvents: readonly RescueEvent[] = ['boot_started', 'ready'];

/** The state a session is in once the agent reported ready: the rescue system is up. */
const rescueUpStates: ReadonlySet<RescueState> = new Set(
  rescueStates.filter((s) => Object.values(rescueTransitions).some((t) => t.ready === s)),
);

/** States reached when entering or leaving rescue failed. */
const failedStates: ReadonlySet<RescueState> = new Set(
  rescueStates.filter((s) => Object.values(rescueTransitions).some((t) => t.fail === s || t.exit_fail === s)),
);

/** Whether `rescue enter` is accepted in this state. */
export function canEnterRescue(state: RescueState): boolean {
  return canTransition(state, 'request');
}

/** Whether `rescue exit` is accepted in this state (a rescue being prepared is cancelled). */
export function canExitRescue(state: RescueState): boolean {
  return canTransition(state, 'request_exit');
}

/** Whether the rescue system is up (the agent reported ready and the lease runs). */
export function isInRescue(state: RescueState): boolean {
  return rescueUpStates.has(state);
}

/** Whether a session is on its way into rescue: it reaches the rescue system by itself (no new request). */
export function isEnteringRescue(state: RescueState): boolean {
  const seen = new Set<RescueState>();
  const queue: RescueState[] = [state];
  while (queue.length > 0) {
    const at = queue.shift() as RescueState;
    for (const event of forwardEvents) {
      const next = rescueTransitions[at][event];
      if (next === undefined || seen.has(next)) continue;
      if (rescueUpStates.has(next)) return true;
      seen.add(next);
      queue.push(next);
    }
  }
  return false;
}

/** Whether the lease of a session may be moved: it is in rescue or on its way there. */
export function canExtendRescue(state: RescueState): boolean {
  return isInRescue(state) || isEnteringRescue(state);
}

/** Whether the agent takes work (`POST /v1/servers/{name}/rescue/work`): only while the rescue system is up. */
export function acceptsAgentWork(state: RescueState): boolean {
  return isInRescue(state);
}

/** Whether a failure (of entering or of leaving rescue) ended in this state. */
export function isFailedState(state: RescueState): boolean {
  return failedStates.has(state);
}

/**
 * Whether a server may be removed: no job acts on it and it boots from its disk. That is `active`, and
 * `rescue_failed` (its failure rolled the boot device back to disk); not `exit_failed`, where the
 * server may still run the rescue system.
 */
export function canRemoveServer(state: RescueState): boolean {
  return !isWaitingState(state) && !exitFailure(state);
}

/** Whether a failed state was reached by failing to leave rescue. */
function exitFailure(state: RescueState): boolean {
  return Object.values(rescueTransitions).some((t) => t.exit_fail === state);
}
