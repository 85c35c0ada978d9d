/** The serial console's part of the HTTP API contract (issue 12). */
import { Type, type Static } from '@sinclair/typebox';

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
