/**
 * Live updates: one `EventSource` on `GET /v1/events` (same origin, the session cookie) for the whole
 * console. Each `server` event updates the cached server list and server, and invalidates that server's
 * rescue view and tasks, so every page on screen follows without reload. Pages that need more (a
 * hardware test's progress) subscribe with {@link useLiveEvent}. EventSource reconnects by itself; the
 * status is shown in the header.
 */
import type { ServerEvent, ServerList, TaskList } from '@lifeboat/core/api';
import { useQueryClient } from '@tanstack/react-query';
import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { queryKeys } from './client.js';

/** Whether the stream is open. */
export type LiveStatus = 'connecting' | 'open' | 'interrupted';
type Listener = (data: unknown) => void;

interface LiveEvents {
  readonly status: LiveStatus;
  subscribe(event: string, listener: Listener): () => void;
}

const LiveContext = createContext<LiveEvents | null>(null);

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
      queryClient.setQueryData<ServerList>(queryKeys.servers, (list) => {
        if (!list) return list;
        const known = list.servers.some((s) => s.id === server.id);
        return { servers: known ? list.servers.map((s) => (s.id === server.id ? server : s)) : [...list.servers, server] };
      });
      queryClient.setQueryData(queryKeys.server(server.name), server);
      void queryClient.invalidateQueries({ queryKey: queryKeys.rescue(server.name) });
      // The event carries the newest task: the timeline follows it without waiting for a refetch.
      const task = data.task;
      if (task) {
        queryClient.setQueryData<TaskList>(queryKeys.tasks(server.name), (list) =>
          list ? { ...list, tasks: list.tasks.some((t) => t.id === task.id) ? list.tasks.map((t) => (t.id === task.id ? task : t)) : [task, ...list.tasks] } : list,
        );
      }
      void queryClient.invalidateQueries({ queryKey: queryKeys.tasks(server.name), refetchType: 'none' });
      dispatch('server', data);
    };
    const onTest = (message: MessageEvent<string>) => dispatch('test', JSON.parse(message.data) as unknown);
    source.addEventListener('server', onServer);
    source.addEventListener('test', onTest);
    source.onopen = () => setStatus('open');
    source.onerror = () => setStatus(source.readyState === EventSource.CLOSED ? 'interrupted' : 'connecting');
    return () => source.close();
  }, [queryClient]);

  return <LiveContext.Provider value={{ ...value, status }}>{children}</LiveContext.Provider>;
}

/** The stream's status. */
export function useLiveStatus(): LiveStatus {
  return useContext(LiveContext)?.status ?? 'connecting';
}

/** Calls `listener` with each event of that name (`server`: a ServerEvent, `test`: `{test}`). */
export function useLiveEvent(event: string, listener: Listener): void {
  const live = useContext(LiveContext);
  const latest = useRef(listener);
  latest.current = listener;
  useEffect(() => live?.subscribe(event, (data) => latest.current(data)), [live, event]);
}
