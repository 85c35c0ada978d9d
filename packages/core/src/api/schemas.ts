/**
 * The HTTP API's contract: JSON schemas of every request and answer (TypeBox), with their TypeScript
 * types. The control plane validates with them and generates `/openapi.json` from them; the typed client
 * (`../client/`), the CLI, the agent and the lab read the same types, so a field added here appears in
 * every client. Pure data: no I/O, safe to bundle for the agent (QuickJS) and a browser.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { rescueStates, type RescueState } from '../rescue-state.js';
import { profileNamePattern } from '../servers.js';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** The body of every error answer: a stable code of `errorStatus` and a message a user can act on. */
export const ErrorSchema = Type.Object({ code: Type.String(), message: Type.String() }, { $id: 'Error' });
/** The body of every error answer. */
export type ErrorBody = Static<typeof ErrorSchema>;

/** A rescue state, as a string enumeration (`active`, `rescue_requested`, ...). */
export const RescueStateSchema = Type.Unsafe<RescueState>({ type: 'string', enum: [...rescueStates] });

export const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 63 }) });
export type NameParams = Static<typeof NameParams>;
export const IdParams = Type.Object({ id: Type.String() });
export type IdParams = Static<typeof IdParams>;

// Tenants and tokens.
export const TenantSchema = Type.Object({ id: Type.String(), name: Type.String(), email: Nullable(Type.String()), createdAt: Type.String() });
export type TenantView = Static<typeof TenantSchema>;
export const TenantList = Type.Object({ tenants: Type.Array(TenantSchema) });
export type TenantList = Static<typeof TenantList>;
export const NewTenant = Type.Object({ name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$' }), email: Type.Optional(Type.String({ format: 'email' })) }, { additionalProperties: false });
export type NewTenant = Static<typeof NewTenant>;

export const RoleSchema = Type.Union([Type.Literal('customer'), Type.Literal('technician'), Type.Literal('operator')]);
export const NewToken = Type.Object(
  { role: RoleSchema, tenant: Type.Optional(Type.String()), name: Type.Optional(Type.String({ maxLength: 100 })) },
  { additionalProperties: false },
);
export type NewToken = Static<typeof NewToken>;
export const TokenAnswer = Type.Object({ token: Type.String(), id: Type.String(), role: RoleSchema, tenant: Nullable(Type.String()) });
export type TokenAnswer = Static<typeof TokenAnswer>;

// Servers.
export const NewServer = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$' }),
    tenant: Type.String({ maxLength: 128 }),
    macs: Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: 64 }),
    bmc: Type.Object(
      { url: Type.String(), user: Type.Optional(Type.String()), password: Type.Optional(Type.String()) },
      { additionalProperties: false },
    ),
    sshEndpoint: Type.Optional(Type.String({ description: 'HOST:PORT of the server\'s SSH (installed system and rescue)' })),
    console: Type.Optional(
      Type.String({ description: 'Serial console: tcp://HOST:PORT (a serial concentrator); without it, an IPMI server\'s console is its BMC\'s Serial-over-LAN' }),
    ),
    profiles: Type.Optional(Type.Array(Type.String({ pattern: profileNamePattern, description: 'lower-case letters, digits, - and _' }), { maxItems: 16 })),
  },
  { additionalProperties: false },
);
export type NewServer = Static<typeof NewServer>;

