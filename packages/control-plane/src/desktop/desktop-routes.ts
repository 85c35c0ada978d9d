/**
 * The rescue desktop's routes (issue 16): `GET /v1/servers/{name}/desktop` (whether it can be opened,
 * its WebSocket, the SSH tunnel for a VNC viewer of one's own) and `GET /v1/servers/{name}/desktop/ws`,
 * a WebSocket carrying the rescue's RFB bytes in binary frames both ways (what websockify gives noVNC),
 * behind the API's authentication (action `desktop.use`), with the tenant rules of every server route.
 *
 * The forward to the rescue is opened before the upgrade, so that a desktop that cannot be reached is an
 * HTTP answer with its code (`DESKTOP_UNREACHABLE`), not a WebSocket that opens and dies. A cookie-
 * authenticated upgrade must come from a page of this origin (`ORIGIN_REFUSED` otherwise): browsers send
 * cookies with cross-site WebSocket requests, and the desktop is a root session on the customer's server.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { LifeboatError, canSee, desktopViewersPerServer, desktopVncPort, profileHasDesktop, type DesktopUnavailableReason, type Principal, type RescueSession, type Server } from '@lifeboat/core';
import { DesktopViewSchema, ErrorSchema, NameParams, errorResponses, type DesktopView } from '../http/schemas.js';
import type { AppOptions } from '../http/app.js';
import { authorize } from '../http/auth.js';
import { desktopClientKey } from './desktop-key.js';
import { DesktopSeats, type DesktopSeat } from './desktop-seats.js';
import { openDesktopTunnel, type DesktopTunnel } from './desktop-tunnel.js';

/** A WebSocket's send buffer past which the rescue's stream is paused until it drains. */
const highWaterBytes = 1024 * 1024;

/** Why a session offers no desktop now, or undefined when it does. */
function unavailable(server: Server, session: RescueSession | undefined): DesktopUnavailableReason | undefined {
  if (session === undefined || session.state !== 'rescue') return 'not-in-rescue';
  if (!profileHasDesktop(session.profile)) return 'no-desktop-profile';
  if (server.sshEndpoint === null) return 'no-ssh-endpoint';
  if (session.hostKeys.length === 0) return 'no-host-keys';
  return undefined;
}

const reasonMessages: Record<DesktopUnavailableReason, (name: string) => string> = {
  'not-in-rescue': (name) => `${name} is not in rescue: its desktop runs in a rescue of the windows profile (lifeboat rescue enter ${name} --profile windows)`,
  'no-desktop-profile': (name) => `the rescue of ${name} has no desktop: only the windows profile runs one (exit and enter again with --profile windows)`,
  'no-ssh-endpoint': (name) => `${name} has no SSH address registered: the control plane cannot reach its rescue system (an operator sets it with the server's sshEndpoint)`,
  'no-host-keys': (name) => `the rescue system of ${name} has not reported its SSH host keys yet: wait until it is ready`,
};

/** `ssh -N -L ...`: the tunnel a customer opens for a VNC viewer of their own (also in a desktop rescue's MOTD). */
export function tunnelCommand(server: Server): string | null {
  const endpoint = server.sshEndpoint;
  if (endpoint === null) return null;
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return `ssh -N -L ${desktopVncPort}:127.0.0.1:${desktopVncPort}${endpoint.port === 22 ? '' : ` -p ${endpoint.port}`} root@${host}`;
}

/** Whether a browser's upgrade comes from a page of this origin (requests without `Origin` are not a browser's). */
function sameOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === request.host;
  } catch {
    return false;
  }
}

