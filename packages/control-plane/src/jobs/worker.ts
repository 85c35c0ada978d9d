/**
 * Runs jobs: claims one, keeps its lease alive while the handler works, then completes it or schedules
 * a retry with exponential backoff. A handler that throws a `LifeboatError` whose status is 4xx, or a
 * `PermanentJobError`, fails for good (retrying cannot fix a bad request); anything else is retried.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { LifeboatError } from '@lifeboat/core';
import { backoffDelay, type Backoff, type Job, type JobQueue } from './job-queue.js';

/**
 * Thrown by a handler to fail its job for good now, whatever the error it wraps (whose message it
 * keeps): e.g. a BMC that refused the credentials twice in a row, which retrying cannot fix.
 */
export class PermanentJobError extends LifeboatError {
  constructor(cause: Error) {
    super(cause instanceof LifeboatError ? cause.code : 'INTERNAL', cause.message, { cause, ...(cause instanceof LifeboatError ? { status: cause.status } : {}) });
    this.name = 'PermanentJobError';
  }
}

/** What a handler gets: the job and a signal aborted on shutdown or when the lease is lost. */
export interface JobContext {
  readonly job: Job;
  readonly signal: AbortSignal;
}

/** Does the work of one kind of job; must be idempotent (it may run again after a crash). */
export type JobHandler = (context: JobContext) => Promise<void>;

/** Called when a job fails for good, to record the failure where users see it. */
export type GiveUpHandler = (job: Job, error: unknown) => Promise<void>;

/** The logging a worker needs. */
export interface WorkerLog {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

/** A worker's settings. */
export interface WorkerOptions {
  readonly queue: JobQueue;
  readonly handlers: Readonly<Record<string, JobHandler>>;
  /** Called per kind when a job fails for good. */
  readonly onGiveUp?: Readonly<Record<string, GiveUpHandler>>;
  readonly leaseMs: number;
  readonly backoff: Backoff;
  /** How often an idle worker looks for work (jobs added in this process wake it at once). */
  readonly pollMs: number;
  /** How many jobs run at once. */
  readonly concurrency?: number;
  readonly log: WorkerLog;
  /** What `jobs.locked_by` shows (default `HOST:PID:RANDOM`: an operator sees which replica holds a job). */
  readonly workerId?: string;
}

/** Claims and runs jobs until stopped. */
export class Worker {
  readonly id: string;
  readonly #options: WorkerOptions;
  readonly #running = new Set<Promise<void>>();
  readonly #runningIds = new Set<string>();
  #wake: (() => void) | undefined;

  constructor(options: WorkerOptions) {
    this.#options = options;
    this.id = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  /** Runs until `signal` aborts, then waits for jobs in progress to stop. */
  async run(signal: AbortSignal): Promise<void> {
    const limit = this.#options.concurrency ?? 4;
    const unsubscribe = this.#options.queue.onAdded(() => this.#wake?.());
    try {
      while (!signal.aborted) {
        let claimed = false;
        if (this.#running.size < limit) {
          try {
            claimed = await this.#startOne(signal);
          } catch (error) {
            this.#options.log.error({ err: error }, 'could not claim a job');
          }
        }
        if (!claimed || this.#running.size >= limit) await this.#idle(signal);
      }
    } finally {
      unsubscribe();
      await Promise.allSettled([...this.#running]);
    }
  }

  /** Claims and runs one job to its end; false when none was runnable. For tests and tools. */
  async runOnce(signal: AbortSignal = new AbortController().signal): Promise<boolean> {
    const job = await this.#options.queue.claim(this.id, this.#options.leaseMs, Object.keys(this.#options.handlers));
    if (!job) return false;
    await this.#execute(job, signal);
    return true;
  }

  async #startOne(signal: AbortSignal): Promise<boolean> {
    const job = await this.#options.queue.claim(this.id, this.#options.leaseMs, Object.keys(this.#options.handlers));
    if (!job) return false;
    // Its lease expired while this worker still runs it (the database was unreachable, so the lease
    // could not be renewed): the claim renewed the lease; the run in progress goes on, never a second.
    if (this.#runningIds.has(job.id)) return false;
    this.#runningIds.add(job.id);
    const running = this.#execute(job, signal).finally(() => {
      this.#running.delete(running);
      this.#runningIds.delete(job.id);
      this.#wake?.();
    });
    this.#running.add(running);
    return true;
  }

  #idle(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.#options.pollMs);
      signal.addEventListener('abort', done, { once: true });
      this.#wake = done;
    });
  }

  /**
   * Runs one job and records how it ended. Never rejects: when even the record fails (the database
   * cannot be reached), the job keeps its lease until it expires and is then claimed again.
   */
  async #execute(job: Job, signal: AbortSignal): Promise<void> {
    try {
      await this.#attempt(job, signal);
    } catch (error) {
      this.#options.log.error({ job: job.id, kind: job.kind, err: error }, 'could not record the end of a job; it resumes once its lease expires');
    }
  }

  async #attempt(job: Job, signal: AbortSignal): Promise<void> {
    const { queue, handlers, leaseMs, log } = this.#options;
    const handler = handlers[job.kind];
    if (!handler) return;
    const lost = new AbortController();
    const jobSignal = AbortSignal.any([signal, lost.signal]);
    // Renew the lease at a third of its length so a slow BMC does not let another worker take over.
    const renewal = setInterval(() => {
      queue.renew(job.id, this.id, leaseMs).then(
        (held) => {
          if (!held) lost.abort(new Error('lease lost'));
        },
        () => {},
      );
    }, Math.max(50, Math.floor(leaseMs / 3)));
    try {
      log.info({ job: job.id, kind: job.kind, attempt: job.attempts }, 'job started');
      await handler({ job, signal: jobSignal });
      await queue.complete(job.id, this.id);
      log.info({ job: job.id, kind: job.kind }, 'job completed');
    } catch (error) {
      if (signal.aborted) {
        // Shutting down: leave the lease to expire so that another worker (or our restart) resumes it.
        log.warn({ job: job.id, kind: job.kind }, 'job interrupted by shutdown');
        return;
      }
      const permanent = (error instanceof LifeboatError && error.status < 500) || error instanceof PermanentJobError;
      const message = error instanceof Error ? error.message : String(error);
      const retryInMs = permanent ? null : backoffDelay(this.#options.backoff, job.attempts);
      if ((retryInMs === null || job.attempts >= job.maxAttempts) && !lost.signal.aborted) {
        // The last attempt: give up while the job still holds its lease and its lock key, so that what
        // the give-up handler does (a rollback through the BMC) never runs beside the next job of the
        // same server.
        await this.#options.onGiveUp?.[job.kind]?.(job, error).catch((e: unknown) => log.error({ err: e }, 'recording a failed job failed'));
      }
      const state = await queue.fail(job.id, this.id, message, retryInMs);
      if (state === 'failed') {
        log.error({ job: job.id, kind: job.kind, attempts: job.attempts, message }, 'job failed for good');
      } else {
        log.warn({ job: job.id, kind: job.kind, attempt: job.attempts, message }, 'job failed, will retry');
      }
    } finally {
      clearInterval(renewal);
    }
  }
}
