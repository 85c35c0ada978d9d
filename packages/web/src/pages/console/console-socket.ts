/**
 * The live console's WebSocket (`/v1/servers/{name}/console/ws`, see the control plane's
 * `console/live-routes.ts`): binary frames are console bytes both ways, text frames are the control
 * plane's notices. Reading those notices is pure and tested beside.
 */

/** Close code of a refused writer seat: the session ends with exit status 1, sent as 4000 + status. */
export const seatRefusedCloseCode = 4001;

/** The WebSocket URL of a server's console for a page served at `origin` (`http:` → `ws:`). */
export function consoleSocketUrl(origin: string, server: string, write: boolean): string {
  const url = new URL(`/v1/servers/${encodeURIComponent(server)}/console/ws`, origin);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (write) url.searchParams.set('write', '1');
  return url.toString();
}

/** The seat a notice says this viewer got (`[lifeboat] console of web-1, writer; ...`), else null. */
export function attachedMode(notice: string): 'write' | 'read' | null {
  const match = /^\[lifeboat\] console of .+?, (writer|read-only)[;,]/.exec(notice.trim());
  if (!match) return null;
  return match[1] === 'writer' ? 'write' : 'read';
}

/** Who holds the writer seat, from the notice of a refusal (`... is being written by WHO (since ISO); ...`). */
export function seatHolder(notice: string): { readonly who: string; readonly since: string | null } | null {
  const match = /is being written by (.+?)(?: \(since ([^)]+)\))?;/.exec(notice);
  if (!match) return null;
  return { who: match[1] as string, since: match[2] ?? null };
}