/** The desktop routes. */
export function desktopRoutes(options: AppOptions): FastifyPluginAsync {
  const { store } = options;
  const seats = new DesktopSeats(desktopViewersPerServer);
  /** Forwards opened before the upgrade, with their seats, claimed by the WebSocket handler. */
  const pending = new WeakMap<FastifyRequest, { readonly tunnel: DesktopTunnel; readonly seat: DesktopSeat }>();

  async function visibleServer(principal: Principal, name: string): Promise<Server> {
    const server = await store.servers.byName(name);
    if (!server || !canSee(principal, server.tenantId)) throw new LifeboatError('SERVER_NOT_FOUND', `no server named ${name}`);
    return server;
  }

  return async (app) => {
    app.get<{ Params: NameParams }>(
      '/v1/servers/:name/desktop',
      { schema: { tags: ['desktop'], params: NameParams, response: { 200: DesktopViewSchema, ...errorResponses } } },
      async (request): Promise<DesktopView> => {
        const principal = authorize(request, 'server.read');
        const server = await visibleServer(principal, request.params.name);
        const session = await store.sessions.openFor(server.id);
        const reason = unavailable(server, session);
        return {
          server: server.name,
          available: reason === undefined,
          reason: reason ?? null,
          profile: session?.profile ?? null,
          websocket: `/v1/servers/${encodeURIComponent(server.name)}/desktop/ws`,
          tunnel: session !== undefined && profileHasDesktop(session.profile) ? tunnelCommand(server) : null,
          viewers: seats.count(server.id),
          viewerLimit: desktopViewersPerServer,
        };
      },
    );

    app.route<{ Params: NameParams }>({
      method: 'GET',
      url: '/v1/servers/:name/desktop/ws',
      schema: {
        tags: ['desktop'],
        description:
          'WebSocket (Upgrade): the rescue desktop\'s RFB bytes, binary frames both ways (noVNC connects to it). Refused before the upgrade: 409 DESKTOP_UNAVAILABLE (no rescue with a desktop), 409 DESKTOP_FULL (the desktop has its viewerLimit viewers on this replica), 503 DESKTOP_UNREACHABLE (its sshd or VNC server did not answer), 403 ORIGIN_REFUSED (a page of another origin). Without Upgrade: 400.',
        params: NameParams,
        response: { ...errorResponses, 503: ErrorSchema },
      },
      preHandler: async (request) => {
        const principal = authorize(request, 'desktop.use');
        const server = await visibleServer(principal, request.params.name);
        if (principal.user !== undefined && !sameOrigin(request)) throw new LifeboatError('ORIGIN_REFUSED', 'the desktop opens only from a page of this control plane');
        if (request.headers.upgrade?.toLowerCase() !== 'websocket') return;
        const session = await store.sessions.openFor(server.id);
        const reason = unavailable(server, session);
        if (reason !== undefined || session === undefined || server.sshEndpoint === null) throw new LifeboatError('DESKTOP_UNAVAILABLE', reasonMessages[reason ?? 'not-in-rescue'](server.name));
        // The seat is taken before the first await below: simultaneous opens cannot all pass the check.
        const seat = seats.take(server.id);
        if (seat === undefined) {
          throw new LifeboatError('DESKTOP_FULL', `the desktop of ${server.name} already has ${desktopViewersPerServer} viewers on this control plane: close one first`);
        }
        let tunnel: DesktopTunnel;
        try {
          const key = await desktopClientKey(store);
          tunnel = await openDesktopTunnel({
            host: server.sshEndpoint.host,
            port: server.sshEndpoint.port,
            privateKey: key.privateKey,
            hostKeys: session.hostKeys.map((k) => k.publicKey),
          });
        } catch (error) {
          seat.release();
          throw error;
        }
        const opened = { tunnel, seat };
        pending.set(request, opened);
        // A client that goes away before the upgrade leaves no forward open and no seat taken.
        setTimeout(() => {
          if (pending.get(request) === opened) {
            pending.delete(request);
            tunnel.close();
            seat.release();
          }
        }, 30_000).unref();
      },
      handler: async () => {
        throw new LifeboatError('BAD_REQUEST', 'the desktop is a WebSocket: connect with "Upgrade: websocket" (the web console does)');
      },
      wsHandler: async (socket, request) => {
        const opened = pending.get(request);
        pending.delete(request);
        if (opened === undefined) return socket.close(1011, 'DESKTOP_UNAVAILABLE');
        const { tunnel, seat } = opened;
        const { stream } = tunnel;
        const openedAt = Date.now();
        let bytesIn = 0;
        let bytesOut = 0;
        /** Who opened it, on which server, once known (the audit's desktop.closed entry needs both). */
        let viewer: { readonly who: string; readonly server: Server } | undefined;
        /** Why it ended, once it has. */
        let ended: string | undefined;
        const recordClosed = (why: string) => {
          if (viewer === undefined) return;
          const { who, server } = viewer;
          request.log.info({ server: server.name, bytesIn, bytesOut }, `desktop closed: ${why}`);
          store.audit
            .record(who, 'desktop.closed', { tenantId: server.tenantId, serverId: server.id, detail: { via: 'websocket', reason: why, seconds: Math.round((Date.now() - openedAt) / 1000), bytesIn, bytesOut } })
            .catch((error: unknown) => request.log.warn({ err: error }, 'desktop.closed audit entry not recorded'));
        };
        // Whatever ends this viewer, from the first moment on (the awaits below too), closes its
        // forward and gives its seat back, once.
        const finish = (why: string) => {
          if (ended !== undefined) return;
          ended = why;
          tunnel.close();
          if (socket.readyState === socket.OPEN) socket.close(1000, why);
          seat.release();
          recordClosed(why);
        };
        stream.once('close', () => finish('the rescue system closed the desktop'));
        stream.once('error', () => finish('the connection to the rescue system failed'));
        socket.once('close', () => finish('the viewer left'));

        try {
          const principal = authorize(request, 'desktop.use');
          const server = await store.servers.byName(request.params.name);
          if (server === undefined) {
            if (socket.readyState === socket.OPEN) socket.close(1011, 'DESKTOP_UNAVAILABLE');
            return finish('the server was removed');
          }
          const who = principal.user !== undefined ? `user:${principal.user}` : principal.tokenId;
          await store.audit.record(who, 'desktop.opened', { tenantId: server.tenantId, serverId: server.id, detail: { via: 'websocket', role: principal.role } });
          request.log.info({ server: server.name }, 'desktop opened');
          viewer = { who, server };
        } catch (error) {
          // No code to give (the database failed, not the desktop): the page reads the view again.
          if (socket.readyState === socket.OPEN) socket.close(1011);
          finish('the desktop could not be opened');
          throw error;
        }
        // The viewer left while the audit entry was written: its closing entry follows the opening one.
        if (ended !== undefined) return recordClosed(ended);

        stream.on('data', (chunk: Buffer) => {
          bytesOut += chunk.length;
          if (socket.readyState !== socket.OPEN) return;
          socket.send(chunk, { binary: true });
          if (socket.bufferedAmount > highWaterBytes) {
            // `ws` has no drain event: the rescue's stream waits until the browser has taken the screen.
            stream.pause();
            const timer = setInterval(() => {
              if (socket.readyState !== socket.OPEN || socket.bufferedAmount < highWaterBytes / 4) {
                clearInterval(timer);
                stream.resume();
              }
            }, 20);
          }
        });
        socket.on('message', (data: Buffer, isBinary: boolean) => {
          if (!isBinary) return;
          bytesIn += data.length;
          stream.write(data);
        });
      },
    });
  };
}
