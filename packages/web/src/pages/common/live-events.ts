/**
 * Live changes for one page: an `EventSource` on `GET /v1/events` (same-origin, the session cookie
 * authenticates it), calling back on `server` and `test` events. The browser reconnects by itself;
 * `onReconnect` lets the page reload what it may have missed while the stream was down.
 */
import { useEffect, useRef } from 'react';
import type { HardwareTestEvent, ServerEvent } from '@lifeboat/core';

/** What a page wants to hear about. */
export interface LiveHandlers {
  readonly onServer?: (event: ServerEvent) => void;
  readonly onTest?: (event: HardwareTestEvent) => void;
  /** The stream (re)opened: anything may have changed meanwhile. */
  readonly onOpen?: () => void;
}

/** Listens while mounted; `server` narrows the stream to one server (null: every visible server). */
export function useLiveEvents(server: string | null, handlers: LiveHandlers): void {
  const current = useRef(handlers);
  current.current = handlers;
  useEffect(() => {
    if (typeof EventSource === 'undefined') return;
    const source = new EventSource(server === null ? '/v1/events' : `/v1/events?server=${encodeURIComponent(server)}`);
    let opened = false;
    const parse = <T,>(event: MessageEvent<string>): T | undefined => {
      try {
        return JSON.parse(event.data) as T;
      } catch {
        return undefined;
      }
    };
    source.addEventListener('open', () => {
      // The first open needs no reload: the page has just loaded its data.
      if (opened) current.current.onOpen?.();
      opened = true;
    });
    source.addEventListener('server', (event) => {
      const data = parse<ServerEvent>(event as MessageEvent<string>);
      if (data) current.current.onServer?.(data);
    });
    source.addEventListener('test', (event) => {
      const data = parse<HardwareTestEvent>(event as MessageEvent<string>);
      if (data) current.current.onTest?.(data);
    });
    return () => source.close();
  }, [server]);
}
