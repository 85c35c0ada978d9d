/**
 * The browser session: `GET /v1/auth/session` on load, `POST /v1/auth/sign-in` and `/sign-out`. The
 * cookie is httpOnly (the page never sees it); the CSRF token of the answer goes with every unsafe
 * request. An `UNAUTHORIZED` answer anywhere (the session expired) brings the sign-in page back.
 */
import type { UserView } from '@lifeboat/core/api';
import type { LifeboatClient } from '@lifeboat/core/client';
import { QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { browserClient, ClientProvider } from '../api/client.js';
import { errorCode } from '../i18n/error-message.js';

/** The signed-in user, as `GET /v1/auth/session` answers it. */
export type SessionUser = UserView;

/** Where the session stands. */
export type SessionState =
  | { readonly status: 'loading' }
  | { readonly status: 'signed-out'; readonly reason?: 'signed-out' | 'expired' }
  | { readonly status: 'signed-in'; readonly user: SessionUser };

interface Session {
  readonly state: SessionState;
  signIn(name: string, password: string): Promise<void>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

/** Provides the session, the typed client and the query cache. */
export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<SessionState>({ status: 'loading' });
  const [client] = useState<LifeboatClient>(() => browserClient());
  const [queryClient] = useState(
    () =>
      new QueryClient({
        queryCache: new QueryCache({
          onError: (error) => {
            if (errorCode(error) === 'UNAUTHORIZED') {
              setState({ status: 'signed-out', reason: 'expired' });
            }
          },
        }),
        defaultOptions: {
          queries: {
            // The SSE stream keeps data fresh; a refetch on focus covers a stream that was interrupted.
            staleTime: 30_000,
            retry: (count, error) => count < 2 && ['UNREACHABLE', 'HTTP_ERROR', 'INTERNAL'].includes(errorCode(error)),
          },
        },
      }),
  );

  useEffect(() => {
    let live = true;
    client
      .session()
      .then((answer) => {
        if (!live) return;
        setState({ status: 'signed-in', user: answer.user });
      })
      .catch(() => live && setState({ status: 'signed-out' }));
    return () => {
      live = false;
    };
  }, [client]);

  const signIn = useCallback(
    async (name: string, password: string) => {
      const answer = await client.signIn({ name, password });
      queryClient.clear();
      setState({ status: 'signed-in', user: answer.user });
    },
    [client, queryClient],
  );
  const signOut = useCallback(async () => {
    try {
      await client.signOut();
    } finally {
      queryClient.clear();
      setState({ status: 'signed-out', reason: 'signed-out' });
    }
  }, [client, queryClient]);

  const session = useMemo<Session>(() => ({ state, signIn, signOut }), [state, signIn, signOut]);
  return (
    <SessionContext.Provider value={session}>
      <ClientProvider client={client}>
        <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>
      </ClientProvider>
    </SessionContext.Provider>
  );
}

/** The session. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside SessionProvider');
  return session;
}

/** The signed-in user (only inside the signed-in part of the tree). */
export function useUser(): SessionUser {
  const { state } = useSession();
  if (state.status !== 'signed-in') throw new Error('useUser while signed out');
  return state.user;
}
