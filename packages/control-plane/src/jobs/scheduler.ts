/**
 * Enforces deadlines: every waiting state of a rescue session has one (core's `deadlineFor`), and when
 * it passes the scheduler enqueues a `session.deadline` job (deduplicated per session and state, so
 * that several replicas ticking at once enqueue it once). It also enqueues lease-end warnings, and
 * settles hardware tests left running by a rescue that ended or an agent that fell silent.
 * The handlers live with the rescue flow.
 */
import type { Store } from '../store/store.js';
import { serverLockKey, type JobQueue } from './job-queue.js';

/** Job kinds the scheduler enqueues. */
export const deadlineJob = 'session.deadline';
export const expiryWarningJob = 'session.expiry_warning';

/** States whose deadline rolls the server back through its BMC (to disk boot). */
const rollsBack: ReadonlySet<string> = new Set(['rescue_requested', 'preparing_rescue']);

/** Parameters of a `session.deadline` job. */
export interface DeadlineParams {
  readonly sessionId: string;
  /** The state whose deadline passed; the handler does nothing if the session has moved on. */
  readonly state: string;
}

/** Scheduler settings. */
export interface SchedulerOptions {
  readonly store: Store;
  readonly queue: JobQueue;
  /** How often to look for passed deadlines. */
  readonly intervalMs: number;
  /** Warn this long before a lease ends (0: never). */
  readonly warnBeforeMs: number;
  readonly log: { error(object: object, message: string): void };
}

/** Looks for passed deadlines on an interval. */
export class DeadlineScheduler {
  readonly #options: SchedulerOptions;

  constructor(options: SchedulerOptions) {
    this.#options = options;
  }

  /** One pass: enqueues a job per passed deadline and per lease about to end. Returns how many. */
  async tick(): Promise<number> {
    const { store, queue, warnBeforeMs } = this.#options;
    const now = store.now();
    let queued = 0;
    for (const session of await store.sessions.pastDeadline(now)) {
      const params: DeadlineParams = { sessionId: session.id, state: session.state };
      // A rollback acts on the BMC: it waits for (never interleaves with) the server's running job. The
      // other deadlines only move the session (and must not wait: the exit job polls for their result).
      const lockKey = rollsBack.has(session.state) ? { lockKey: serverLockKey(session.serverId) } : {};
      await queue.add(deadlineJob, params, { dedupeKey: `deadline:${session.id}:${session.state}`, ...lockKey, maxAttempts: 10 });
      queued++;
    }
    // Hardware tests whose rescue ended, or whose agent fell silent, get their verdict here: the
    // scheduler already ticks on every replica, and a settle is one conditional update per test.
    await store.hardwareTests.settleOrphans(now);
    if (warnBeforeMs > 0) {
      for (const session of await store.sessions.takeExpiryWarnings(new Date(now.getTime() + warnBeforeMs))) {
        await queue.add(expiryWarningJob, { sessionId: session.id }, { dedupeKey: `warn:${session.id}` });
        queued++;
      }
    }
    return queued;
  }

  /** Ticks until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.tick();
      } catch (error) {
        this.#options.log.error({ err: error }, 'deadline scheduler tick failed');
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.#options.intervalMs);
        function done() {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        }
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }
}
