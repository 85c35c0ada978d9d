/**
 * Announces that a server's session or tasks changed, for live events. On SQLite (one process) an
 * in-process emitter is enough. On PostgreSQL several replicas share the database, so a change is sent
 * with `NOTIFY lifeboat_changes` and every replica (this one included) hears it through a dedicated
 * `LISTEN` connection: an event stream sees the changes made by any replica.
 */
import { EventEmitter } from 'node:events';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

const channel = 'lifeboat_changes';

/**
 * Emits `server` with a server id whenever its session or tasks change, `test` with a hardware test's
 * id when it changes, `token` with an API token's id when it is revoked (its holder's streams end),
 * `doctor` with a server id when its rescue doctor's report or fixes change.
 */
export class ChangeFeed extends EventEmitter<{ server: [serverId: string]; test: [testId: string]; token: [tokenId: string]; doctor: [serverId: string] }> {
  readonly #db: Kysely<Database> | undefined;
  #listener: pg.Client | undefined;
  #closed = false;
  #ready: Promise<void> = Promise.resolve();

  /** In-process only (`db` undefined), or through PostgreSQL's NOTIFY when given a database URL. */
  constructor(postgres?: { db: Kysely<Database>; url: string }) {
    super();
    this.setMaxListeners(0);
    this.#db = postgres?.db;
    if (postgres) this.#ready = this.#listen(postgres.url);
  }

  /** Resolves once notifications are being received. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** Announces a change (never throws: live events are best effort, the database is the truth). */
  changed(serverId: string): void {
    if (!this.#db) {
      this.emit('server', serverId);
      return;
    }
    sql`select pg_notify(${channel}, ${serverId})`.execute(this.#db).catch(() => this.emit('server', serverId));
  }

  /** Announces a change of a hardware test (sent as `test:ID`: server ids are UUIDs, never prefixed). */
  testChanged(testId: string): void {
    if (!this.#db) {
      this.emit('test', testId);
      return;
    }
    sql`select pg_notify(${channel}, ${`test:${testId}`})`.execute(this.#db).catch(() => this.emit('test', testId));
  }

  /** Announces a change of a server's doctor report or fixes (sent as `doctor:ID`). */
  doctorChanged(serverId: string): void {
    if (!this.#db) {
      this.emit('doctor', serverId);
      return;
    }
    sql`select pg_notify(${channel}, ${`doctor:${serverId}`})`.execute(this.#db).catch(() => this.emit('doctor', serverId));
  }

  /** Announces that an API token was revoked (sent as `token:ID`). */
  tokenRevoked(tokenId: string): void {
    if (!this.#db) {
      this.emit('token', tokenId);
      return;
    }
    sql`select pg_notify(${channel}, ${`token:${tokenId}`})`.execute(this.#db).catch(() => this.emit('token', tokenId));
  }

  /**
   * Listens on a dedicated connection; when it drops (or cannot be made: the database is down), tries
   * again every second until it is back. A notification sent while it was down is lost (the database
   * came back before this listener did, or another replica wrote meanwhile): once listening again,
   * every server whose rescue session changed since the drop is announced anew, so streams show the
   * state they missed.
   */
  async #listen(url: string, droppedAt?: Date): Promise<void> {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    let dropped = false;
    const again = () => {
      if (dropped || this.#closed) return;
      dropped = true;
      if (this.#listener === client) this.#listener = undefined;
      client.end().catch(() => {});
      const since = droppedAt ?? new Date();
      setTimeout(() => {
        if (!this.#closed) this.#ready = this.#listen(url, since).catch(() => {});
      }, 1000).unref();
    };
    client.on('notification', (message) => {
      if (message.channel !== channel || !message.payload) return;
      if (message.payload.startsWith('test:')) this.emit('test', message.payload.slice(5));
      else if (message.payload.startsWith('token:')) this.emit('token', message.payload.slice(6));
      else if (message.payload.startsWith('doctor:')) this.emit('doctor', message.payload.slice(7));
      else this.emit('server', message.payload);
    });
    client.on('error', again);
    client.on('end', again);
    try {
      await client.connect();
      await client.query(`LISTEN ${channel}`);
    } catch (error) {
      again();
      throw error;
    }
    if (this.#closed) await client.end().catch(() => {});
    else this.#listener = client;
    if (droppedAt !== undefined && this.#db) await this.#replay(droppedAt);
  }

  /** Announces, in this process, each server whose rescue session changed since `since` (a little before, for clock steps). */
  async #replay(since: Date): Promise<void> {
    const from = new Date(since.getTime() - 5000).toISOString();
    const rows = await this.#db!.selectFrom('rescue_sessions').select('server_id').distinct().where('updated_at', '>=', from).execute().catch(() => []);
    for (const row of rows) this.emit('server', row.server_id);
  }

  /** Stops listening. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#ready.catch(() => {});
    await this.#listener?.end().catch(() => {});
  }
}
