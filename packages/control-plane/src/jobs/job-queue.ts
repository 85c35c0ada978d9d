/**
 * Durable jobs: work in flight is rows in the database. A worker claims a job with a lease, renews the
 * lease while it runs, and completes or fails it; a job whose worker died is claimed again once its
 * lease expires. Handlers must therefore be idempotent.
 */
import type { Kysely } from 'kysely';
import type { DialectName } from '../store/database.js';
import { iso, isUniqueViolation, json, newId, type Clock } from '../store/rows.js';
import type { Database, JobRow } from '../store/schema.js';
import { claimJob } from './sql/claim-job.js';

/** Where a job stands. */
export type JobState = 'pending' | 'running' | 'completed' | 'failed';

/** A job as a worker sees it. */
export interface Job {
  readonly id: string;
  readonly kind: string;
  readonly params: unknown;
  readonly state: JobState;
  /** Attempts so far, this one included when running. */
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly runAt: Date;
  /** Jobs with the same lock key never run at once (`server:<id>`), or null. */
  readonly lockKey: string | null;
  readonly lockedBy: string | null;
  readonly lockedUntil: Date | null;
  readonly lastError: string | null;
}

/** Options of a new job. */
export interface NewJobOptions {
  /** At most one unfinished job per key: adding a second returns the first's id. */
  readonly dedupeKey?: string;
  /**
   * Serialises jobs: a worker never claims a job whose lock key another running job holds (its lease
   * expired or not; an expired holder is itself claimed again and resumes). Jobs that act on a server's
   * BMC use `serverLockKey(serverId)`.
   */
  readonly lockKey?: string;
  /** Not before this time (default now). */
  readonly runAt?: Date;
  /** Give up after this many attempts (default 5). */
  readonly maxAttempts?: number;
}

/** The lock key of jobs that act on one server's BMC: two of them never run at once. */
export function serverLockKey(serverId: string): string {
  return `server:${serverId}`;
}

/** Exponential backoff: `baseMs * 2^(attempt-1)`, at most `maxMs`. */
export interface Backoff {
  readonly baseMs: number;
  readonly maxMs: number;
}

/** The delay before retrying after a failed attempt number `attempt` (1-based). */
export function backoffDelay(backoff: Backoff, attempt: number): number {
  return Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, attempt - 1));
}

function jobOf(row: JobRow): Job {
  return {
    id: row.id,
    kind: row.kind,
    params: json<unknown>(row.params, {}),
    state: row.state as JobState,
    attempts: Number(row.attempts),
    maxAttempts: Number(row.max_attempts),
    runAt: new Date(row.run_at),
    lockKey: row.lock_key,
    lockedBy: row.locked_by,
    lockedUntil: row.locked_until === null ? null : new Date(row.locked_until),
    lastError: row.last_error,
  };
}

/** The jobs table. */
export class JobQueue {
  readonly #db: Kysely<Database>;
  readonly #dialect: DialectName;
  readonly #now: Clock;
  readonly #added = new Set<() => void>();

  constructor(db: Kysely<Database>, dialect: DialectName, now: Clock = () => new Date()) {
    this.#db = db;
    this.#dialect = dialect;
    this.#now = now;
  }

  /** Unfinished jobs (pending or running) by kind, with the creation time of the oldest. */
  async backlog(): Promise<Array<{ kind: string; count: number; oldestCreatedAt: Date }>> {
    const rows = await this.#db
      .selectFrom('jobs')
      .select(['kind', (eb) => eb.fn.countAll<string | number | bigint>().as('count'), (eb) => eb.fn.min('created_at').as('oldest')])
      .where('state', 'in', ['pending', 'running'])
      .groupBy('kind')
      .execute();
    return rows.map((row) => ({ kind: row.kind, count: Number(row.count), oldestCreatedAt: new Date(row.oldest) }));
  }