/** `PATCH /v1/servers/{name}/bmc`: what changes of a server's BMC (its password changed, it moved). */
export const BmcChange = Type.Object(
  {
    url: Type.Optional(Type.String({ description: 'ipmi://HOST[:PORT] or redfish(s)://HOST[:PORT]/SYSTEM-PATH; the driver follows the scheme' })),
    user: Type.Optional(Type.String({ maxLength: 128 })),
    password: Type.Optional(Nullable(Type.String({ description: 'the new password; null or empty removes it' }))),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type BmcChange = Static<typeof BmcChange>;

/** `POST /v1/servers/{name}/validate`: the BMC answered (a BMC failure is an error answer with its code). */
export const BmcValidation = Type.Object({
  server: Type.String(),
  driver: Type.String({ description: 'ipmi or redfish' }),
  reachable: Type.Literal(true),
  powerState: Type.Union([Type.Literal('on'), Type.Literal('off')]),
});
/** The answer of a BMC that was reached. */
export type BmcValidation = Static<typeof BmcValidation>;

export const ServerSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  tenant: Type.String(),
  macs: Type.Array(Type.String()),
  bmc: Type.Object({ driver: Type.String(), url: Type.String(), user: Type.String() }),
  sshEndpoint: Nullable(Type.String()),
  console: Nullable(Type.String({ description: 'tcp://HOST:PORT, or null: the BMC\'s Serial-over-LAN (IPMI)' })),
  profiles: Type.Array(Type.String()),
  state: RescueStateSchema,
  status: Type.String(),
  reason: Nullable(Type.String()),
  createdAt: Type.String(),
});
/** A server as the API shows it (never its BMC password). */
export type ServerView = Static<typeof ServerSchema>;
export const ServerList = Type.Object({ servers: Type.Array(ServerSchema) });
export type ServerList = Static<typeof ServerList>;

// Rescue.
export const SshAccessSchema = Type.Object({
  host: Nullable(Type.String()),
  port: Nullable(Type.Integer()),
  user: Type.String(),
  password: Type.Optional(Type.String()),
  hostKeyFingerprints: Type.Array(Type.String()),
  knownHosts: Type.Array(Type.String()),
  certAuthority: Type.Optional(
    Type.String({
      description:
        "the provider's SSH host CA as a known_hosts line (`@cert-authority * ssh-ed25519 AAAA... lifeboat-host-ca`): with it, every rescue host whose certificate names the host connected to (the server's name or SSH address) is trusted, this one and every later one",
    }),
  ),
});
/** How to reach the rescue system over SSH, as shown to the customer. */
export type SshAccess = Static<typeof SshAccessSchema>;

export const RescueSchema = Type.Object({
  server: Type.String(),
  state: RescueStateSchema,
  status: Type.String(),
  reason: Nullable(Type.String()),
  sessionId: Nullable(Type.String()),
  profile: Nullable(Type.String()),
  expiresAt: Nullable(Type.String()),
  deadlineAt: Nullable(Type.String()),
  passwordLogin: Nullable(Type.Boolean()),
  taskId: Type.Optional(Type.String()),
  ssh: SshAccessSchema,
  agent: Type.Object(
    {
      lastSeenAt: Nullable(Type.String({ description: "the rescue system agent's last heartbeat (every 30 s)" })),
      responding: Nullable(Type.Boolean({ description: 'false after 90 s without a heartbeat: the rescue system crashed, was rebooted or lost its network; null outside rescue' })),
    },
    { description: "the rescue system's agent" },
  ),
  alerts: Type.Optional(
    Type.Array(
      Type.Object({
        kind: Type.String({ description: 'boot_script_other_address, redeem_other_address or redeem_invalid' }),
        address: Type.String({ description: 'the client address of the refused request' }),
        message: Type.String(),
        at: Type.String(),
      }),
      {
        description:
          "refused requests for this rescue's boot: its iPXE script asked for from another address than the one it was given to, or its boot credential presented from another address or not valid. Someone on the provisioning network may be trying to take the rescue over; oldest first, at most 50",
      },
    ),
  ),
});
/** A server's rescue session as the API, the CLI and the console show it. */
export type RescueView = Static<typeof RescueSchema>;

export const EnterRescue = Type.Object(
  {
    profile: Type.Optional(Type.String({ maxLength: 64 })),
    sshKeys: Type.Optional(Type.Array(Type.String({ maxLength: 16_384 }), { maxItems: 50 })),
    keys: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 63 }), { maxItems: 50, description: "names of keys in the server's tenant's store (or staff keys), added to sshKeys" })),
    email: Type.Optional(Type.String({ format: 'email' })),
    expiresIn: Type.Optional(Type.String({ maxLength: 32, description: 'lease, e.g. 90m, 24h, 2d' })),
  },
  { additionalProperties: false },
);
export type EnterRescue = Static<typeof EnterRescue>;

