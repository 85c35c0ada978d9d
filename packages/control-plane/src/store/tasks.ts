/** Tasks and their ordered steps (the boot timeline). */
import type { Kysely } from 'kysely';
import type { StepState, Task, TaskKind, TaskStep } from '@lifeboat/core';
import type { DialectName } from './database.js';
import type { Database, TaskRow } from './schema.js';
import { dateOf, iso, json, newId, type Clock } from './rows.js';

interface StoredStep {
  name: string;
  state: StepState;
  startedAt: string | null;
  endedAt: string | null;
  detail: string | null;
}

function taskOf(row: TaskRow): Task {
  return {
    id: row.id,
    serverId: row.server_id,
    sessionId: row.session_id,
    kind: row.kind as TaskKind,
    state: row.state as StepState,
    steps: json<StoredStep[]>(row.steps, []).map(
      (s): TaskStep => ({ name: s.name, state: s.state, startedAt: dateOf(s.startedAt), endedAt: dateOf(s.endedAt), detail: s.detail }),
    ),
    createdAt: new Date(row.created_at),
    endedAt: dateOf(row.ended_at),
  };
}

/** A timeline step that just ended (for the metrics): its task's kind, name, outcome and duration. */
export interface EndedStep {
  readonly task: TaskKind;
  readonly name: string;
  readonly state: 'completed' | 'failed' | 'skipped';
  readonly seconds: number;
}

/** Tasks. */
export class TaskStore {
  readonly #stepEnded = new Set<(step: EndedStep) => void>();
  readonly #db: Kysely<Database>;
  readonly #dialect: DialectName;
  readonly #now: Clock;
  readonly #changed: (serverId: string) => void;

  constructor(db: Kysely<Database>, dialect: DialectName, now: Clock, changed: (serverId: string) => void) {
    this.#db = db;
    this.#dialect = dialect;
    this.#now = now;
    this.#changed = changed;
  }

  /** Creates a task whose steps are all pending. */
  async create(input: { serverId: string; sessionId: string | null; kind: TaskKind; steps: readonly string[] }): Promise<Task> {
    const row: TaskRow = {
      id: newId(),
      server_id: input.serverId,
      session_id: input.sessionId,
      kind: input.kind,
      state: 'running',
      steps: JSON.stringify(input.steps.map((name): StoredStep => ({ name, state: 'pending', startedAt: null, endedAt: null, detail: null }))),
      created_at: iso(this.#now()),
      ended_at: null,
    };
    await this.#db.insertInto('tasks').values(row).execute();
    this.#changed(input.serverId);
    return taskOf(row);
  }

  /** A task by id. */
  async byId(id: string): Promise<Task | undefined> {
    const row = await this.#db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
    return row && taskOf(row);
  }

  /** A server's tasks, newest first. */
  async forServer(serverId: string, limit = 20): Promise<Task[]> {
    const rows = await this.#db.selectFrom('tasks').selectAll().where('server_id', '=', serverId).orderBy('created_at', 'desc').limit(limit).execute();
    return rows.map(taskOf);
  }

  /** The newest task of a session and kind. */
  async latestFor(sessionId: string, kind: TaskKind): Promise<Task | undefined> {
    const row = await this.#db
      .selectFrom('tasks')
      .selectAll()
      .where('session_id', '=', sessionId)
      .where('kind', '=', kind)
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && taskOf(row);
  }

  /**
   * Moves a step. Idempotent: completing a completed step keeps its first times. A step that is not
   * in the task is appended (agents may report extra steps).
   */
  /** Calls `listener` after each step this replica ends; returns what removes it. */
  onStepEnded(listener: (step: EndedStep) => void): () => void {
    this.#stepEnded.add(listener);
    return () => this.#stepEnded.delete(listener);
  }

  async step(taskId: string, name: string, state: StepState, detail?: string): Promise<void> {
    let ended: EndedStep | undefined;
    const serverId = await this.#db.transaction().execute(async (tx) => {
      let query = tx.selectFrom('tasks').selectAll().where('id', '=', taskId);
      // Read-modify-write of the JSON steps: lock the row on PostgreSQL; SQLite transactions are serial.
      if (this.#dialect === 'postgres') query = query.forUpdate();
      const row = await query.executeTakeFirst();
      if (!row) return undefined;
      const steps = json<StoredStep[]>(row.steps, []);
      let step = steps.find((s) => s.name === name);
      if (!step) {
        // A step the task did not plan (reported by the agent): place it where the timeline stands,
        // before the first step still pending.
        step = { name, state: 'pending', startedAt: null, endedAt: null, detail: null };
        const next = steps.findIndex((s) => s.state === 'pending');
        if (next < 0) steps.push(step);
        else steps.splice(next, 0, step);
      }
      const now = iso(this.#now());
      const finished = (s: StepState) => s === 'completed' || s === 'failed' || s === 'skipped';
      if (finished(step.state) && step.state === state) return undefined;
      step.state = state;
      if (state !== 'pending' && step.startedAt === null) step.startedAt = now;
      if (finished(state)) {
        step.endedAt = now;
        const seconds = (Date.parse(now) - Date.parse(step.startedAt ?? now)) / 1000;
        ended = { task: row.kind as TaskKind, name, state: state as EndedStep['state'], seconds };
      }
      if (detail !== undefined) step.detail = detail;
      await tx.updateTable('tasks').set({ steps: JSON.stringify(steps) }).where('id', '=', taskId).execute();
      return row.server_id;
    });
    if (serverId !== undefined) this.#changed(serverId);
    if (serverId !== undefined && ended !== undefined) for (const listener of this.#stepEnded) listener(ended);
  }

  /**
   * Ends a task; steps still pending are marked skipped. A failed task shows where it stopped: its
   * running step, or else its first pending one, fails with `detail`.
   */
  async finish(taskId: string, state: 'completed' | 'failed', detail?: string): Promise<void> {
    const task = await this.byId(taskId);
    if (!task || task.endedAt !== null) return;
    const now = iso(this.#now());
    const failedAt =
      state === 'failed' && !task.steps.some((s) => s.state === 'failed')
        ? (task.steps.findIndex((s) => s.state === 'running') + 1 || task.steps.findIndex((s) => s.state === 'pending') + 1) - 1
        : -1;
    const steps = task.steps.map((s, index): StoredStep => {
      if (index === failedAt) {
        return { name: s.name, state: 'failed', startedAt: s.startedAt ? iso(s.startedAt) : null, endedAt: now, detail: detail ?? s.detail };
      }
      return {
        name: s.name,
        state: s.state === 'pending' ? 'skipped' : s.state === 'running' ? 'completed' : s.state,
        startedAt: s.startedAt && iso(s.startedAt),
        endedAt: s.endedAt ? iso(s.endedAt) : s.state === 'running' ? now : null,
        detail: s.detail,
      };
    });
    await this.#db.updateTable('tasks').set({ state, ended_at: now, steps: JSON.stringify(steps) }).where('id', '=', taskId).where('ended_at', 'is', null).execute();
    this.#changed(task.serverId);
  }
}
