/**
 * Requests counted per rate limit, key and fixed window, in the database: every replica on one
 * PostgreSQL spends the same budget (issue 14, "Scale"). One upsert per counted request; rows of
 * windows that ended are deleted at most once a minute per replica.
 */
import { sql, type Kysely } from 'kysely';
import { iso, type Clock } from './rows.js';
import type { Database } from './schema.js';

/** A fixed window of a limit. */
export interface RateWindow {
  readonly start: Date;
  readonly end: Date;
}

/** How often ended windows are swept away (per replica). */
const sweepEveryMs = 60_000;

/** The `rate_limit_hits` table. */
export class RateLimitHits {
  readonly #db: Kysely<Database>;
  readonly #now: Clock;
  #lastSweep = 0;

  constructor(db: Kysely<Database>, now: Clock) {
    this.#db = db;
    this.#now = now;
  }

  /** Counts one request of `key` against `limitName` in `window`; resolves to the window's count with it. */
  async add(limitName: string, key: string, window: RateWindow): Promise<number> {
    const row = await this.#db
      .insertInto('rate_limit_hits')
      .values({ limit_name: limitName, key, window_start: iso(window.start), window_end: iso(window.end), hits: 1 })
      .onConflict((conflict) => conflict.columns(['limit_name', 'key', 'window_start']).doUpdateSet({ hits: sql<number>`rate_limit_hits.hits + 1` }))
      .returning('hits')
      .executeTakeFirstOrThrow();
    this.#sweepNowAndThen();
    return Number(row.hits);
  }

  /** The requests `key` made against `limitName` in `window` so far. */
  async count(limitName: string, key: string, window: RateWindow): Promise<number> {
    const row = await this.#db
      .selectFrom('rate_limit_hits')
      .select('hits')
      .where('limit_name', '=', limitName)
      .where('key', '=', key)
      .where('window_start', '=', iso(window.start))
      .executeTakeFirst();
    return row === undefined ? 0 : Number(row.hits);
  }

  /** Deletes the rows of windows that ended; resolves to how many. */
  async deleteEnded(): Promise<number> {
    const result = await this.#db.deleteFrom('rate_limit_hits').where('window_end', '<=', iso(this.#now())).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  #sweepNowAndThen(): void {
    const now = this.#now().getTime();
    if (now - this.#lastSweep < sweepEveryMs) return;
    this.#lastSweep = now;
    // Best effort: a failed sweep leaves rows for the next one, and never fails a request.
    this.deleteEnded().catch(() => {});
  }
}