export const ExtendRescue = Type.Object({ expiresIn: Type.String({ maxLength: 32 }) }, { additionalProperties: false });
export type ExtendRescue = Static<typeof ExtendRescue>;

// Tasks (boot timelines).
export const StepSchema = Type.Object({
  name: Type.String(),
  title: Type.String(),
  state: Type.String(),
  startedAt: Nullable(Type.String()),
  endedAt: Nullable(Type.String()),
  detail: Nullable(Type.String()),
});
/** One step of a task as the API shows it. */
export type StepView = Static<typeof StepSchema>;
export const TaskSchema = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  state: Type.String(),
  sessionId: Nullable(Type.String()),
  createdAt: Type.String(),
  endedAt: Nullable(Type.String()),
  steps: Type.Array(StepSchema),
});
/** A task with its timeline as the API shows it. */
export type TaskView = Static<typeof TaskSchema>;
export const TaskList = Type.Object({ server: Type.String(), tasks: Type.Array(TaskSchema) });
export type TaskList = Static<typeof TaskList>;

/** The rescue system's hardware inventory, as the agent reported it. */
export const InventoryAnswer = Type.Object({ server: Type.String(), sessionId: Type.Union([Type.String(), Type.Null()]), inventory: Type.Unknown() });
export type InventoryAnswer = Static<typeof InventoryAnswer>;

// Work run by the agent in rescue.
export const NewAgentWork = Type.Object(
  { kind: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9_.-]+$' }), params: Type.Optional(Type.Unknown({ description: 'JSON, at most 64 KiB' })) },
  { additionalProperties: false },
);
export type NewAgentWork = Static<typeof NewAgentWork>;
export const AgentWorkCreated = Type.Object({ id: Type.String() });
export type AgentWorkCreated = Static<typeof AgentWorkCreated>;
export const AgentWorkView = Type.Object({ id: Type.String(), kind: Type.String(), state: Type.String(), result: Type.Unknown(), message: Type.Union([Type.String(), Type.Null()]) });
export type AgentWorkView = Static<typeof AgentWorkView>;

// Incidents.
/**
 * `POST /v1/servers/{name}/incidents`. A title or a message is needed: without a title, the message's
 * first line (cut at 200 characters) is the title. `tests`: ids of the server's hardware tests to attach.
 */
export const NewIncident = Type.Object(
  {
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    /** The body of the declaration (`detail` is its older name; `message` wins when both are given). */
    message: Type.Optional(Type.String({ minLength: 1, maxLength: 10_000 })),
    detail: Type.Optional(Type.String({ minLength: 1, maxLength: 10_000 })),
    tests: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 32 })),
    attachment: Type.Optional(Type.Unknown({ description: 'JSON, at most 64 KiB' })),
  },
  { additionalProperties: false },
);
export type NewIncident = Static<typeof NewIncident>;
export const IncidentCreated = Type.Object({ id: Type.String(), state: Type.String() });
export type IncidentCreated = Static<typeof IncidentCreated>;
export const IncidentUpdate = Type.Object(
  {
    state: Type.Union([Type.Literal('open'), Type.Literal('acknowledged'), Type.Literal('resolved')]),
    /** With `resolved`: the resolution, also kept as a comment. */
    message: Type.Optional(Type.String({ minLength: 1, maxLength: 10_000 })),
  },
  { additionalProperties: false },
);
export type IncidentUpdate = Static<typeof IncidentUpdate>;

// Live events (`GET /v1/events`).
export const EventsQuery = Type.Object({ server: Type.Optional(Type.String()) });
export type EventsQuery = Static<typeof EventsQuery>;
/** The data of a `server` event: the server and its newest task. */
export const ServerEvent = Type.Object({ server: ServerSchema, task: Nullable(TaskSchema) });
export type ServerEvent = Static<typeof ServerEvent>;

export const AuditQuery = Type.Object({ server: Type.Optional(Type.String()), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) });
export type AuditQuery = Static<typeof AuditQuery>;

