/**
 * One set of migrations for both dialects, in code (no files to find at run time). Only portable
 * column types: text, integer, and ISO-8601 text for times.
 */
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

const migrations: Record<string, Migration> = {
  '0001_initial': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('tenants')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('email', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('api_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('tenant_id', 'text', (c) => c.references('tenants.id').onDelete('cascade'))
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .execute();
      await db.schema
        .createTable('secrets')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('sealed', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('servers')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('bmc_driver', 'text', (c) => c.notNull())
        .addColumn('bmc_url', 'text', (c) => c.notNull())
        .addColumn('bmc_user', 'text', (c) => c.notNull())
        .addColumn('bmc_credentials_ref', 'text')
        .addColumn('ssh_host', 'text')
        .addColumn('ssh_port', 'integer')
        .addColumn('profiles', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('server_macs')
        .addColumn('mac', 'text', (c) => c.primaryKey())
        .addColumn('server_id', 'text', (c) => c.notNull().references('servers.id').onDelete('cascade'))
        .execute();
      await db.schema
        .createTable('rescue_sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('server_id', 'text', (c) => c.notNull().references('servers.id').onDelete('cascade'))
        .addColumn('profile', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('email', 'text')
        .addColumn('ssh_keys', 'text', (c) => c.notNull())
        .addColumn('password_hash', 'text')
        .addColumn('password_login', 'integer', (c) => c.notNull())
        .addColumn('host_keys', 'text', (c) => c.notNull())
        .addColumn('inventory', 'text')
        .addColumn('boot_token_hash', 'text')
        .addColumn('agent_token_hash', 'text')
        .addColumn('agent_token_revoked_at', 'text')
        .addColumn('deadline_at', 'text')
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('warned_at', 'text')
        .addColumn('last_heartbeat_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('ended_at', 'text')
        .addColumn('requested_by', 'text')
        .execute();
      // At most one open session per server, enforced by the database, not by a check-then-insert.
      await db.schema
        .createIndex('rescue_sessions_one_open')
        .on('rescue_sessions')
        .column('server_id')
        .unique()
        .where(sql.ref('ended_at'), 'is', null)
        .execute();
      await db.schema.createIndex('rescue_sessions_deadline').on('rescue_sessions').column('deadline_at').execute();
      await db.schema
        .createTable('tasks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('server_id', 'text', (c) => c.notNull().references('servers.id').onDelete('cascade'))
        .addColumn('session_id', 'text')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('steps', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('ended_at', 'text')
        .execute();
      await db.schema.createIndex('tasks_server').on('tasks').columns(['server_id', 'created_at']).execute();
      await db.schema
        .createTable('jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('dedupe_key', 'text')
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('run_at', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('max_attempts', 'integer', (c) => c.notNull())
        .addColumn('locked_by', 'text')
        .addColumn('locked_until', 'text')
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('jobs_runnable').on('jobs').columns(['state', 'run_at']).execute();
      await db.schema
        .createIndex('jobs_one_unfinished_per_key')
        .on('jobs')
        .column('dedupe_key')
        .unique()
        .where(sql<boolean>`state in ('pending', 'running')`)
        .execute();
      await db.schema
        .createTable('agent_work')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('session_id', 'text', (c) => c.notNull().references('rescue_sessions.id').onDelete('cascade'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('result', 'text')
        .addColumn('message', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('incidents')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('server_id', 'text', (c) => c.notNull().references('servers.id').onDelete('cascade'))
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('detail', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attachment', 'text')
        .addColumn('created_by', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('audit_events')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('tenant_id', 'text')
        .addColumn('server_id', 'text')
        .addColumn('detail', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_events_at').on('audit_events').column('at').execute();
    },
  },
  '0002_server_lock_and_netboot': {
    async up(db: Kysely<unknown>) {
      // Jobs that act on a server's BMC carry `server:<id>`: a worker never claims a job whose key
      // another running job holds. The partial unique index makes that a guarantee of the database,
      // not only of the claim's NOT EXISTS (two PostgreSQL claims racing under READ COMMITTED could
      // both pass it; the second then fails on the index instead of running).
      await db.schema.alterTable('jobs').addColumn('lock_key', 'text').execute();
      await db.schema
        .createIndex('jobs_one_running_per_lock')
        .on('jobs')
        .column('lock_key')
        .unique()
        .where(sql<boolean>`state = 'running'`)
        .execute();
      // What the netboot server answers this session's MAC: `rescue` from the moment the enter job has
      // set the boot device to network, `disk` again on exit or rollback.
      await db.schema.alterTable('rescue_sessions').addColumn('netboot', 'text', (c) => c.notNull().defaultTo('disk')).execute();
      // Sessions in flight during the upgrade keep what the steps decided before: rescue once the enter
      // job had set the boot device (steps are JSON text written by JSON.stringify, keys in this order).
      await sql`
        update rescue_sessions set netboot = 'rescue'
         where ended_at is null
           and (state = 'preparing_rescue'
                or (state = 'rescue_requested'
                    and exists (select 1 from tasks
                                 where tasks.session_id = rescue_sessions.id and tasks.kind = 'enter_rescue'
                                   and tasks.steps like ${'%"name":"boot_device_set","state":"completed"%'})))`.execute(db);
    },
  },
  '0003_f_hardware_tests': {
    async up(db: Kysely<unknown>) {
      // Hardware tests outlive their rescue session (the server's history): no foreign key to the
      // session; removed with the server, as its sessions are.
      await db.schema
        .createTable('hardware_tests')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('server_id', 'text', (c) => c.notNull().references('servers.id').onDelete('cascade'))
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('session_id', 'text')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('device', 'text')
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('progress', 'integer', (c) => c.notNull())
        .addColumn('summary', 'text')
        .addColumn('result', 'text')
        .addColumn('output', 'text', (c) => c.notNull())
        .addColumn('origin', 'text', (c) => c.notNull())
        .addColumn('work_id', 'text')
        .addColumn('cancel_requested', 'integer', (c) => c.notNull())
        .addColumn('requested_by', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text')
        .addColumn('ended_at', 'text')
        .execute();
      await db.schema.createIndex('hardware_tests_server').on('hardware_tests').columns(['server_id', 'created_at']).execute();
      await db.schema.createIndex('hardware_tests_work').on('hardware_tests').column('work_id').execute();
      },
    },
  '0003h_incidents': {
    async up(db: Kysely<unknown>) {
      // Attached hardware test results (a JSON array of copies taken at declaration), the resolution,
      // and when the incident was acknowledged and resolved. One column per statement: SQLite adds one at a time.
      await db.schema.alterTable('incidents').addColumn('tests', 'text', (c) => c.notNull().defaultTo('[]')).execute();
      await db.schema.alterTable('incidents').addColumn('resolution', 'text').execute();
      await db.schema.alterTable('incidents').addColumn('acknowledged_at', 'text').execute();
      await db.schema.alterTable('incidents').addColumn('resolved_at', 'text').execute();
      await db.schema.createIndex('incidents_queue').on('incidents').columns(['state', 'created_at']).execute();
      await db.schema
        .createTable('incident_comments')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('incident_id', 'text', (c) => c.notNull().references('incidents.id').onDelete('cascade'))
        .addColumn('author', 'text', (c) => c.notNull())
        .addColumn('author_token_id', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('incident_comments_incident').on('incident_comments').columns(['incident_id', 'created_at']).execute();
    },
  },
  '0004a_ssh_keys': {
    async up(db: Kysely<unknown>) {
      // `scope` is the tenant's id, or '*' for staff keys: a unique index cannot rely on NULLs, which
      // never collide on either dialect.
      await db.schema
        .createTable('ssh_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('tenant_id', 'text', (c) => c.references('tenants.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('bits', 'integer', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('comment', 'text', (c) => c.notNull())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('ssh_keys_scope_name').on('ssh_keys').columns(['scope', 'name']).unique().execute();
      await db.schema.createIndex('ssh_keys_scope_fingerprint').on('ssh_keys').columns(['scope', 'fingerprint']).unique().execute();
      await db.schema.createIndex('ssh_keys_fingerprint').on('ssh_keys').column('fingerprint').execute();
    },
  },
  '0004b_console': {
    async up(db: Kysely<unknown>) {
      // A server's console setting: `tcp://HOST:PORT`, or null for its BMC's Serial-over-LAN.
      await db.schema.alterTable('servers').addColumn('console', 'text').execute();
      // The console output recorded while a session entered and left rescue: the last bytes only
      // (bounded by the recorder), base64 in a text column (portable; no bytea/blob difference).
      await db.schema
        .createTable('console_logs')
        .addColumn('session_id', 'text', (c) => c.primaryKey().references('rescue_sessions.id').onDelete('cascade'))
        .addColumn('server_id', 'text', (c) => c.notNull().references('servers.id').onDelete('cascade'))
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('bytes', 'integer', (c) => c.notNull())
        .addColumn('dropped', 'integer', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('console_logs_server').on('console_logs').columns(['server_id', 'started_at']).execute();
    },
  },
  '0004c_users': {
    async up(db: Kysely<unknown>) {
      // People who sign in with a password (scrypt hash, parameters in the stored string).
      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('tenant_id', 'text', (c) => c.references('tenants.id'))
        .addColumn('email', 'text')
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('password_changed_at', 'text', (c) => c.notNull())
        .execute();
      // Browser sessions: only the SHA-256 of the cookie's value is kept (the value has 256 random bits).
      await db.schema
        .createTable('browser_sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_seen_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('browser_sessions_user').on('browser_sessions').column('user_id').execute();
      // Failed sign-ins, by `name:<user>` and `address:<ip>`: rows rather than memory, so that every
      // replica counts the same failures.
      await db.schema
        .createTable('sign_in_failures')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sign_in_failures_key').on('sign_in_failures').columns(['key', 'at']).execute();
      // A user's own API tokens; revoked (not deleted) with the user, so that the audit log's token ids stay meaningful.
      await db.schema.alterTable('api_tokens').addColumn('user_id', 'text').execute();
      await db.schema.createIndex('api_tokens_user').on('api_tokens').column('user_id').execute();
    },
  },
  '0005a_boot_credentials': {
    async up(db: Kysely<any>) {
      // The boot credential of a rescue's current boot attempt (issue 14, finding 1): sealed so that the
      // same answer can be given again to the address it is bound to, never minted anew per request.
      await db.schema.alterTable('rescue_sessions').addColumn('boot_token_sealed', 'text').execute();
      await db.schema.alterTable('rescue_sessions').addColumn('boot_address', 'text').execute();
      await db.schema.alterTable('rescue_sessions').addColumn('boot_attempt', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      // Refused boot requests and redeems: shown to the customer and the operator on the session.
      await db.schema
        .createTable('rescue_alerts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('session_id', 'text', (c) => c.notNull().references('rescue_sessions.id').onDelete('cascade'))
        .addColumn('server_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('address', 'text', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('rescue_alerts_session').on('rescue_alerts').columns(['session_id', 'at']).execute();
    },
  },
  '0006r_rate_limit_hits': {
    async up(db: Kysely<any>) {
      // Rate limits counted in the database, so that every replica spends the same budget (issue 14,
      // "Scale"): one row per limit, key and fixed window, one upsert per request.
      await db.schema
        .createTable('rate_limit_hits')
        .addColumn('limit_name', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('window_start', 'text', (c) => c.notNull())
        .addColumn('window_end', 'text', (c) => c.notNull())
        .addColumn('hits', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('rate_limit_hits_pk', ['limit_name', 'key', 'window_start'])
        .execute();
      await db.schema.createIndex('rate_limit_hits_end').on('rate_limit_hits').column('window_end').execute();
    },
  },
  '0007d_doctor_reports': {
    async up(db: Kysely<any>) {
      // The rescue doctor's latest report per session (issue 15). Its fixes are agent work rows
      // (`doctor_fix`, `doctor_undo`): their state and outcome are the record, no second table.
      await db.schema
        .createTable('doctor_reports')
        .addColumn('session_id', 'text', (c) => c.primaryKey().references('rescue_sessions.id').onDelete('cascade'))
        .addColumn('server_id', 'text', (c) => c.notNull())
        .addColumn('report', 'text', (c) => c.notNull())
        .addColumn('received_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('doctor_reports_server').on('doctor_reports').columns(['server_id', 'received_at']).execute();
      await db.schema.createIndex('agent_work_session_kind').on('agent_work').columns(['session_id', 'kind']).execute();
    },
  },
  '0008w_agent_work_redeliveries': {
    async up(db: Kysely<any>) {
      // Work a restarted agent is given again, counted so that an item that kills its agent every time
      // is failed instead of handed out for ever (`AgentWorkQueue.settleAgentRestart`).
      await db.schema.alterTable('agent_work').addColumn('redeliveries', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    },
  },
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

/** Brings the schema up to `name` only (tests of a migration's data changes). */
export async function migrateTo(db: Kysely<unknown>, name: string): Promise<void> {
  const { error } = await new Migrator({ db, provider }).migrateTo(name);
  if (error !== undefined) throw new Error(`database migration to ${name} failed`, { cause: error });
}

/** Brings the schema up to date; safe to run from several replicas at once (Kysely locks). */
export async function migrate(db: Kysely<unknown>): Promise<void> {
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`database migration ${failed} failed`, { cause: error });
  }
}
