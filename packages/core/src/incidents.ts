/**
 * Incidents and the audit log.
 */
import { LifeboatError } from './errors.js';
import type { Role } from './access.js';
import type { HardwareTestView } from './api/hardware-tests.js';

/** Where an incident stands in the technicians' queue. */
export type IncidentState = 'open' | 'acknowledged' | 'resolved';

/** The states of {@link IncidentState}, in queue order. */
export const incidentStates: readonly IncidentState[] = ['open', 'acknowledged', 'resolved'];

/**
 * Where an incident may go from where it stands: a technician acknowledges an open incident, anyone
 * who may answer it resolves it (acknowledged or not), and a resolved incident is reopened when the
 * problem comes back. Staying in the same state is not a move.
 */
export const incidentTransitions: Readonly<Record<IncidentState, readonly IncidentState[]>> = {
  open: ['acknowledged', 'resolved'],
  acknowledged: ['resolved', 'open'],
  resolved: ['open'],
};

/** Throws `INVALID_STATE` unless an incident may move from `from` to `to`. */
export function checkIncidentTransition(id: string, from: IncidentState, to: IncidentState): void {
  if (!incidentTransitions[from].includes(to)) throw new LifeboatError('INVALID_STATE', `incident ${id} is ${from}: it cannot become ${to}`);
}

/**
 * A hardware test result attached to an incident: a copy of the test as it stood when the incident was
 * declared, so that what the customer showed stays what the technician sees.
 */
export interface IncidentTestAttachment {
  readonly id: string;
  readonly kind: HardwareTestView['kind'];
  readonly device: string | null;
  readonly status: HardwareTestView['status'];
  readonly summary: string | null;
  readonly result: unknown;
  readonly createdAt: string;
  readonly endedAt: string | null;
}

/** The copy of a test that an incident keeps ({@link IncidentTestAttachment}). */
export function testAttachmentOf(test: HardwareTestView): IncidentTestAttachment {
  return {
    id: test.id,
    kind: test.kind,
    device: test.device,
    status: test.status,
    summary: test.summary,
    result: test.result,
    createdAt: test.createdAt,
    endedAt: test.endedAt,
  };
}

/**
 * The attachments of a declaration: one per id, in the order given (duplicates once), from the tests
 * of the incident's server. An id that is not one of them is `TEST_NOT_FOUND` (another server's or
 * another tenant's test does not exist for this incident).
 */
export function testAttachments(ids: readonly string[], tests: readonly HardwareTestView[], serverName: string): IncidentTestAttachment[] {
  const byId = new Map(tests.filter((t) => t.server === serverName).map((t) => [t.id, t]));
  return [...new Set(ids)].map((id) => {
    const test = byId.get(id);
    if (!test) throw new LifeboatError('TEST_NOT_FOUND', `no hardware test ${id} on server ${serverName}`);
    return testAttachmentOf(test);
  });
}

/** A problem a customer declared (e.g. a failed disk test), answered by technicians. */
export interface Incident {
  readonly id: string;
  readonly serverId: string;
  readonly tenantId: string;
  readonly title: string;
  /** The body of the declaration (the customer's message). */
  readonly detail: string;
  readonly state: IncidentState;
  /** Free-form JSON attached by older clients (`attachment` of `POST /v1/servers/{name}/incidents`). */
  readonly attachment: unknown;
  /** Hardware test results attached, as they stood at declaration. */
  readonly tests: readonly IncidentTestAttachment[];
  /** The message given when it was resolved. */
  readonly resolution: string | null;
  readonly createdBy: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly acknowledgedAt: Date | null;
  readonly resolvedAt: Date | null;
}

/** A comment on an incident: the support thread between the customer and technicians. */
export interface IncidentComment {
  readonly id: string;
  readonly incidentId: string;
  /** The API token's label of whoever wrote it (`admin`, `alice`); its id is in the audit log. */
  readonly author: string;
  readonly role: Role;
  readonly message: string;
  readonly createdAt: Date;
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