  /** Adds a job; with a `dedupeKey` already unfinished, returns that job's id instead. */
  async add(kind: string, params: unknown, options: NewJobOptions = {}): Promise<string> {
    const now = iso(this.#now());
    const id = newId();
    try {
      await this.#db
        .insertInto('jobs')
        .values({
          id,
          kind,
          params: JSON.stringify(params ?? {}),
          dedupe_key: options.dedupeKey ?? null,
          lock_key: options.lockKey ?? null,
          state: 'pending',
          run_at: iso(options.runAt ?? this.#now()),
          attempts: 0,
          max_attempts: options.maxAttempts ?? 5,
          locked_by: null,
          locked_until: null,
          last_error: null,
          created_at: now,
          updated_at: now,
        })
        .execute();
    } catch (error) {
      if (!isUniqueViolation(error) || options.dedupeKey === undefined) throw error;
      const existing = await this.#db
        .selectFrom('jobs')
        .select('id')
        .where('dedupe_key', '=', options.dedupeKey)
        .where('state', 'in', ['pending', 'running'])
        .executeTakeFirst();
      if (existing) return existing.id;
      return this.add(kind, params, options);
    }
    for (const wake of this.#added) wake();
    return id;
  }

  /** Claims the next runnable job of these kinds for `workerId` with a lease of `leaseMs`. */
  async claim(workerId: string, leaseMs: number, kinds: readonly string[]): Promise<Job | undefined> {
    if (kinds.length === 0) return undefined;
    const now = this.#now();
    try {
      const row = await claimJob(this.#db, this.#dialect, workerId, iso(now), iso(new Date(now.getTime() + leaseMs)), kinds);
      return row && jobOf(row);
    } catch (error) {
      // Another worker claimed a job of the same lock key at the same moment (PostgreSQL): the unique
      // index on running lock keys refused ours. Nothing runnable for us right now.
      if (isUniqueViolation(error)) return undefined;
      throw error;
    }
  }

  /** Renews a lease; false when the worker lost it (another worker reclaimed the job). */
  async renew(id: string, workerId: string, leaseMs: number): Promise<boolean> {
    const result = await this.#db
      .updateTable('jobs')
      .set({ locked_until: iso(new Date(this.#now().getTime() + leaseMs)) })
      .where('id', '=', id)
      .where('locked_by', '=', workerId)
      .where('state', '=', 'running')
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Marks a job done; false when this worker no longer holds it. */
  async complete(id: string, workerId: string): Promise<boolean> {
    const result = await this.#db
      .updateTable('jobs')
      .set({ state: 'completed', locked_by: null, locked_until: null, updated_at: iso(this.#now()) })
      .where('id', '=', id)
      .where('locked_by', '=', workerId)
      .where('state', '=', 'running')
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * Records a failed attempt: the job runs again after `retryInMs`, or fails for good when its attempts
   * are used up or `retryInMs` is null. Returns the job's new state.
   */
  async fail(id: string, workerId: string, message: string, retryInMs: number | null): Promise<JobState | undefined> {
    const row = await this.#db.selectFrom('jobs').selectAll().where('id', '=', id).where('locked_by', '=', workerId).executeTakeFirst();
    if (!row || row.state !== 'running') return undefined;
    const now = this.#now();
    const giveUp = retryInMs === null || Number(row.attempts) >= Number(row.max_attempts);
    const state: JobState = giveUp ? 'failed' : 'pending';
    await this.#db
      .updateTable('jobs')
      .set({
        state,
        last_error: message,
        run_at: giveUp ? row.run_at : iso(new Date(now.getTime() + (retryInMs ?? 0))),
        locked_by: null,
        locked_until: null,
        updated_at: iso(now),
      })
      .where('id', '=', id)
      .where('locked_by', '=', workerId)
      .execute();
    return state;
  }

  /** A job by id. */
  async byId(id: string): Promise<Job | undefined> {
    const row = await this.#db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && jobOf(row);
  }

  /** Calls `wake` whenever this process adds a job (workers then poll at once). */
  onAdded(wake: () => void): () => void {
    this.#added.add(wake);
    return () => this.#added.delete(wake);
  }
}
