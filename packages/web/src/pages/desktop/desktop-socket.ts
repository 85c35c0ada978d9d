/**
 * The desktop's WebSocket (`GET /v1/servers/{name}/desktop/ws`): raw RFB bytes in binary frames both
 * ways, as websockify gives them to noVNC. Why a connection ended is read from its close event:
 * - after the upgrade, the control plane closes with 1011 and the error code as the reason
 *   (`DESKTOP_UNREACHABLE`);
 * - a refused upgrade (409, 503, 403, 404) reaches the page only as 1006 without a reason: the page
 *   reads the desktop's view again to learn why.
 * Pure and tested beside.
 */

/** The WebSocket URL of `path` (`DesktopView.websocket`) on the control plane that served the page at `origin`. */
export function desktopSocketUrl(origin: string, path: string): string {
  const url = new URL(path, origin);
  // Only the page's own origin: the view's path must not send the session's cookie elsewhere.
  if (url.origin !== new URL(origin).origin) throw new Error(`the desktop's WebSocket is not on ${origin}`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

/** How a desktop connection ended, as the page explains it. */
export type DesktopEnd =
  /** The viewer disconnected (Reconnect, leaving the page). */
  | { readonly kind: 'closed' }
  /** The control plane said why: an error code of the API (`DESKTOP_UNREACHABLE`). */
  | { readonly kind: 'error'; readonly code: string }
  /** No reason given: the upgrade was refused, or the network dropped; the view says more. */
  | { readonly kind: 'unexplained' };

/** Reads a close event's code and reason. */
export function desktopEnd(code: number, reason: string): DesktopEnd {
  const given = reason.trim();
  if (/^[A-Z][A-Z0-9_]{2,63}$/.test(given)) return { kind: 'error', code: given };
  if (code === 1000 || code === 1001 || code === 1005) return { kind: 'closed' };
  return { kind: 'unexplained' };
}
