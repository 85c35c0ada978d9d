/**
 * A query of a feature page over the typed client, through the shell's TanStack Query cache: the
 * answer is kept while it reloads (no flicker on live updates), `reload` is what a live event calls,
 * and pages that show the same thing (a server's tests on two tabs) share one cache entry.
 */
import { useQuery } from '@tanstack/react-query';
import { useCallback } from 'react';

/** What a component sees of one query. */
export interface Resource<T> {
  /** The last answer, or undefined before the first one. */
  readonly data: T | undefined;
  /** The last error, or null. */
  readonly error: unknown;
  /** True until the first answer or error. */
  readonly loading: boolean;
  /** Asks again (a live event said the answer changed). */
  reload(): void;
}

/** How a query is read again besides live events. */
export interface ResourceOptions<T> {
  /**
   * For what no live event announces (how many view a desktop now): after an answer, how long until
   * the next read, or false for none.
   */
  readonly pollMs?: (data: T | undefined) => number | false;
}

/** Loads `load()` for `key` (an array, as TanStack Query keys are); null means "nothing to load yet". */
export function useResource<T>(key: readonly unknown[] | null, load: () => Promise<T>, options: ResourceOptions<T> = {}): Resource<T> {
  const { pollMs } = options;
  const query = useQuery({
    queryKey: key ?? ['disabled'],
    queryFn: load,
    enabled: key !== null,
    placeholderData: (previous) => previous,
    ...(pollMs ? { refetchInterval: (q: { state: { data: T | undefined } }) => pollMs(q.state.data) } : {}),
  });
  const { refetch } = query;
  const reload = useCallback(() => void refetch(), [refetch]);
  return { data: query.data, error: query.error, loading: key !== null && query.isPending, reload };
}
