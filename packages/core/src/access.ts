/**
 * Who may do what. Tenants own servers; API tokens carry a role and, for customers, a tenant.
 */

/** The roles of PRODUCT.md: a customer acts on its tenant's servers; technicians and operators on all. */
export const roles = ['customer', 'technician', 'operator'] as const;

/** A role. */
export type Role = (typeof roles)[number];

/** A customer account: owns servers. */
export interface Tenant {
  readonly id: string;
  /** Unique, user-chosen name (`acme`). */
  readonly name: string;
  /** Where credentials are mailed when a rescue request names no address. */
  readonly email: string | null;
  readonly createdAt: Date;
}

/** A user of the API, as far as the control plane knows one (a person who signs in with a password). */
export interface User {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  /** The tenant a customer belongs to (customers must have one); technicians and operators may have none. */
  readonly tenantId: string | null;
  readonly email: string | null;
  readonly createdAt: Date;
}

/** An API token's record; the token itself is only ever stored as a SHA-256 hash. */
export interface ApiToken {
  readonly id: string;
  readonly role: Role;
  /** Scope: a customer token acts on this tenant only; null for technician and operator tokens. */
  readonly tenantId: string | null;
  /** A label for the audit log (`admin`, `ci`). */
  readonly name: string;
  readonly createdAt: Date;
  readonly revokedAt: Date | null;
}

/** The caller of an API request, resolved from its token or its browser session. */
export interface Principal {
  /**
   * Who acts, as the audit log records it: the API token's id, or `user:<name>` for a browser
   * session (`sessionActor`).
   */
  readonly tokenId: string;
  readonly role: Role;
  readonly tenantId: string | null;
  /** The user behind the request: a browser session's, or the owner of a user's own API token. */
  readonly user?: string;
}

/** The audit actor of a user's browser session. */
export function sessionActor(userName: string): string {
  return `user:${userName}`;
}

/** Actions checked by `may`. */
export type Action =
  | 'tenant.manage'
  | 'token.create'
  | 'server.manage'
  | 'server.read'
  | 'rescue.enter'
  | 'rescue.exit'
  | 'incident.create'
  | 'incident.answer'
  | 'audit.read'
  /** Run and cancel hardware tests on a server in rescue (issue 11). */
  | 'test.run'
  /** Apply and undo the rescue doctor's fixes on a server in rescue (issue 15). */
  | 'doctor.fix'
  /** Add, list and remove users (issue 13). */
  | 'user.manage'
  /** Register and remove SSH keys: a customer its tenant's, staff a tenant's or the staff keys (issue 12). */
  | 'key.manage'
  /** Open the rescue desktop (the `windows` profile's, issue 16) of a server in rescue. */
  | 'desktop.use';

const allowed: Record<Role, ReadonlySet<Action>> = {
  customer: new Set(['server.read', 'rescue.enter', 'rescue.exit', 'incident.create', 'test.run', 'doctor.fix', 'key.manage', 'desktop.use']),
  technician: new Set(['server.read', 'rescue.enter', 'rescue.exit', 'incident.create', 'incident.answer', 'test.run', 'doctor.fix', 'key.manage', 'desktop.use']),
  operator: new Set([
    'tenant.manage',
    'token.create',
    'server.manage',
    'server.read',
    'rescue.enter',
    'rescue.exit',
    'incident.create',
    'incident.answer',
    'audit.read',
    'test.run',
    'doctor.fix',
    'user.manage',
    'key.manage',
    'desktop.use',
  ]),
};

/** Whether a principal may perform an action (on a server of `tenantId`, when given). */
export function may(principal: Principal, action: Action, tenantId?: string): boolean {
  if (!allowed[principal.role].has(action)) return false;
  if (principal.role === 'customer' && tenantId !== undefined) return principal.tenantId === tenantId;
  return true;
}

/** Whether a principal can see a server of this tenant at all (others get 404, not 403). */
export function canSee(principal: Principal, tenantId: string): boolean {
  return principal.role !== 'customer' || principal.tenantId === tenantId;
}
