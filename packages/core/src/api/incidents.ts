/**
 * The contract of incidents (issue 11): the views of the queue and of one incident with its comments
 * and attached test results, and the bodies of comment and resolve. Declaring one is `NewIncident`
 * (`schemas.ts`), extended with `message` and `tests`.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const StateSchema = Type.Union([Type.Literal('open'), Type.Literal('acknowledged'), Type.Literal('resolved')]);

/** A hardware test result as it stood when the incident was declared. */
export const IncidentTestAttachmentSchema = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  device: Nullable(Type.String()),
  status: Type.String(),
  summary: Nullable(Type.String()),
  result: Type.Unknown(),
  createdAt: Type.String(),
  endedAt: Nullable(Type.String()),
});
export type IncidentTestAttachmentView = Static<typeof IncidentTestAttachmentSchema>;

/** An incident as the API and `lifeboat incidents list/show --json` show it. */
export const IncidentSchema = Type.Object({
  id: Type.String(),
  /** The server's name and id, and its tenant's name and id. */
  server: Type.String(),
  serverId: Type.String(),
  tenant: Type.String(),
  tenantId: Type.String(),
  title: Type.String(),
  /** The body of the declaration. */
  message: Type.String(),
  /** The same text, under the name older clients read. */
  detail: Type.String(),
  state: StateSchema,
  /** Attached hardware test results (copies taken at declaration). */
  tests: Type.Array(IncidentTestAttachmentSchema),
  /** Free-form JSON attached by older clients. */
  attachment: Type.Unknown(),
  resolution: Nullable(Type.String()),
  createdBy: Nullable(Type.String()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  acknowledgedAt: Nullable(Type.String()),
  resolvedAt: Nullable(Type.String()),
  comments: Type.Integer({ description: 'how many comments it has' }),
});
export type IncidentView = Static<typeof IncidentSchema>;

/** `GET /v1/incidents`: the queue, open first then acknowledged then resolved, oldest first in each. */
export const IncidentList = Type.Object({ incidents: Type.Array(IncidentSchema) });
export type IncidentList = Static<typeof IncidentList>;

/** `GET /v1/incidents?state=open`: only incidents in that state; `server` only that server's. */
export const IncidentQuery = Type.Object({ state: Type.Optional(StateSchema), server: Type.Optional(Type.String()) }, { additionalProperties: false });
export type IncidentQuery = Static<typeof IncidentQuery>;

/** A comment on an incident. */
export const IncidentCommentSchema = Type.Object({
  id: Type.String(),
  author: Type.String(),
  role: Type.Union([Type.Literal('customer'), Type.Literal('technician'), Type.Literal('operator')]),
  message: Type.String(),
  createdAt: Type.String(),
});
export type IncidentCommentView = Static<typeof IncidentCommentSchema>;

/** `GET /v1/incidents/{id}`: the incident, its comments (oldest first) and its attachments. */
export const IncidentDetail = Type.Object({ incident: IncidentSchema, comments: Type.Array(IncidentCommentSchema) });
export type IncidentDetail = Static<typeof IncidentDetail>;

/** `POST /v1/incidents/{id}/comments`. */
export const NewIncidentComment = Type.Object({ message: Type.String({ minLength: 1, maxLength: 10_000 }) }, { additionalProperties: false });
export type NewIncidentComment = Static<typeof NewIncidentComment>;

/** `POST /v1/incidents/{id}/resolve` (the optional message is kept as the resolution and as a comment). */
export const ResolveIncident = Type.Object({ message: Type.Optional(Type.String({ minLength: 1, maxLength: 10_000 })) }, { additionalProperties: false });
export type ResolveIncident = Static<typeof ResolveIncident>;
