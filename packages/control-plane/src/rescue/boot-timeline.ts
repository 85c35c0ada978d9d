/**
 * The one place that records a rescue's timeline (the steps of its enter or exit task). The jobs (BMC
 * steps), the netboot server (script served, files fetched) and the agent API (agent steps) all record
 * through it, under one rule:
 *
 * 1. the step is known (`stepTitles` in core's `tasks.ts`);
 * 2. the session is open and its state has an open task of the step's kind: `rescue_requested`,
 *    `preparing_rescue` and `rescue` the enter task, `exiting_rescue` the exit task (a caller may name
 *    the kind; by default the state decides);
 * 3. a session whose state has moved to another kind of task only lets a step that is already running
 *    finish (`completed` or `failed`): a BMC command in flight when an exit was requested still shows
 *    what it did, but nothing new starts on the old timeline;
 * 4. netboot steps (`ipxe_script_served`, `kernel_fetched`, ...) only while the session's netboot field
 *    says `rescue`: a server told to boot its disk is not booting the rescue.
 *
 * Before this recorder, the three callers each had their own guard, and the netboot decision read the
 * task's steps; now it reads the session's `netboot` field and the steps are only a record.
 */
import { stepTitles, type RescueState, type StepState, type TaskKind } from '@lifeboat/core';
import type { Store } from '../store/store.js';

/** Steps the netboot server records. */
const netbootSteps: ReadonlySet<string> = new Set(['ipxe_script_served', 'kernel_fetched', 'initrd_fetched', 'rootfs_fetched']);

/** Which task a session in this state is writing, if any. */
export function timelineOf(state: RescueState): TaskKind | undefined {
  switch (state) {
    case 'rescue_requested':
    case 'preparing_rescue':
    case 'rescue':
      return 'enter_rescue';
    case 'exiting_rescue':
      return 'exit_rescue';
    default:
      return undefined;
  }
}

/** Why a step was not recorded, or `recorded`. */
export type RecordOutcome = 'recorded' | 'unknown step' | 'no open session' | 'no open task' | 'session moved on' | 'not netbooting rescue';

/** Records timeline steps under the rule above. */
export class BootTimeline {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  /**
   * Records `step` of session `sessionId` as `state` (with `detail`), on the task of kind `task` (by
   * default the one the session's state is writing). Returns what happened; only `recorded` wrote.
   */
  async record(sessionId: string, step: string, state: StepState, detail?: string, task?: TaskKind): Promise<RecordOutcome> {
    if (!Object.hasOwn(stepTitles, step)) return 'unknown step';
    const session = await this.#store.sessions.byId(sessionId);
    if (!session || session.endedAt !== null) return 'no open session';
    const current = timelineOf(session.state);
    const kind = task ?? current;
    if (kind === undefined) return 'session moved on';
    const open = await this.#store.tasks.latestFor(sessionId, kind);
    if (!open || open.endedAt !== null) return 'no open task';
    if (kind !== current) {
      const finishing = state === 'completed' || state === 'failed';
      if (!finishing || open.steps.find((s) => s.name === step)?.state !== 'running') return 'session moved on';
    }
    if (netbootSteps.has(step) && (await this.#store.sessions.netboot(sessionId)) !== 'rescue') return 'not netbooting rescue';
    await this.#store.tasks.step(open.id, step, state, detail);
    return 'recorded';
  }
}
