/** The audit log and work queued for agents. */
import type { Kysely } from 'kysely';
import { leaveRescueWork, type AuditEvent } from '@lifeboat/core';
import { filesListWork, filesReadWork, journalReadWork } from '@lifeboat/core/api';
import type { AuditEventRow, Database } from './schema.js';
import { iso, json, newId, type Clock } from './rows.js';

/** The audit log: who did what to which server. */
export class AuditLog {
  readonly #db: Kysely<Database>;
  readonly #now: Clock;

  constructor(db: Kysely<Database>, now: Clock) {
    this.#db = db;
    this.#now = now;
  }

  /** Records an event; `detail` must never hold a secret. */
  async record(actor: string, action: string, about: { tenantId?: string | null; serverId?: string | null; detail?: Record<string, unknown> } = {}): Promise<void> {
    await this.#db
      .insertInto('audit_events')
      .values({
        id: newId(),
        at: iso(this.#now()),
        actor,
        action,
        tenant_id: about.tenantId ?? null,
        server_id: about.serverId ?? null,
        detail: JSON.stringify(about.detail ?? {}),
      })
      .execute();
  }

  /** Whether an event `action` about `serverId` was recorded with `detail.sessionId` equal to `sessionId`. */
  async recordedFor(action: string, serverId: string, sessionId: string): Promise<boolean> {
    const rows = await this.#db.selectFrom('audit_events').select('detail').where('action', '=', action).where('server_id', '=', serverId).execute();
    return rows.some((r) => json<Record<string, unknown>>(r.detail, {}).sessionId === sessionId);
  }

  /** Recent events, newest first (of one server when given). */
  async list(options: { serverId?: string; limit?: number } = {}): Promise<AuditEvent[]> {
    let query = this.#db.selectFrom('audit_events').selectAll().orderBy('at', 'desc').limit(options.limit ?? 100);
    if (options.serverId !== undefined) query = query.where('server_id', '=', options.serverId);
    const rows: AuditEventRow[] = await query.execute();
    return rows.map((r) => ({
      id: r.id,
      at: new Date(r.at),
      actor: r.actor,
      action: r.action,
      tenantId: r.tenant_id,
      serverId: r.server_id,
      detail: json<Record<string, unknown>>(r.detail, {}),
    }));
  }
}

/** A piece of work for the agent of a session. */
export interface AgentWork {
  readonly id: string;
  readonly kind: string;
  readonly params: unknown;
}

/**
 * Work a restarted agent is given again when its predecessor took it and never answered. Only work
 * that can run twice without harm, which is what guarantees no duplicate execution of the rest:
 * the explorer's reads (`files_list`, `files_read`, `journal_read`: a read-only mount, nothing
 * written) and `leave_rescue` (sync, unmount whatever is still mounted, reboot: a second run finds
 * less to do and ends the same way). The others — a `files_download` whose user's stream may have
 * begun, a doctor fix, a hardware test, work of a kind the control plane does not know — fail instead
 * (the doctor's and the tests' stores settle theirs first, with their own messages).
 */
export const redeliverableWorkKinds: ReadonlySet<string> = new Set([filesListWork, filesReadWork, journalReadWork, leaveRescueWork]);

/** How many times one item is given again to a restarted agent before it fails (one that kills its agent every time). */
export const maxRedeliveries = 2;

/** The message of work its agent took and never answered, that is not given again. */
export const workAgentRestartedMessage = 'the rescue agent restarted before answering this work';

/**
 * Work queued for agents, fetched by long poll. An item goes `pending` → `delivered` (taken by a poll)
 * → `completed`/`failed` (the agent's answer). A delivered item has no other acknowledgement than its
 * answer; two things give it back when that answer cannot come: a poll whose client went away before
 * its answer was written ({@link release}), and the next start of the session's agent
 * ({@link settleAgentRestart}).
 */
export class AgentWorkQueue {
  readonly #db: Kysely<Database>;
  readonly #now: Clock;

  constructor(db: Kysely<Database>, now: Clock) {
    this.#db = db;
    this.#now = now;
  }

