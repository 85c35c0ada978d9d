/**
 * The control plane's store: one object per kind of record over one Kysely database, migrated on
 * open. Changes to a server's session or tasks are announced on `changes` (for live events).
 */
import { EventEmitter } from 'node:events';
import type { RescueDeadlines } from '@lifeboat/core';
import type { SecretBox } from '../credentials/secret-box.js';
import { openDatabase, type DialectName, type OpenDatabase } from './database.js';
import { migrate } from './migrations.js';
import { AgentWorkQueue, AuditLog, IncidentStore } from './records.js';
import type { Clock } from './rows.js';
import { SecretStore } from './secrets.js';
import { ServerStore } from './servers.js';
import { SessionStore } from './sessions.js';
import { TaskStore } from './tasks.js';
import { TenantStore, TokenStore } from './tenants.js';

/** What a store needs besides the database. */
export interface StoreOptions {
  /** `sqlite:PATH`, a path, or `postgres://...`. */
  readonly databaseUrl: string;
  /** Seals BMC passwords. */
  readonly secretBox: SecretBox;
  /** Deadlines of the rescue states. */
  readonly deadlines: RescueDeadlines;
  /** Defaults to the wall clock. */
  readonly now?: Clock;
}

/** Announces `server` events with a server id whenever its session or tasks change. */
export type ChangeFeed = EventEmitter<{ server: [serverId: string] }>;

/** Every record of the control plane. */
export class Store {
  readonly database: OpenDatabase;
  readonly now: Clock;
  readonly changes: ChangeFeed = new EventEmitter();
  readonly tenants: TenantStore;
  readonly tokens: TokenStore;
  readonly servers: ServerStore;
  readonly sessions: SessionStore;
  readonly tasks: TaskStore;
  readonly audit: AuditLog;
  readonly incidents: IncidentStore;
  readonly agentWork: AgentWorkQueue;
  readonly secrets: SecretStore;

  private constructor(database: OpenDatabase, options: StoreOptions) {
    this.database = database;
    this.now = options.now ?? (() => new Date());
    this.changes.setMaxListeners(0);
    const changed = (serverId: string) => this.changes.emit('server', serverId);
    const { db } = database;
    this.tenants = new TenantStore(db, this.now);
    this.tokens = new TokenStore(db, this.now);
    this.servers = new ServerStore(db, this.now, options.secretBox);
    this.sessions = new SessionStore(db, this.now, options.deadlines, changed);
    this.tasks = new TaskStore(db, database.dialect, this.now, changed);
    this.audit = new AuditLog(db, this.now);
    this.incidents = new IncidentStore(db, this.now);
    this.agentWork = new AgentWorkQueue(db, this.now);
    this.secrets = new SecretStore(db, this.now, options.secretBox);
  }

  /** Opens and migrates the database. */
  static async open(options: StoreOptions): Promise<Store> {
    const database = openDatabase(options.databaseUrl);
    try {
      await migrate(database.db as never);
    } catch (error) {
      await database.close();
      throw error;
    }
    return new Store(database, options);
  }

  /** The SQL dialect in use. */
  get dialect(): DialectName {
    return this.database.dialect;
  }

  /** Closes the database. */
  async close(): Promise<void> {
    await this.database.close();
  }
}
