/**
 * Live changes for a feature page, from the shell's one event stream (`GET /v1/events`): `server`
 * and `test` events, and `onOpen` when the stream comes back after an interruption (anything may
 * have changed meanwhile, so the page reloads what it shows).
 */
import { useEffect, useRef } from 'react';
import type { HardwareTestEvent, ServerEvent } from '@lifeboat/core/api';
import { useLiveEvent, useLiveStatus } from '../../api/live-events.js';

/** What a page wants to hear about. */
export interface LiveHandlers {
  readonly onServer?: (event: ServerEvent) => void;
  readonly onTest?: (event: HardwareTestEvent) => void;
  /** The stream reopened after an interruption. */
  readonly onOpen?: () => void;
}

/** Listens while mounted; `server` keeps only that server's events (null: every visible server). */
export function useLiveEvents(server: string | null, handlers: LiveHandlers): void {
  const current = useRef(handlers);
  current.current = handlers;
  useLiveEvent('server', (data) => {
    const event = data as ServerEvent;
    if (server === null || event.server.name === server) current.current.onServer?.(event);
  });
  useLiveEvent('test', (data) => {
    const event = data as HardwareTestEvent;
    if (server === null || event.test.server === server) current.current.onTest?.(event);
  });
  const status = useLiveStatus();
  const wasOpen = useRef<boolean | null>(null);
  useEffect(() => {
    if (status !== 'open') {
      if (wasOpen.current) wasOpen.current = false;
      return;
    }
    if (wasOpen.current === false) current.current.onOpen?.();
    wasOpen.current = true;
  }, [status]);
}
