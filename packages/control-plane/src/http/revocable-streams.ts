/**
 * Long-lived answers (event streams, downloads) end when the credential that opened them ends: an API
 * token when it is revoked, a browser session when it is signed out, ended by a password change or
 * past its expiry. The store announces each token revocation on its change feed (through NOTIFY on
 * PostgreSQL, so a revocation on one replica ends streams on every replica), and the credential is
 * also re-read every `recheckMs`, in case a notification was lost while the feed's connection was
 * being re-established (and for browser sessions, which are only re-read).
 *
 * A browser session's principal carries `user:NAME` as its `tokenId` (the audit actor), which is no
 * API token: re-reading it as one ended every cookie-opened stream 15 s after it opened, and the web
 * console missed the changes made while its `EventSource` reconnected. Hence {@link streamCredentialOf}.
 */
import type { FastifyRequest } from 'fastify';
import type { Store } from '../store/store.js';
import { principalOf } from './auth.js';

/** How often an open stream re-reads its credential (default of {@link endOnRevoke}). */
export const tokenRecheckMs = 15_000;

/** What authenticated a stream: an API token, or a browser session (its cookie). */
export type StreamCredential = { readonly tokenId: string } | { readonly browserSessionId: string };

/** The credential of an authenticated request: its browser session when it came with the cookie, else its token. */
export function streamCredentialOf(request: FastifyRequest): StreamCredential {
  const session = request.browserSession;
  return session ? { browserSessionId: session.id } : { tokenId: principalOf(request).tokenId };
}

/**
 * Calls `end` once, as soon as `credential` ends (a token revoked; a browser session gone or
 * expired). Returns the function that stops watching (call it when the stream ends for any other
 * reason).
 */
export function endOnRevoke(store: Store, credential: StreamCredential, end: () => void, recheckMs = tokenRecheckMs): () => void {
  let done = false;
  const stop = () => {
    if (done) return;
    done = true;
    store.changes.off('token', onRevoked);
    clearInterval(recheck);
  };
  const fire = () => {
    if (done) return;
    stop();
    end();
  };
  const onRevoked = (tokenId: string) => {
    if ('tokenId' in credential && tokenId === credential.tokenId) fire();
  };
  const isLive = () => ('tokenId' in credential ? store.tokens.isActive(credential.tokenId) : store.browserSessions.isLive(credential.browserSessionId));
  const recheck = setInterval(() => {
    isLive().then((live) => live || fire(), () => {});
  }, recheckMs);
  recheck.unref();
  store.changes.on('token', onRevoked);
  return stop;
}
