/**
 * Hardware tests: one row per test, kept after the rescue session ends (the server's history) and
 * removed with the server, as its sessions are. A test started from the API is written together with
 * its agent work (one transaction: the agent never receives work whose test does not exist yet).
 */
import type { Kysely } from 'kysely';
import {
  agentSilenceMs,
  finishedTestStatuses,
  hardwareTestWork,
  keptTestOutputBytes,
  type HardwareTestKind,
  type HardwareTestOutcome,
  type HardwareTestStatus,
  type HardwareTestWorkParams,
} from '@lifeboat/core';
import type { Database, HardwareTestRow } from './schema.js';
import { dateOf, iso, json, newId, type Clock } from './rows.js';

/** A hardware test as stored. */
export interface HardwareTest {
  readonly id: string;
  readonly serverId: string;
  readonly tenantId: string;
  readonly sessionId: string | null;
  readonly kind: HardwareTestKind;
  readonly device: string | null;
  readonly params: { durationSeconds: number | null; sizeBytes: number | null; repair: boolean; selfTest: 'short' | 'long' | null };
  readonly status: HardwareTestStatus;
  readonly progress: number;
  readonly summary: string | null;
  readonly result: unknown;
  readonly origin: 'api' | 'ssh';
  readonly workId: string | null;
  readonly cancelRequested: boolean;
  readonly requestedBy: string | null;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly endedAt: Date | null;
}

/** What starting a test records. */
export interface NewHardwareTestRecord {
  readonly serverId: string;
  readonly tenantId: string;
  readonly sessionId: string;
  readonly params: Omit<HardwareTestWorkParams, 'testId'>;
  readonly origin: 'api' | 'ssh';
  readonly requestedBy: string | null;
}

/** The outcome of a cancel request. */
export type CancelOutcome = 'cancelled' | 'requested' | 'finished' | 'missing';

/** The message of a test left running when its rescue ended. */
export const rescueEndedMessage = 'the rescue ended while the test ran';
/** The message of a test that ran when the rescue system's agent (re)started: the new agent does not run it. */
export const agentRestartedMessage = 'the rescue agent restarted during the test';
/** The message of a cpu test whose server stopped answering (the words: it points to a fault). */
export const cpuSilentMessage = 'the server stopped answering during the processor test';

const droppedMarker = '[earlier output dropped: only the last 1 MiB is kept]\n';

/** Appends output and keeps at most the last {@link keptTestOutputBytes} bytes (UTF-8), marked when cut. */
export function boundedOutput(kept: string, added: string, limit: number = keptTestOutputBytes): string {
  const all = kept + added;
  if (Buffer.byteLength(all) <= limit) return all;
  const bytes = Buffer.from(all.startsWith(droppedMarker) ? all.slice(droppedMarker.length) : all);
  const room = limit - Buffer.byteLength(droppedMarker);
  // Cut at a line start when one is near, else at a character boundary (skip continuation bytes).
  let start = bytes.length - room;
  while (start < bytes.length && (bytes[start]! & 0xc0) === 0x80) start++;
  return droppedMarker + bytes.subarray(start).toString('utf8');
}

function testOf(row: HardwareTestRow): HardwareTest {
  return {
    id: row.id,
    serverId: row.server_id,
    tenantId: row.tenant_id,
    sessionId: row.session_id,
    kind: row.kind as HardwareTestKind,
    device: row.device,
    params: json<HardwareTest['params']>(row.params, { durationSeconds: null, sizeBytes: null, repair: false, selfTest: null }),
    status: row.status as HardwareTestStatus,
    progress: row.progress,
    summary: row.summary,
    result: json<unknown>(row.result, null),
    origin: row.origin === 'ssh' ? 'ssh' : 'api',
    workId: row.work_id,
    cancelRequested: row.cancel_requested === 1,
    requestedBy: row.requested_by,
    createdAt: new Date(row.created_at),
    startedAt: dateOf(row.started_at),
    endedAt: dateOf(row.ended_at),
  };
}

const unfinished = ['queued', 'running'] as const;

/** Hardware tests and their history. */
export class HardwareTestStore {
  readonly #db: Kysely<Database>;
  readonly #now: Clock;
  readonly #changed: (testId: string) => void;

  constructor(db: Kysely<Database>, now: Clock, changed: (testId: string) => void) {
    this.#db = db;
    this.#now = now;
    this.#changed = changed;
  }

