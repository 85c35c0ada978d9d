/**
 * A small query hook over the typed client: loads once per `key`, keeps the last answer while it
 * reloads (no flicker on live updates), and exposes `reload` for SSE-driven invalidation. The state
 * stays on the server; this only caches the answer for the component that asked.
 */
import { useCallback, useEffect, useRef, useState } from 'react';

/** What a component sees of one query. */
export interface Resource<T> {
  /** The last answer, or undefined before the first one. */
  readonly data: T | undefined;
  /** The last error (cleared by the next answer). */
  readonly error: unknown;
  /** True until the first answer or error. */
  readonly loading: boolean;
  /** Asks again (a live event said the answer changed). */
  reload(): void;
}

/** Loads `load()` whenever `key` changes; `key` null means "nothing to load yet". */
export function useResource<T>(key: string | null, load: () => Promise<T>): Resource<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({ data: undefined, error: undefined, loading: key !== null });
  const [generation, setGeneration] = useState(0);
  const loader = useRef(load);
  loader.current = load;
  useEffect(() => {
    if (key === null) return;
    let current = true;
    loader.current().then(
      (data) => current && setState({ data, error: undefined, loading: false }),
      (error: unknown) => current && setState((previous) => ({ data: previous.data, error, loading: false })),
    );
    return () => {
      current = false;
    };
  }, [key, generation]);
  const reload = useCallback(() => setGeneration((value) => value + 1), []);
  return { ...state, reload };
}
