/**
 * The rescue desktop (issue 16): the `windows` profile's graphical desktop, reached in the browser or
 * with a VNC viewer. Pure data: bundled for the agent (QuickJS) and the browser.
 *
 * The rescue system runs its VNC server (`Xtigervnc`, display `:0`) on 127.0.0.1:{@link desktopVncPort}
 * only, without a VNC password: nothing listens on the provisioning network. Two ways reach it, both
 * through the rescue's sshd:
 * - the web console: `GET /v1/servers/{name}/desktop/ws` (WebSocket, behind the API's authentication);
 *   the control plane opens an SSH connection to the rescue with its own desktop client key, which the
 *   agent authorized for one thing only, forwarding to 127.0.0.1:5900 ({@link desktopAuthorizedKeyLine}),
 *   checks the rescue's host key against the keys the agent reported, and relays the RFB bytes
 *   (binary frames both ways, as websockify does) to noVNC in the page;
 * - a VNC viewer through an SSH tunnel of the customer's own (`DesktopView.tunnel`).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** The TCP port of the rescue's VNC server, on 127.0.0.1 of the rescue system only. */
export const desktopVncPort = 5900;

/** The rescue profiles whose image runs a desktop. */
export const desktopProfiles: readonly string[] = ['windows'];

/** Whether a rescue of this profile has a desktop. */
export function profileHasDesktop(profile: string | null | undefined): boolean {
  return profile !== null && profile !== undefined && desktopProfiles.includes(profile);
}

/** Desktop WebSockets one replica keeps open per server (VNC shares one screen among them). */
export const desktopViewersPerServer = 8;

/** The comment that names the control plane's desktop key in the rescue's `authorized_keys`. */
export const desktopKeyComment = 'lifeboat-desktop';

/**
 * The `authorized_keys` line of the control plane's desktop client key: no shell, no PTY, no agent or
 * X11 forwarding, no remote forwarding (`restrict`), local forwarding to the VNC server and nowhere else.
 * `publicKey` is `TYPE BASE64`; anything else is refused (it must not carry options of its own).
 */
export function desktopAuthorizedKeyLine(publicKey: string): string {
  const parts = publicKey.trim().split(/\s+/);
  if (parts.length < 2 || !/^ssh-ed25519$/.test(parts[0]!) || !/^[A-Za-z0-9+/]+={0,2}$/.test(parts[1]!)) {
    throw new Error('the desktop key is not an ssh-ed25519 public key');
  }
  return `restrict,port-forwarding,permitopen="127.0.0.1:${desktopVncPort}",command="/bin/false" ${parts[0]} ${parts[1]} ${desktopKeyComment}`;
}

/** Why a server's desktop cannot be opened now (`DesktopView.reason`). */
export const desktopUnavailableReasons = ['not-in-rescue', 'no-desktop-profile', 'no-ssh-endpoint', 'no-host-keys'] as const;
export type DesktopUnavailableReason = (typeof desktopUnavailableReasons)[number];

/** `GET /v1/servers/{name}/desktop`: whether the rescue's desktop can be opened, and how. */
export const DesktopViewSchema = Type.Object({
  server: Type.String(),
  /** Whether `GET .../desktop/ws` would connect now (the rescue is up and its profile has a desktop). */
  available: Type.Boolean(),
  /** When not available, why (one of `desktopUnavailableReasons`). */
  reason: Nullable(Type.Union(desktopUnavailableReasons.map((r) => Type.Literal(r)))),
  /** The profile of the rescue in progress (null without one). */
  profile: Nullable(Type.String()),
  /** The WebSocket path that carries the desktop's RFB bytes (binary frames both ways). */
  websocket: Type.String({ description: 'path of the WebSocket: /v1/servers/{name}/desktop/ws' }),
  /** The SSH tunnel for a VNC viewer of one's own, then `vncviewer localhost:5900` (null without an SSH endpoint). */
  tunnel: Nullable(Type.String({ description: 'ssh -N -L 5900:127.0.0.1:5900 -p PORT root@HOST' })),
  /** Desktop WebSockets open on this replica now (those still opening included). */
  viewers: Type.Integer({ minimum: 0 }),
  /** How many viewers one replica lets this desktop have at once; one more is refused with `DESKTOP_FULL`. */
  viewerLimit: Type.Integer({ minimum: 1 }),
});
export type DesktopView = Static<typeof DesktopViewSchema>;