// Agent API (docs/architecture.md).
export const Redeem = Type.Object({ serverId: Type.String(), bootToken: Type.String() });
export type Redeem = Static<typeof Redeem>;
export const AgentConfigSchema = Type.Object({
  sessionId: Type.String(),
  serverName: Type.String(),
  hostname: Type.String(),
  rootPasswordHash: Nullable(Type.String()),
  authorizedKeys: Type.Array(Type.String()),
  passwordLogin: Type.Boolean(),
  motd: Type.String(),
  expiresAt: Type.String(),
  /**
   * The control plane's desktop client key (`ssh-ed25519 BASE64`) for a rescue whose profile has a desktop:
   * the agent authorizes it for forwarding to the VNC server only (`desktopAuthorizedKeyLine`). Absent otherwise.
   */
  desktopKey: Type.Optional(Type.String()),
});
/** What the agent learns when it redeems its boot token: the session's configuration of the rescue system. */
export type AgentConfig = Static<typeof AgentConfigSchema>;
export const RedeemAnswer = Type.Object({ agentToken: Type.String(), config: AgentConfigSchema });
export type RedeemAnswer = Static<typeof RedeemAnswer>;
export const AgentEvent = Type.Object({ step: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9_]+$' }), detail: Type.Optional(Type.String({ maxLength: 2000 })) });
export type AgentEvent = Static<typeof AgentEvent>;
export const HostKeys = Type.Object({
  hostKeys: Type.Array(Type.Object({ type: Type.String(), publicKey: Type.String(), fingerprint: Type.String() }), { maxItems: 10 }),
});
export type HostKeys = Static<typeof HostKeys>;
/**
 * The answer to `POST /v1/agent/host-keys`: a host certificate for each reported key, signed by the
 * provider's SSH host CA (empty when the server has no SSH name or address to certify). An older
 * control plane answers 204 without a body: the agent then serves the keys without certificates.
 */
export const HostKeysAnswer = Type.Object({
  certificates: Type.Array(
    Type.Object({
      type: Type.String(),
      publicKey: Type.String({ description: 'the certified host key, as reported' }),
      certificate: Type.String({ description: 'the certificate line, the content of ssh_host_*_key-cert.pub' }),
    }),
  ),
});
export type HostKeysAnswer = Static<typeof HostKeysAnswer>;
/** `GET /v1/ssh-host-ca`: the provider's SSH host CA, as a customer trusts it (`lifeboat ca show`). */
export const SshHostCaView = Type.Object({
  knownHostsLine: Type.String({ description: 'the line to add to ~/.ssh/known_hosts: `@cert-authority * ssh-ed25519 AAAA... lifeboat-host-ca`' }),
  publicKey: Type.String({ description: "the CA's public key, `ssh-ed25519 AAAA...`" }),
  fingerprint: Type.String({ description: "the CA's SHA-256 fingerprint, `SHA256:...`, as ssh-keygen -lf prints it" }),
});
export type SshHostCaView = Static<typeof SshHostCaView>;
export const HeartbeatAnswer = Type.Object({ expiresAt: Type.String() });
export type HeartbeatAnswer = Static<typeof HeartbeatAnswer>;
export const WorkQuery = Type.Object({ waitSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 60 })) });
export type WorkQuery = Static<typeof WorkQuery>;
export const WorkResult = Type.Object({
  state: Type.Union([Type.Literal('completed'), Type.Literal('failed')]),
  result: Type.Optional(Type.Unknown()),
  message: Type.Optional(Type.String()),
});
export type WorkResult = Static<typeof WorkResult>;

/** Error answers every authenticated route may give. */
export const errorResponses = {
  400: ErrorSchema,
  401: ErrorSchema,
  403: ErrorSchema,
  404: ErrorSchema,
  409: ErrorSchema,
  503: ErrorSchema,
};

/** The agent's long poll for work. */
export const AgentJobs = Type.Object({ jobs: Type.Array(Type.Object({ id: Type.String(), kind: Type.String(), params: Type.Unknown() })) });
export type AgentJobs = Static<typeof AgentJobs>;
