/** The operator pages' filters (no React: tested in Node). */
import type { ServerView } from '@lifeboat/core/api';

/** Servers matching a search text (name, tenant, MAC, status) and the chosen tenant and state. */
export function filterFleet(servers: readonly ServerView[], filter: { readonly text: string; readonly tenant: string; readonly state: string }): ServerView[] {
  const text = filter.text.trim().toLowerCase();
  return servers.filter(
    (server) =>
      (!filter.tenant || server.tenant === filter.tenant) &&
      (!filter.state || server.state === filter.state) &&
      (!text || [server.name, server.tenant, server.status, ...server.macs].some((value) => value.toLowerCase().includes(text))),
  );
}

/** One audit event as `GET /v1/audit` answers it. */
export interface AuditRow {
  readonly id: string;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly tenantId: string | null;
  readonly serverId: string | null;
  readonly detail: Readonly<Record<string, unknown>>;
}

/** The events whose action starts with `action` and whose actor or detail contains `text`. */
export function filterAudit(events: readonly AuditRow[], filter: { readonly action: string; readonly text: string }): AuditRow[] {
  const text = filter.text.trim().toLowerCase();
  return events.filter((event) => event.action.startsWith(filter.action) && (!text || `${event.actor} ${JSON.stringify(event.detail)}`.toLowerCase().includes(text)));
}

/** Splits a list typed with commas, spaces or new lines. */
export function splitList(text: string): string[] {
  return text.split(/[\s,]+/).map((item) => item.trim()).filter(Boolean);
}
