import type { Generated } from 'kysely';

/**
 * The tables as Kysely sees them. Times are ISO-8601 strings (UTC, fixed width, so they compare as
 * text on both dialects), booleans are 0/1, JSON is text: one representation for SQLite and PostgreSQL.
 */

/** The control plane's tables. */
export interface Database {
  tenants: TenantRow;
  api_tokens: ApiTokenRow;
  secrets: SecretRow;
  servers: ServerRow;
  server_macs: ServerMacRow;
  rescue_sessions: RescueSessionRow;
  rescue_alerts: RescueAlertRow;
  tasks: TaskRow;
  jobs: JobRow;
  agent_work: AgentWorkRow;
  incidents: IncidentRow;
  incident_comments: IncidentCommentRow;
  audit_events: AuditEventRow;
  hardware_tests: HardwareTestRow;
  users: UserRow;
  browser_sessions: BrowserSessionRow;
  sign_in_failures: SignInFailureRow;
  ssh_keys: SshKeyRow;
  console_logs: ConsoleLogRow;
  rate_limit_hits: RateLimitHitRow;
  doctor_reports: DoctorReportRow;
}

export interface UserRow {
  id: string;
  name: string;
  role: string;
  tenant_id: string | null;
  email: string | null;
  /** `scrypt$logN$r$p$salt$hash` (credentials/user-password.ts). */
  password_hash: string;
  created_at: string;
  password_changed_at: string;
}

export interface BrowserSessionRow {
  id: string;
  user_id: string;
  /** SHA-256 of the cookie's value, hex. */
  token_hash: string;
  created_at: string;
  /** Moved forward at most once a minute: the idle expiry counts from it. */
  last_seen_at: string;
  /** The absolute expiry. */
  expires_at: string;
}

export interface SignInFailureRow {
  id: string;
  key: string;
  at: string;
}

export interface SshKeyRow {
  id: string;
  /** The tenant's id, or '*' for a staff key. */
  scope: string;
  tenant_id: string | null;
  name: string;
  type: string;
  bits: number;
  /** SHA256:... of the key blob. */
  fingerprint: string;
  comment: string;
  /** The public key line, normalised. */
  public_key: string;
  /** The API token that registered it. */
  created_by: string;
  created_at: string;
}

export interface TenantRow {
  id: string;
  name: string;
  email: string | null;
  created_at: string;
}

export interface ApiTokenRow {
  id: string;
  name: string;
  role: string;
  tenant_id: string | null;
  /** SHA-256 of the token, hex. */
  token_hash: string;
  created_at: string;
  revoked_at: string | null;
  /** The user who created it for themselves (`POST /v1/account/tokens`); null for operators' tokens. */
  user_id: string | null;
}

export interface SecretRow {
  id: string;
  /** AES-256-GCM: `v1:iv:tag:ciphertext`, base64 parts. */
  sealed: string;
  created_at: string;
}

export interface ServerRow {
  id: string;
  name: string;
  tenant_id: string;
  bmc_driver: string;
  bmc_url: string;
  bmc_user: string;
  bmc_credentials_ref: string | null;
  ssh_host: string | null;
  ssh_port: number | null;
  /** `tcp://HOST:PORT`, or null for the BMC's Serial-over-LAN. */
  console: string | null;
  /** JSON array of profile names. */
  profiles: string;
  created_at: string;
}

export interface ServerMacRow {
  mac: string;
  server_id: string;
}

export interface RescueSessionRow {
  id: string;
  server_id: string;
  profile: string;
  state: string;
  reason: string | null;
  email: string | null;
  /** JSON array of SSH public keys. */
  ssh_keys: string;
  /** SHA-512 crypt of the temporary root password, or null with SSH keys. */
  password_hash: string | null;
  password_login: number;
  /** JSON array of host keys. */
  host_keys: string;
  /** JSON inventory as the agent reported it. */
  inventory: string | null;
  boot_token_hash: string | null;
  /** The current boot attempt's credential, sealed with the data directory's key (null once redeemed). */
  boot_token_sealed: string | null;
  /** The address the current boot attempt's script was served to (its credential is bound to it). */
  boot_address: string | null;
  /** Boot attempts so far: a new one starts when the bound address asks again after a redeem. */
  boot_attempt: number;
  agent_token_hash: string | null;
  agent_token_revoked_at: string | null;
  deadline_at: string | null;
  expires_at: string;
  /** When the last expiry warning went out, if any. */
  warned_at: string | null;
  last_heartbeat_at: string | null;
  created_at: string;
  updated_at: string;
  ended_at: string | null;
  requested_by: string | null;
  /** What the netboot server answers: `rescue` once the enter job set the boot device, else `disk`. */
  netboot: string;
}

