/** The servers list's search and status filter (pure, tested beside). */
import type { ServerView } from '@lifeboat/core/api';
import { rescueStates, type RescueState } from '@lifeboat/core/rescue-state';
import { statusTone } from './status-tone.js';

/** A status filter: everything, a group, or one state. */
export type ServerFilter = 'all' | 'in-rescue' | 'failed' | RescueState;

/** The filter of a `?status=` value (unknown values: all). */
export function parseFilter(value: string | null): ServerFilter {
  const known: readonly string[] = ['all', 'in-rescue', 'failed', ...rescueStates];
  return value !== null && known.includes(value) ? (value as ServerFilter) : 'all';
}

/** Whether a server passes the search text (name, tenant, MAC) and the status filter. */
export function serverMatches(server: Pick<ServerView, 'name' | 'tenant' | 'macs' | 'state'>, query: string, filter: ServerFilter): boolean {
  const tone = statusTone(server.state);
  if (filter === 'in-rescue' && !(tone === 'pending' || tone === 'rescue')) return false;
  if (filter === 'failed' && tone !== 'failed') return false;
  if (filter !== 'all' && filter !== 'in-rescue' && filter !== 'failed' && server.state !== filter) return false;
  const text = query.trim().toLowerCase();
  if (!text) return true;
  return [server.name, server.tenant, ...server.macs].some((field) => field.toLowerCase().includes(text));
}
