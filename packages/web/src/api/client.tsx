/**
 * The typed client of `@lifeboat/core` in its browser mode: same origin, the session cookie, and the
 * session's CSRF token (learnt from sign-in or the session) on unsafe methods. Pages get it with {@link useClient} and read data through
 * TanStack Query (`queryKeys` below), which the SSE stream invalidates.
 */
import { LifeboatClient } from '@lifeboat/core/client';
import { createContext, useContext, type ReactNode } from 'react';

/** A client of the control plane that served the page: the session cookie, and the CSRF token it learns at sign-in. */
export function browserClient(): LifeboatClient {
  return new LifeboatClient({ url: location.origin, browser: true });
}

const ClientContext = createContext<LifeboatClient | null>(null);

/** Provides the client to the tree. */
export function ClientProvider({ client, children }: { client: LifeboatClient; children: ReactNode }) {
  return <ClientContext.Provider value={client}>{children}</ClientContext.Provider>;
}

/** The typed client. */
export function useClient(): LifeboatClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error('useClient outside ClientProvider');
  return client;
}

/** Query keys shared by the pages and the SSE stream that invalidates them. */
export const queryKeys = {
  servers: ['servers'] as const,
  server: (name: string) => ['server', name] as const,
  rescue: (name: string) => ['rescue', name] as const,
  tasks: (name: string) => ['tasks', name] as const,
  /** The rescue doctor's report on a server (its rescue in progress, else its last one). */
  doctor: (name: string) => ['doctor', name] as const,
  /** Whether a server's rescue desktop can be opened now, and how (`GET /v1/servers/{name}/desktop`). */
  desktop: (name: string) => ['desktop', name] as const,
  /** The SSH key store: the caller's tenant's keys, or (staff) those of the tenant named. */
  sshKeys: (tenant?: string) => ['ssh-keys', tenant ?? ''] as const,
};
