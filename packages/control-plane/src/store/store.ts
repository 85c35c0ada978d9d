/**
 * The control plane's store: one object per kind of record over one Kysely database, migrated on
 * open. Changes to a server's session or tasks are announced on `changes` (for live events).
 */
import { BootCredentialStore } from './boot-credentials.js';
import type { RescueDeadlines } from '@lifeboat/core';
import type { SecretBox } from '../credentials/secret-box.js';
import { ChangeFeed } from './change-feed.js';
import { ConsoleLogStore } from './console-logs.js';
import { DoctorStore } from './doctor-reports.js';
import { openDatabase, type DialectName, type OpenDatabase } from './database.js';
import { HardwareTestStore } from './hardware-tests.js';
import { migrate } from './migrations.js';
import { RateLimitHits } from './rate-limit-hits.js';
import { AgentWorkQueue, AuditLog } from './records.js';
import { IncidentStore } from './incidents.js';
import type { Clock } from './rows.js';
import { SecretStore } from './secrets.js';
import { ServerStore } from './servers.js';
import { SessionStore } from './sessions.js';
import { SshKeyStore } from './ssh-keys.js';
import { TaskStore } from './tasks.js';
import { TenantStore, TokenStore } from './tenants.js';
import { BrowserSessionStore, SignInFailures, UserStore } from './users.js';

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

export { ChangeFeed };

/** Every record of the control plane. */
export class Store {
  readonly database: OpenDatabase;
  readonly now: Clock;
  /** Announces changes of a server's session or tasks (across replicas on PostgreSQL). */
  readonly changes: ChangeFeed;
  readonly tenants: TenantStore;
  readonly tokens: TokenStore;
  /** People who sign in with a password. */
  readonly users: UserStore;
  /** Browser sessions of signed-in users. */
  readonly browserSessions: BrowserSessionStore;
  /** Failed sign-ins, for the rate limit. */
  readonly signInFailures: SignInFailures;
  readonly servers: ServerStore;
  readonly sessions: SessionStore;
  readonly tasks: TaskStore;
  readonly audit: AuditLog;
  readonly incidents: IncidentStore;
  /** The hardware tests an incident may attach. */
  readonly agentWork: AgentWorkQueue;
  readonly secrets: SecretStore;
  /** Hardware tests run in rescue, kept as the server's history. */
  readonly hardwareTests: HardwareTestStore;
  /** SSH public keys per tenant, and staff keys. */
  readonly sshKeys: SshKeyStore;
  /** Console output recorded while sessions entered and left rescue. */
  readonly consoleLogs: ConsoleLogStore;
  /** Rescues' boot credentials (bound to the address that fetched the script) and refused boot requests. */
  readonly bootCredentials: BootCredentialStore;
  /** Requests counted against the rate limits, shared by the replicas (used on PostgreSQL). */
  readonly rateLimitHits: RateLimitHits;
  /** The rescue doctor's reports and fixes (issue 15). */
  readonly doctor: DoctorStore;

  private constructor(database: OpenDatabase, options: StoreOptions) {
    this.database = database;
    this.now = options.now ?? (() => new Date());
    const { db } = database;
    this.changes = database.dialect === 'postgres' ? new ChangeFeed({ db, url: options.databaseUrl }) : new ChangeFeed();
    const changed = (serverId: string) => this.changes.changed(serverId);
    this.tenants = new TenantStore(db, this.now);
    this.tokens = new TokenStore(db, this.now, (tokenId) => this.changes.tokenRevoked(tokenId));
    this.users = new UserStore(db, this.now);
    this.browserSessions = new BrowserSessionStore(db, this.now);
    this.signInFailures = new SignInFailures(db, this.now);
    this.servers = new ServerStore(db, this.now, options.secretBox);
    this.sessions = new SessionStore(db, this.now, options.deadlines, changed);
    this.tasks = new TaskStore(db, database.dialect, this.now, changed);
    this.audit = new AuditLog(db, this.now);
    this.incidents = new IncidentStore(db, this.now);
    this.agentWork = new AgentWorkQueue(db, this.now);
    this.secrets = new SecretStore(db, this.now, options.secretBox);
    this.sshKeys = new SshKeyStore(db, this.now);
    this.hardwareTests = new HardwareTestStore(db, this.now, (testId) => this.changes.testChanged(testId));
    this.consoleLogs = new ConsoleLogStore(db, this.now);
    this.bootCredentials = new BootCredentialStore(db, this.now, options.secretBox, changed);
    this.rateLimitHits = new RateLimitHits(db, this.now);
    this.doctor = new DoctorStore(db, this.now, (serverId) => this.changes.doctorChanged(serverId));
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
    const store = new Store(database, options);
    try {
      await store.changes.ready();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  /** The SQL dialect in use. */
  get dialect(): DialectName {
    return this.database.dialect;
  }

  /** Closes the database. */
  async close(): Promise<void> {
    await this.changes.close();
    await this.database.close();
  }
}