  /** Queues work for a session's agent. */
  async add(sessionId: string, kind: string, params: unknown): Promise<string> {
    const now = iso(this.#now());
    const id = newId();
    await this.#db.insertInto('agent_work').values({ id, session_id: sessionId, kind, params: JSON.stringify(params ?? {}), state: 'pending', result: null, message: null, created_at: now, updated_at: now }).execute();
    return id;
  }

  /** Takes the pending work of a session (marks it delivered). */
  async take(sessionId: string): Promise<AgentWork[]> {
    const rows = await this.#db.selectFrom('agent_work').selectAll().where('session_id', '=', sessionId).where('state', '=', 'pending').orderBy('created_at').execute();
    const taken: AgentWork[] = [];
    for (const row of rows) {
      const result = await this.#db.updateTable('agent_work').set({ state: 'delivered', updated_at: iso(this.#now()) }).where('id', '=', row.id).where('state', '=', 'pending').executeTakeFirst();
      if (result.numUpdatedRows > 0n) taken.push({ id: row.id, kind: row.kind, params: json<unknown>(row.params, {}) });
    }
    return taken;
  }

  /**
   * Puts work a poll took back to `pending`, for the next poll: the poll's client went away before its
   * answer was written out whole, so no agent can hold it (a cut JSON answer is no work to curl or to
   * the agent's parser). Only work still `delivered`, of this session.
   */
  async release(sessionId: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#db
      .updateTable('agent_work')
      .set({ state: 'pending', updated_at: iso(this.#now()) })
      .where('session_id', '=', sessionId)
      .where('id', 'in', [...ids])
      .where('state', '=', 'delivered')
      .execute();
  }

  /**
   * The session's agent started again (`agent_started`, which it sends before it takes any work): what
   * is still `delivered` was taken by an agent that is gone (or by a poll whose answer it never read)
   * and will never be answered. Work of {@link redeliverableWorkKinds} goes back to `pending`, at most
   * {@link maxRedeliveries} times; the rest fails with {@link workAgentRestartedMessage}, so that whoever
   * waits for it learns at once instead of at a timeout. Returns what was given again and what failed.
   */
  async settleAgentRestart(sessionId: string): Promise<{ redelivered: string[]; failed: string[] }> {
    const rows = await this.#db.selectFrom('agent_work').select(['id', 'kind', 'redeliveries']).where('session_id', '=', sessionId).where('state', '=', 'delivered').execute();
    const settled: { redelivered: string[]; failed: string[] } = { redelivered: [], failed: [] };
    for (const row of rows) {
      const again = redeliverableWorkKinds.has(row.kind) && row.redeliveries < maxRedeliveries;
      const updated = await this.#db
        .updateTable('agent_work')
        .set(again ? { state: 'pending', redeliveries: row.redeliveries + 1, updated_at: iso(this.#now()) } : { state: 'failed', message: workAgentRestartedMessage, updated_at: iso(this.#now()) })
        .where('id', '=', row.id)
        .where('state', '=', 'delivered')
        .executeTakeFirst();
      if (updated.numUpdatedRows > 0n) (again ? settled.redelivered : settled.failed).push(row.id);
    }
    return settled;
  }

  /** Records a result; false when the work is not this session's. */
  async complete(sessionId: string, id: string, state: 'completed' | 'failed', result: unknown, message: string | null): Promise<boolean> {
    const updated = await this.#db
      .updateTable('agent_work')
      .set({ state, result: result === undefined ? null : JSON.stringify(result), message, updated_at: iso(this.#now()) })
      .where('id', '=', id)
      .where('session_id', '=', sessionId)
      .executeTakeFirst();
    return updated.numUpdatedRows > 0n;
  }

  /** A session's work of one kind, oldest first (the exit job finds what it asked before a crash). */
  async ofKind(sessionId: string, kind: string): Promise<Array<{ id: string; params: unknown; state: string; result: unknown; message: string | null }>> {
    const rows = await this.#db.selectFrom('agent_work').selectAll().where('session_id', '=', sessionId).where('kind', '=', kind).orderBy('created_at').execute();
    return rows.map((row) => ({ id: row.id, params: json<unknown>(row.params, {}), state: row.state, result: json<unknown>(row.result, null), message: row.message }));
  }

  /** A piece of work with its result. */
  async byId(id: string): Promise<{ sessionId: string; kind: string; state: string; result: unknown; message: string | null } | undefined> {
    const row = await this.#db.selectFrom('agent_work').selectAll().where('id', '=', id).executeTakeFirst();
    return row && { sessionId: row.session_id, kind: row.kind, state: row.state, result: json<unknown>(row.result, null), message: row.message };
  }
}
