/** What a cached query's state says, for the live updates (live-events.tsx). */
import type { Query } from '@tanstack/react-query';

/**
 * A query whose only answer was 404 (no such server, or another tenant's): the stream opening cannot
 * change it (nobody sends this user an event about that name), and fetching it again would replace the
 * page's "does not exist or is not yours" by "Loading…" until the same answer came back (a query
 * without data goes back to pending while it refetches).
 */
export function answeredNotFound(query: Pick<Query, 'state'>): boolean {
  const { status, data, error } = query.state;
  return status === 'error' && data === undefined && (error as { status?: unknown } | null)?.status === 404;
}
