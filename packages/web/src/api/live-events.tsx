/**
 * Live updates: one `EventSource` on `GET /v1/events` (same origin, the session cookie) for the whole
 * console. Each `server` event updates the cached server list and server, and invalidates that server's
 * rescue view, tasks, doctor report and desktop view; each `doctor` event replaces the server's doctor report; so every page on
 * screen follows without reload. Pages that need more (a
 * hardware test's progress) subscribe with {@link useLiveEvent}. EventSource reconnects by itself; the
 * status is shown in the header.
 *
 * The stream only tells what changes while it is open, so the page never trusts an answer that may
 * predate an event:
 * - each time the stream opens (the first time too: the page's first GETs may have been answered
 *   before it), every query is fetched again, so changes made while it was closed or reconnecting show;
 * - an event that arrives while a query of the same data is being fetched cancels that fetch (its
 *   answer was read before the event was sent and would overwrite it) and fetches again.
 * Without these, the server page could stay on "Exiting rescue" after the server was back Active.
 */
import type { DoctorEvent, ServerEvent, ServerList, TaskList } from '@lifeboat/core/api';
import { useQueryClient, type Query, type QueryClient, type QueryKey, type Updater } from '@tanstack/react-query';
import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { queryKeys } from './client.js';
import { answeredNotFound } from './query-state.js';

/** Whether the stream is open. */
export type LiveStatus = 'connecting' | 'open' | 'interrupted';
type Listener = (data: unknown) => void;

interface LiveEvents {
  readonly status: LiveStatus;
  subscribe(event: string, listener: Listener): () => void;
}

const LiveContext = createContext<LiveEvents | null>(null);

/**
 * Puts an event's data into a query. A fetch of that query in flight read the server before the
 * event was sent: it is cancelled (the query keeps its data, then takes the event's) and started again.
 */
function applyEvent<T>(queryClient: QueryClient, queryKey: QueryKey, update: Updater<T | undefined, T | undefined>): void {
  const fetching = queryClient.isFetching({ queryKey, exact: true }) > 0;
  // `revert` (the default) puts back the state from before that fetch, synchronously.
  if (fetching) void queryClient.cancelQueries({ queryKey, exact: true });
  queryClient.setQueryData<T>(queryKey, update);
  if (fetching) void queryClient.refetchQueries({ queryKey, exact: true, type: 'active' });
}

/** Fetches a query again now, without letting a fetch that started earlier answer for it. */
function refetchFresh(queryClient: QueryClient, queryKey?: QueryKey, predicate?: (query: Query) => boolean): void {
  const filters = { ...(queryKey === undefined ? {} : { queryKey }), ...(predicate === undefined ? {} : { predicate }) };
  void queryClient.cancelQueries(filters);
  void queryClient.invalidateQueries(filters);
}


/** Opens the stream while mounted (mount it only when signed in). */
export function LiveEventsProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<LiveStatus>('connecting');
  const listeners = useRef(new Map<string, Set<Listener>>());
  const [value] = useState<Omit<LiveEvents, 'status'>>(() => ({
    subscribe(event, listener) {
      const set = listeners.current.get(event) ?? new Set();
      listeners.current.set(event, set);
      set.add(listener);
      return () => set.delete(listener);
    },
  }));

  useEffect(() => {
    const source = new EventSource('/v1/events', { withCredentials: true });
    const dispatch = (event: string, data: unknown) => {
      for (const listener of listeners.current.get(event) ?? []) listener(data);
    };
    const onServer = (message: MessageEvent<string>) => {
      const data = JSON.parse(message.data) as ServerEvent;
      const { server } = data;
      applyEvent<ServerList>(queryClient, queryKeys.servers, (list) => {
        if (!list) return list;
        const known = list.servers.some((s) => s.id === server.id);
        return { servers: known ? list.servers.map((s) => (s.id === server.id ? server : s)) : [...list.servers, server] };
      });
      applyEvent(queryClient, queryKeys.server(server.name), () => server);
      refetchFresh(queryClient, queryKeys.rescue(server.name));
      // A rescue that ends or starts changes which report the doctor shows (the last one, or none yet).
      refetchFresh(queryClient, queryKeys.doctor(server.name));
      // The desktop opens once the rescue is up (its host keys reported) and closes when it ends.
      refetchFresh(queryClient, queryKeys.desktop(server.name));
      // The event carries the newest task: the timeline follows it without waiting for a refetch.
      const task = data.task;
      applyEvent<TaskList>(queryClient, queryKeys.tasks(server.name), (list) =>
        list && task ? { ...list, tasks: list.tasks.some((t) => t.id === task.id) ? list.tasks.map((t) => (t.id === task.id ? task : t)) : [task, ...list.tasks] } : list,
      );
      void queryClient.invalidateQueries({ queryKey: queryKeys.tasks(server.name), refetchType: 'none' });
      dispatch('server', data);
    };
    const onTest = (message: MessageEvent<string>) => dispatch('test', JSON.parse(message.data) as unknown);
    // The event carries the whole view, as `GET /v1/servers/{name}/doctor` answers it.
    const onDoctor = (message: MessageEvent<string>) => {
      const data = JSON.parse(message.data) as DoctorEvent;
      applyEvent(queryClient, queryKeys.doctor(data.doctor.server), () => data.doctor);
      dispatch('doctor', data);
    };
    source.addEventListener('server', onServer);
    source.addEventListener('test', onTest);
    source.addEventListener('doctor', onDoctor);
    source.onopen = () => {
      setStatus('open');
      // Changes made before the stream (re)opened were sent to nobody: read everything again.
      refetchFresh(queryClient, undefined, (query) => !answeredNotFound(query));
    };
    source.onerror = () => setStatus(source.readyState === EventSource.CLOSED ? 'interrupted' : 'connecting');
    return () => source.close();
  }, [queryClient]);

  return <LiveContext.Provider value={{ ...value, status }}>{children}</LiveContext.Provider>;
}

/** The stream's status. */
export function useLiveStatus(): LiveStatus {
  return useContext(LiveContext)?.status ?? 'connecting';
}

/** Calls `listener` with each event of that name (`server`: a ServerEvent, `test`: `{test}`, `doctor`: `{doctor}`). */
export function useLiveEvent(event: string, listener: Listener): void {
  const live = useContext(LiveContext);
  const latest = useRef(listener);
  latest.current = listener;
  useEffect(() => live?.subscribe(event, (data) => latest.current(data)), [live, event]);
}
