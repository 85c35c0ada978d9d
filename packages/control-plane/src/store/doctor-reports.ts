/**
 * The rescue doctor's records (issue 15): the latest report of each rescue session, and its fixes. A fix
 * or undo is an agent work row (`doctor_fix`, `doctor_undo`): queued with its params, answered by the
 * agent with a `DoctorFixOutcome`; no second table keeps what that row already says. Reports go with
 * their session (and the session with its server).
 */
import type { Kysely, Selectable } from 'kysely';
import { doctorFixWork, doctorUndoWork, type DoctorFinding, type DoctorFixOutcome, type DoctorReport } from '@lifeboat/core';
import type { Database } from './schema.js';
import { iso, json, newId, type Clock } from './rows.js';

/** A stored report. */
export interface StoredDoctorReport {
  readonly sessionId: string;
  readonly serverId: string;
  readonly report: DoctorReport;
  readonly receivedAt: Date;
}

/** A fix or undo as its agent work row holds it. */
export interface DoctorFixRecord {
  /** The agent work's id. */
  readonly id: string;
  readonly sessionId: string;
  readonly action: 'fix' | 'undo';
  readonly findingId: string;
  /** `pending` (queued or delivered), `completed` or `failed`, as the agent work row says. */
  readonly workState: 'pending' | 'delivered' | 'completed' | 'failed';
  /** The agent's answer (a `DoctorFixOutcome` once checked), null before it. */
  readonly outcome: unknown;
  readonly message: string | null;
  readonly requestedAt: Date;
  readonly updatedAt: Date;
}

/** The message of a fix whose agent restarted before answering it. */
export const doctorAgentRestartedMessage = 'the rescue agent restarted before it answered';

const doctorKinds = [doctorFixWork, doctorUndoWork];

/** Reports and fixes of the rescue doctor. */
export class DoctorStore {
  readonly #db: Kysely<Database>;
  readonly #now: Clock;
  readonly #changed: (serverId: string) => void;

  /** `changed` announces that a server's doctor report or fixes changed (live events). */
  constructor(db: Kysely<Database>, now: Clock, changed: (serverId: string) => void) {
    this.#db = db;
    this.#now = now;
    this.#changed = changed;
  }

  /** Keeps a session's latest report (replacing the one before). */
  async save(sessionId: string, serverId: string, report: DoctorReport): Promise<void> {
    const row = { session_id: sessionId, server_id: serverId, report: JSON.stringify(report), received_at: iso(this.#now()) };
    await this.#db
      .insertInto('doctor_reports')
      .values(row)
      .onConflict((c) => c.column('session_id').doUpdateSet({ report: row.report, received_at: row.received_at }))
      .execute();
    this.#changed(serverId);
  }

  /** A session's latest report. */
  async ofSession(sessionId: string): Promise<StoredDoctorReport | undefined> {
    const row = await this.#db.selectFrom('doctor_reports').selectAll().where('session_id', '=', sessionId).executeTakeFirst();
    return row && stored(row);
  }

  /** The server's most recent report, whatever its session. */
  async latestOfServer(serverId: string): Promise<StoredDoctorReport | undefined> {
    const row = await this.#db.selectFrom('doctor_reports').selectAll().where('server_id', '=', serverId).orderBy('received_at', 'desc').limit(1).executeTakeFirst();
    return row && stored(row);
  }

  /**
   * Replaces one finding of a session's report by its new state (a fix's outcome); false when the
   * report or the finding is gone (a newer report without it: the newer report is the truth).
   */
  async updateFinding(sessionId: string, finding: DoctorFinding): Promise<boolean> {
    const current = await this.ofSession(sessionId);
    if (!current || !current.report.findings.some((f) => f.id === finding.id)) return false;
    const report: DoctorReport = { ...current.report, findings: current.report.findings.map((f) => (f.id === finding.id ? finding : f)) };
    await this.#db.updateTable('doctor_reports').set({ report: JSON.stringify(report) }).where('session_id', '=', sessionId).execute();
    this.#changed(current.serverId);
    return true;
  }

  /** Queues a fix or undo of a finding for the session's agent; the work's id. */
  async queueFix(sessionId: string, serverId: string, action: 'fix' | 'undo', params: { findingId: string; passwordHash?: string }): Promise<string> {
    const now = iso(this.#now());
    const id = newId();
    await this.#db
      .insertInto('agent_work')
      .values({ id, session_id: sessionId, kind: action === 'fix' ? doctorFixWork : doctorUndoWork, params: JSON.stringify(params), state: 'pending', result: null, message: null, created_at: now, updated_at: now })
      .execute();
    this.#changed(serverId);
    return id;
  }

  /** A session's fixes and undos, newest first. */
  async fixes(sessionId: string): Promise<DoctorFixRecord[]> {
    const rows = await this.#db.selectFrom('agent_work').selectAll().where('session_id', '=', sessionId).where('kind', 'in', doctorKinds).orderBy('created_at', 'desc').orderBy('id').execute();
    return rows.map(fixRecord);
  }

  /** One fix or undo (any session's: the caller checks whose). */
  async fix(id: string): Promise<DoctorFixRecord | undefined> {
    const row = await this.#db.selectFrom('agent_work').selectAll().where('id', '=', id).where('kind', 'in', doctorKinds).executeTakeFirst();
    return row && fixRecord(row);
  }

  /** Replaces the agent's answer of a fix by one the control plane decided (a malformed outcome, read as a failure). */
  async overrideOutcome(id: string, outcome: DoctorFixOutcome, message: string): Promise<void> {
    await this.#db.updateTable('agent_work').set({ state: 'failed', result: JSON.stringify(outcome), message, updated_at: iso(this.#now()) }).where('id', '=', id).execute();
  }

  /**
   * The agent (re)started: the fixes the agent before it had taken will never be answered. They fail
   * (the files may or may not have changed: the report the new agent sends says which). Their ids.
   */
  async settleAgentRestart(sessionId: string, serverId: string): Promise<string[]> {
    const rows = await this.#db.selectFrom('agent_work').select('id').where('session_id', '=', sessionId).where('kind', 'in', doctorKinds).where('state', '=', 'delivered').execute();
    const settled: string[] = [];
    for (const { id } of rows) {
      const updated = await this.#db
        .updateTable('agent_work')
        .set({ state: 'failed', message: doctorAgentRestartedMessage, updated_at: iso(this.#now()) })
        .where('id', '=', id)
        .where('state', '=', 'delivered')
        .executeTakeFirst();
      if (updated.numUpdatedRows > 0n) settled.push(id);
    }
    if (settled.length > 0) this.#changed(serverId);
    return settled;
  }

  /** Announces a change of a server's doctor records made elsewhere (an agent's answer to a fix). */
  announce(serverId: string): void {
    this.#changed(serverId);
  }
}

function stored(row: { session_id: string; server_id: string; report: string; received_at: string }): StoredDoctorReport {
  return { sessionId: row.session_id, serverId: row.server_id, report: json<DoctorReport>(row.report, { state: 'failed', startedAt: row.received_at, findings: [] }), receivedAt: new Date(row.received_at) };
}

function fixRecord(row: Selectable<Database['agent_work']>): DoctorFixRecord {
  const params = json<{ findingId?: string }>(row.params, {});
  return {
    id: row.id,
    sessionId: row.session_id,
    action: row.kind === doctorUndoWork ? 'undo' : 'fix',
    findingId: params.findingId ?? '',
    workState: row.state as DoctorFixRecord['workState'],
    outcome: json<unknown>(row.result, null),
    message: row.message,
    requestedAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}