export interface TaskRow {
  id: string;
  server_id: string;
  session_id: string | null;
  kind: string;
  state: string;
  /** JSON array of steps. */
  steps: string;
  created_at: string;
  ended_at: string | null;
}

export interface JobRow {
  id: string;
  kind: string;
  /** JSON parameters. */
  params: string;
  /** Only one unfinished job per key (e.g. `enter:<sessionId>`). */
  dedupe_key: string | null;
  /** Jobs with the same key never run at once (`server:<id>` for jobs that act on a BMC). */
  lock_key: string | null;
  state: string;
  run_at: string;
  attempts: number;
  max_attempts: number;
  locked_by: string | null;
  locked_until: string | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

export interface AgentWorkRow {
  id: string;
  session_id: string;
  kind: string;
  params: string;
  state: string;
  result: string | null;
  message: string | null;
  created_at: string;
  updated_at: string;
  /** How many times a restarted agent was given it again (`AgentWorkQueue.settleAgentRestart`). */
  redeliveries: Generated<number>;
}

export interface IncidentRow {
  id: string;
  server_id: string;
  tenant_id: string;
  title: string;
  detail: string;
  state: string;
  attachment: string | null;
  /** JSON array of the attached tests' copies (`IncidentTestAttachment`). */
  tests: string;
  resolution: string | null;
  created_by: string | null;
  created_at: string;
  updated_at: string;
  acknowledged_at: string | null;
  resolved_at: string | null;
}

export interface IncidentCommentRow {
  id: string;
  incident_id: string;
  /** The writer's token label at the time. */
  author: string;
  author_token_id: string;
  role: string;
  message: string;
  created_at: string;
}

export interface AuditEventRow {
  id: string;
  at: string;
  actor: string;
  action: string;
  tenant_id: string | null;
  server_id: string | null;
  detail: string;
}

export interface HardwareTestRow {
  id: string;
  server_id: string;
  tenant_id: string;
  session_id: string | null;
  kind: string;
  device: string | null;
  /** JSON: durationSeconds, sizeBytes, repair, selfTest. */
  params: string;
  status: string;
  /** 0-100 (integer: both dialects store it the same way). */
  progress: number;
  summary: string | null;
  /** JSON result of the kind, once finished. */
  result: string | null;
  /** The last 1 MiB of output. */
  output: string;
  /** `api` or `ssh`. */
  origin: string;
  /** The agent work that runs it. */
  work_id: string | null;
  /** 1 once a user cancelled a running test (the next progress answer says `cancel: true`). */
  cancel_requested: number;
  requested_by: string | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  ended_at: string | null;
}

/** The console output of one rescue session (its last bytes), recorded while it entered and left rescue. */
export interface ConsoleLogRow {
  session_id: string;
  server_id: string;
  /** Base64 of the kept bytes (the last `bytes` of the output). */
  data: string;
  bytes: number;
  /** How many earlier bytes were dropped to keep the bound. */
  dropped: number;
  started_at: string;
  updated_at: string;
}

/** A refused boot request or redeem of a session. */
export interface RescueAlertRow {
  id: string;
  session_id: string;
  server_id: string;
  kind: string;
  address: string;
  message: string;
  at: string;
}

/** Requests counted against one rate limit, key and fixed window (shared by the replicas on PostgreSQL). */
export interface RateLimitHitRow {
  /** Which limit (`enters`, `bootScripts`...). */
  limit_name: string;
  /** Whose budget: a client address or a token id. */
  key: string;
  /** Start of the window (ISO time). */
  window_start: string;
  /** End of the window (ISO time): the row is useless after it and deleted. */
  window_end: string;
  hits: number;
}

/** The rescue doctor's latest report on a session (issue 15): one row per session, replaced by each report. */
export interface DoctorReportRow {
  session_id: string;
  server_id: string;
  /** JSON: the `DoctorReport` as the agent sent it, with the fix states the agent's answers updated since. */
  report: string;
  received_at: string;
}
