/**
 * Long-lived answers (event streams, downloads) end when the token that opened them is revoked: the
 * store announces each revocation on its change feed (through NOTIFY on PostgreSQL, so a revocation on
 * one replica ends streams on every replica), and the token is also re-read every `recheckMs`, in case
 * a notification was lost while the feed's connection was being re-established.
 */
import type { Principal } from '@lifeboat/core';
import type { Store } from '../store/store.js';

/** How often an open stream re-reads its token (default of {@link endOnRevoke}). */
export const tokenRecheckMs = 15_000;

/**
 * Calls `end` once, as soon as `principal`'s token is revoked. Returns the function that stops
 * watching (call it when the stream ends for any other reason).
 */
export function endOnRevoke(store: Store, principal: Principal, end: () => void, recheckMs = tokenRecheckMs): () => void {
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
    if (tokenId === principal.tokenId) fire();
  };
  const recheck = setInterval(() => {
    store.tokens.isActive(principal.tokenId).then((active) => active || fire(), () => {});
  }, recheckMs);
  recheck.unref();
  store.changes.on('token', onRevoked);
  return stop;
}
