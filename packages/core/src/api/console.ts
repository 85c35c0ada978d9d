/** The serial console's part of the HTTP API contract (issue 12). */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

/** `GET /v1/servers/{name}/console/log` query: a session of the server (default: its latest with a log). */
export const ConsoleLogQuery = Type.Object(
  { session: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'a rescue session id of this server' })) },
  { additionalProperties: false },
);
export type ConsoleLogQuery = Static<typeof ConsoleLogQuery>;

/** A session's console log: what the console printed while the server entered and left rescue. */
export const ConsoleLogSchema = Type.Object({
  server: Type.String(),
  sessionId: Type.String(),
  /** When recording began (the enter's reboot). */
  startedAt: Type.String(),
  /** When it was last stored. */
  updatedAt: Type.String(),
  /** Bytes in `data`. */
  bytes: Type.Integer(),
  /** Earlier bytes dropped to keep the last 1 MiB. */
  dropped: Type.Integer(),
  /** The last lines, cleaned of terminal escape sequences (null when nothing readable). */
  tail: Type.Union([Type.String(), Type.Null()]),
  /** The raw bytes, base64. */
  data: Type.String({ contentEncoding: 'base64' }),
});
/** A console log as the API answers it. */
export type ConsoleLogView = Static<typeof ConsoleLogSchema>;

// The SSH key store and the live console (the gateway, the WebSocket).
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** A key's name: what `keys rm` and `rescue enter --key` use. */
export const KeyName = Type.String({ minLength: 1, maxLength: 63, pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]*$' });

/** `POST /v1/keys`. */
export const NewSshKey = Type.Object(
  {
    name: KeyName,
    publicKey: Type.String({ minLength: 1, maxLength: 16384, description: 'one line of an OpenSSH public key file: "ssh-ed25519 AAAA... comment"' }),
    tenant: Type.Optional(Type.String({ description: 'technicians and operators: the tenant whose store gets the key; without it, a staff key (reaches every server)' })),
  },
  { additionalProperties: false },
);
export type NewSshKey = Static<typeof NewSshKey>;

/** A registered key as the API shows it (the public key itself is public). */
export const SshKeySchema = Type.Object({
  name: Type.String(),
  tenant: Nullable(Type.String({ description: 'null: a staff key, accepted on every server' })),
  type: Type.String({ description: 'ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ...' }),
  bits: Type.Integer(),
  fingerprint: Type.String({ description: 'SHA256:... as ssh-keygen -lf prints it' }),
  comment: Type.String(),
  publicKey: Type.String(),
  createdAt: Type.String(),
});
export type SshKeyView = Static<typeof SshKeySchema>;

export const SshKeyList = Type.Object({ keys: Type.Array(SshKeySchema) });
export type SshKeyList = Static<typeof SshKeyList>;

/** `GET /v1/keys`, `DELETE /v1/keys/{name}`: technicians and operators name the tenant (none: staff keys). */
export const KeyScopeQuery = Type.Object({ tenant: Type.Optional(Type.String()) }, { additionalProperties: false });
export type KeyScopeQuery = Static<typeof KeyScopeQuery>;

export const KeyNameParams = Type.Object({ name: KeyName });
export type KeyNameParams = Static<typeof KeyNameParams>;

/** `GET /v1/console`: where the SSH console gateway listens and how to trust it. */
export const ConsoleInfoSchema = Type.Object({
  listen: Nullable(Type.String({ description: 'HOST:PORT of the SSH gateway; null when it is off' })),
  hostKeyFingerprint: Nullable(Type.String({ description: "the gateway's ed25519 host key, SHA256:..." })),
  knownHostsLine: Type.Optional(Type.String({ description: 'a line for ~/.ssh/known_hosts ([host]:port ssh-ed25519 AAAA...)' })),
  sshCommandExample: Nullable(Type.String({ description: 'ssh -p PORT SERVER@HOST (add "-- --write" for the writer seat)' })),
});
export type ConsoleInfo = Static<typeof ConsoleInfoSchema>;

/** `GET /v1/servers/{name}/console/ws?write=1`. */
export const ConsoleWsQuery = Type.Object({ write: Type.Optional(Type.Union([Type.Literal('1'), Type.Literal('0'), Type.Literal('true'), Type.Literal('false')])) });
export type ConsoleWsQuery = Static<typeof ConsoleWsQuery>;