  /**
   * Records a test and its agent work in one transaction. From the API the work is `pending` (the
   * agent's long poll delivers it) and the test `queued`; from SSH the agent already runs it: the work
   * is `delivered` and the test `running`.
   */
  async create(input: NewHardwareTestRecord): Promise<HardwareTest> {
    const now = iso(this.#now());
    const id = newId();
    const workId = newId();
    const params: HardwareTestWorkParams = { testId: id, ...input.params };
    const ssh = input.origin === 'ssh';
    await this.#db.transaction().execute(async (tx) => {
      await tx
        .insertInto('agent_work')
        .values({ id: workId, session_id: input.sessionId, kind: hardwareTestWork, params: JSON.stringify(params), state: ssh ? 'delivered' : 'pending', result: null, message: null, created_at: now, updated_at: now })
        .execute();
      await tx
        .insertInto('hardware_tests')
        .values({
          id,
          server_id: input.serverId,
          tenant_id: input.tenantId,
          session_id: input.sessionId,
          kind: input.params.kind,
          device: input.params.device,
          params: JSON.stringify({ durationSeconds: input.params.durationSeconds, sizeBytes: input.params.sizeBytes, repair: input.params.repair, selfTest: input.params.selfTest }),
          status: ssh ? 'running' : 'queued',
          progress: 0,
          summary: null,
          result: null,
          output: '',
          origin: input.origin,
          work_id: workId,
          cancel_requested: 0,
          requested_by: input.requestedBy,
          created_at: now,
          updated_at: now,
          started_at: ssh ? now : null,
          ended_at: null,
        })
        .execute();
    });
    this.#changed(id);
    return (await this.byId(id))!;
  }

  /** A test by id. */
  async byId(id: string): Promise<HardwareTest | undefined> {
    const row = await this.#db.selectFrom('hardware_tests').selectAll().where('id', '=', id).executeTakeFirst();
    return row && testOf(row);
  }

  /** A server's test by id (another server's test is missing). */
  async ofServer(serverId: string, id: string): Promise<HardwareTest | undefined> {
    const row = await this.#db.selectFrom('hardware_tests').selectAll().where('id', '=', id).where('server_id', '=', serverId).executeTakeFirst();
    return row && testOf(row);
  }

  /** The test a session's agent work runs, if that work is a test. */
  async byWork(sessionId: string, workId: string): Promise<HardwareTest | undefined> {
    const row = await this.#db.selectFrom('hardware_tests').selectAll().where('work_id', '=', workId).where('session_id', '=', sessionId).executeTakeFirst();
    return row && testOf(row);
  }

  /** The tests of a server among `ids` (unknown ids and other servers' tests left out): what an incident may attach. */
  async ofServerAmong(serverId: string, ids: readonly string[]): Promise<HardwareTest[]> {
    if (ids.length === 0) return [];
    const rows = await this.#db.selectFrom('hardware_tests').selectAll().where('server_id', '=', serverId).where('id', 'in', [...ids]).execute();
    return rows.map(testOf);
  }

  /** A server's tests, newest first (the history, across sessions). */
  async list(serverId: string, limit = 200): Promise<HardwareTest[]> {
    const rows = await this.#db.selectFrom('hardware_tests').selectAll().where('server_id', '=', serverId).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return rows.map(testOf);
  }

  /** The kept output (the last 1 MiB). */
  async output(id: string): Promise<string> {
    const row = await this.#db.selectFrom('hardware_tests').select('output').where('id', '=', id).executeTakeFirst();
    return row?.output ?? '';
  }

  /**
   * A user cancels: a queued test is cancelled at once (its work withdrawn if not delivered yet); a
   * running one is marked, and the agent's next progress report is answered `cancel: true`.
   */
  async cancel(id: string): Promise<CancelOutcome> {
    const test = await this.byId(id);
    if (!test) return 'missing';
    if (finishedTestStatuses.has(test.status)) return 'finished';
    const now = iso(this.#now());
    if (test.status === 'queued') {
      const result = await this.#db
        .updateTable('hardware_tests')
        .set({ status: 'cancelled', cancel_requested: 1, summary: 'cancelled before it started', ended_at: now, updated_at: now })
        .where('id', '=', id)
        .where('status', '=', 'queued')
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) return this.cancel(id);
      if (test.workId !== null) {
        await this.#db.updateTable('agent_work').set({ state: 'cancelled', updated_at: now }).where('id', '=', test.workId).where('state', '=', 'pending').execute();
      }
      this.#changed(id);
      return 'cancelled';
    }
    await this.#db.updateTable('hardware_tests').set({ cancel_requested: 1, updated_at: now }).where('id', '=', id).where('status', '=', 'running').execute();
    this.#changed(id);
    return 'requested';
  }

  /**
   * A progress report of the agent: the test runs; progress only goes up; output is appended and
   * bounded. Answers whether the user cancelled (also true for a test that is already over: the agent
   * must stop work nobody waits for).
   */
  async progress(test: HardwareTest, report: { progress: number; summary?: string; output?: string }): Promise<{ cancel: boolean }> {
    if (finishedTestStatuses.has(test.status)) return { cancel: true };
    const now = iso(this.#now());
    const output = report.output ? boundedOutput(await this.output(test.id), report.output) : undefined;
    await this.#db
      .updateTable('hardware_tests')
      .set({
        status: 'running',
        progress: Math.max(test.progress, Math.floor(report.progress)),
        ...(report.summary === undefined ? {} : { summary: report.summary }),
        ...(output === undefined ? {} : { output }),
        started_at: test.startedAt === null ? now : iso(test.startedAt),
        updated_at: now,
      })
      .where('id', '=', test.id)
      .where('status', 'in', [...unfinished])
      .execute();
    this.#changed(test.id);
    return { cancel: test.cancelRequested };
  }

  /** Ends a test (the agent's outcome, or the control plane's verdict). Only an unfinished test changes. */
  async finish(id: string, outcome: Omit<HardwareTestOutcome, 'result'> & { result?: unknown }): Promise<boolean> {
    const test = await this.byId(id);
    if (!test || finishedTestStatuses.has(test.status)) return false;
    const now = iso(this.#now());
    const output = outcome.output ? boundedOutput(await this.output(id), outcome.output) : undefined;
    const result = await this.#db
      .updateTable('hardware_tests')
      .set({
        status: outcome.status,
        summary: outcome.summary,
        result: outcome.result === undefined ? null : JSON.stringify(outcome.result),
        ...(output === undefined ? {} : { output }),
        ...(outcome.status === 'passed' ? { progress: 100 } : {}),
        ended_at: now,
        updated_at: now,
      })
      .where('id', '=', id)
      .where('status', 'in', [...unfinished])
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) return false;
    this.#changed(id);
    return true;
  }

  /**
   * An agent (re)started for `sessionId`: a freshly started agent runs no test, so every test of the
   * session it had taken (running, or queued with its work delivered) becomes `error`
   * ({@link agentRestartedMessage}) at once, and that work `failed`, instead of waiting
   * {@link agentSilenceMs} for silence. Work not delivered yet stays for the new agent. Returns the tests it settled.
   */
  async settleAgentRestart(sessionId: string): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('hardware_tests')
      .leftJoin('agent_work', 'agent_work.id', 'hardware_tests.work_id')
      .select(['hardware_tests.id as id', 'hardware_tests.status as status', 'agent_work.id as workId', 'agent_work.state as workState'])
      .where('hardware_tests.session_id', '=', sessionId)
      .where('hardware_tests.status', 'in', [...unfinished])
      .execute();
    const settled: string[] = [];
    for (const row of rows) {
      if (row.status !== 'running' && row.workState !== 'delivered') continue;
      if (!(await this.finish(row.id, { status: 'error', summary: agentRestartedMessage, result: null }))) continue;
      settled.push(row.id);
      if (row.workId !== null) {
        await this.#db
          .updateTable('agent_work')
          .set({ state: 'failed', message: agentRestartedMessage, updated_at: iso(this.#now()) })
          .where('id', '=', row.workId)
          .where('state', '=', 'delivered')
          .execute();
      }
    }
    return settled;
  }

  /**
   * Settles tests whose rescue is gone: a test of a session that ended or left `rescue` becomes
   * `error` ({@link rescueEndedMessage}); a running test whose agent fell silent (no heartbeat and no
   * progress for {@link agentSilenceMs}) becomes `failed` for a cpu test ({@link cpuSilentMessage}: a
   * processor under stress that stops the whole system is the fault the test looks for), `error` with
   * {@link rescueEndedMessage} for the others (the agent is gone: the rescue as the test knew it ended). Run by the deadline scheduler on every tick. Returns the tests it settled.
   */
  async settleOrphans(now: Date = this.#now(), silenceMs: number = agentSilenceMs): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('hardware_tests')
      .leftJoin('rescue_sessions', 'rescue_sessions.id', 'hardware_tests.session_id')
      .select([
        'hardware_tests.id as id',
        'hardware_tests.kind as kind',
        'hardware_tests.status as status',
        'hardware_tests.updated_at as testUpdatedAt',
        'rescue_sessions.state as state',
        'rescue_sessions.ended_at as endedAt',
        'rescue_sessions.last_heartbeat_at as heartbeatAt',
        'rescue_sessions.updated_at as sessionUpdatedAt',
      ])
      .where('hardware_tests.status', 'in', [...unfinished])
      .execute();
    const settled: string[] = [];
    for (const row of rows) {
      let verdict: { status: 'failed' | 'error'; summary: string } | undefined;
      if (row.state === null || row.endedAt !== null || row.state !== 'rescue') {
        verdict = { status: 'error', summary: rescueEndedMessage };
      } else if (row.status === 'running') {
        const heard = Math.max(dateOf(row.heartbeatAt)?.getTime() ?? 0, new Date(row.sessionUpdatedAt!).getTime(), new Date(row.testUpdatedAt).getTime());
        if (now.getTime() - heard > silenceMs) {
          verdict = row.kind === 'cpu' ? { status: 'failed', summary: cpuSilentMessage } : { status: 'error', summary: rescueEndedMessage };
        }
      }
      if (verdict && (await this.finish(row.id, { ...verdict, result: null }))) settled.push(row.id);
    }
    return settled;
  }
}
