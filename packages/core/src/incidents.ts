/**
 * Incidents and the audit log.
 */

/** Where an incident stands in the technicians' queue. */
export type IncidentState = 'open' | 'acknowledged' | 'resolved';

/** A problem a customer declared (e.g. a failed disk test), answered by technicians. */
export interface Incident {
  readonly id: string;
  readonly serverId: string;
  readonly tenantId: string;
  readonly title: string;
  readonly detail: string;
  readonly state: IncidentState;
  /** A test result attached to it (JSON). */
  readonly attachment: unknown;
  readonly createdBy: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** Who did what to which server, and when. */
export interface AuditEvent {
  readonly id: string;
  readonly at: Date;
  /** Token id of the caller, `agent:<sessionId>` or `system`. */
  readonly actor: string;
  /** `server.add`, `rescue.enter`, ... */
  readonly action: string;
  readonly tenantId: string | null;
  readonly serverId: string | null;
  /** Extra facts, never a secret. */
  readonly detail: Readonly<Record<string, unknown>>;
}
