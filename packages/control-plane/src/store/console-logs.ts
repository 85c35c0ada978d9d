/**
 * The console output recorded while a rescue session entered and left rescue: the last bytes only
 * (the recorder bounds them), one row per session, rewritten as the recorder flushes.
 */
import type { Kysely } from 'kysely';
import type { ConsoleLogRow, Database } from './schema.js';
import { iso, type Clock } from './rows.js';

/** A session's recorded console output. */
export interface ConsoleLog {
  readonly sessionId: string;
  readonly serverId: string;
  /** The kept bytes, oldest first. */
  readonly data: Buffer;
  /** Earlier bytes dropped to keep the bound. */
  readonly dropped: number;
  readonly startedAt: Date;
  readonly updatedAt: Date;
}

/** Console logs by session. */
export class ConsoleLogStore {
  readonly #db: Kysely<Database>;
  readonly #now: Clock;

  constructor(db: Kysely<Database>, now: Clock) {
    this.#db = db;
    this.#now = now;
  }

  /** Stores (or replaces) a session's log with the bytes kept now. */
  async save(log: { sessionId: string; serverId: string; data: Buffer; dropped: number; startedAt: Date }): Promise<void> {
    const row = {
      data: log.data.toString('base64'),
      bytes: log.data.length,
      dropped: log.dropped,
      updated_at: iso(this.#now()),
    };
    await this.#db
      .insertInto('console_logs')
      .values({ session_id: log.sessionId, server_id: log.serverId, started_at: iso(log.startedAt), ...row })
      .onConflict((conflict) => conflict.column('session_id').doUpdateSet(row))
      .execute();
  }

  /** A session's log, or undefined when nothing was recorded. */
  async forSession(sessionId: string): Promise<ConsoleLog | undefined> {
    const row = await this.#db.selectFrom('console_logs').selectAll().where('session_id', '=', sessionId).executeTakeFirst();
    return row && logOf(row);
  }

  /** The server's most recently started log, or undefined. */
  async latestFor(serverId: string): Promise<ConsoleLog | undefined> {
    const row = await this.#db
      .selectFrom('console_logs')
      .selectAll()
      .where('server_id', '=', serverId)
      .orderBy('started_at', 'desc')
      .orderBy('updated_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && logOf(row);
  }
}

function logOf(row: ConsoleLogRow): ConsoleLog {
  return {
    sessionId: row.session_id,
    serverId: row.server_id,
    data: Buffer.from(row.data, 'base64'),
    dropped: Number(row.dropped),
    startedAt: new Date(row.started_at),
    updatedAt: new Date(row.updated_at),
  };
}
