/**
 * Opens the database a URL names: `sqlite:PATH` (or a bare path) through better-sqlite3, or
 * `postgres://...` through pg. Everything above this file is dialect-free except the few SQL
 * statements that must differ (job claims), which ask `dialect`.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

/** The SQL dialects Lifeboat runs on. */
export type DialectName = 'sqlite' | 'postgres';

/** An open database. */
export interface OpenDatabase {
  readonly db: Kysely<Database>;
  readonly dialect: DialectName;
  /** Closes every connection. */
  close(): Promise<void>;
}

/** How long a new PostgreSQL connection may take before the query that needed it fails. */
const connectTimeoutMs = 5000;

/** A PostgreSQL client whose connection attempt fails after {@link connectTimeoutMs}. */
class ClientWithConnectTimeout extends pg.Client {
  constructor(config: pg.ClientConfig = {}) {
    super({ ...config, connectionTimeoutMillis: connectTimeoutMs });
  }
}

/** Network errors (Node's, on the socket to PostgreSQL). */
const networkCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Whether an error means the database cannot be reached (rather than a bad query): a refused or cut
 * connection, a connection timeout, or PostgreSQL's SQLSTATE class 08 (connection exception) and
 * 57P01-57P03 (shutting down, starting up).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (networkCodes.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code))) return true;
  return typeof message === 'string' && /^(Connection terminated|timeout exceeded when trying to connect|timeout expired|Client has encountered a connection error|Connection terminated unexpectedly)/.test(message);
}

/** Which dialect a database URL names. */
export function dialectOf(url: string): DialectName {
  return /^postgres(ql)?:\/\//.test(url) ? 'postgres' : 'sqlite';
}

/** Opens (and for SQLite creates) the database at `url`. Does not migrate. */
export function openDatabase(url: string): OpenDatabase {
  if (dialectOf(url) === 'postgres') {
    // A connection that cannot be made within 5 s fails the query (DATABASE_UNAVAILABLE), never hangs.
    // That timeout belongs to the connection, not to the pool: pg-pool's own `connectionTimeoutMillis`
    // also bounds the wait for a free client, so a busy control plane (1,000 enters at once on ten
    // clients) answered 503 DATABASE_UNAVAILABLE to a database that was up. A request waits for a free
    // client as long as it takes; with the database down, every client fails fast and so do the waits.
    const pool = new pg.Pool({ connectionString: url, max: 10, Client: ClientWithConnectTimeout, connectionTimeoutMillis: 0 });
    // A client's network error must not crash the process, whether the client is idle (the pool's
    // 'error') or checked out between two queries (its own 'error', e.g. inside a transaction): the
    // query that uses it reports it, and the pool drops a client that is no longer usable.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, dialect: 'postgres', close: () => db.destroy() };
  }
  const file = resolve(url.replace(/^sqlite:(\/\/)?/, ''));
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  ownerOnly(file);
  const sqlite = new SqliteDatabase(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  return { db, dialect: 'sqlite', close: () => db.destroy() };
}

/**
 * Makes the SQLite file (sealed secrets, token hashes, the audit) readable by its owner only: created
 * 0600 before SQLite opens it, and an older 0644 one tightened. SQLite gives the `-wal` and `-shm` files
 * it creates the database file's mode; ones left by an older run are tightened too.
 */
function ownerOnly(file: string): void {
  closeSync(openSync(file, 'a', 0o600));
  for (const path of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(path)) chmodSync(path, 0o600);
}
