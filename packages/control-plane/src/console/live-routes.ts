/**
 * The live console over HTTP: `GET /v1/console` (where the SSH gateway listens, its host key) and
 * `GET /v1/servers/{name}/console/ws[?write=1]`, a WebSocket behind the API's authentication with
 * the same tenant rules as every server route (another tenant's server is 404, like a missing one).
 * Binary frames both ways: the scrollback first, then the live bytes; keystrokes from a writer.
 * Notices for the human (read-only, detached, why) come as text frames.
 */
import type { FastifyPluginAsync } from 'fastify';
import { LifeboatError, canSee, type Principal, type Server } from '@lifeboat/core';
import { ConsoleInfoSchema, ConsoleWsQuery, ErrorSchema, NameParams, errorResponses, type ConsoleInfo } from '@lifeboat/core/api';
import type { AppOptions } from '../http/app.js';
import { authorize } from '../http/auth.js';
import { ConsoleSession } from './console-session.js';

/** The console routes; `info` describes the SSH gateway as it runs (null: off). */
export function consoleLiveRoutes(options: AppOptions, info: () => ConsoleInfo): FastifyPluginAsync {
  const { store } = options;

  async function visibleServer(principal: Principal, name: string): Promise<Server> {
    const server = await store.servers.byName(name);
    if (!server || !canSee(principal, server.tenantId)) throw new LifeboatError('SERVER_NOT_FOUND', `no server named ${name}`);
    return server;
  }

  return async (app) => {
    app.get('/v1/console', { schema: { tags: ['console'], response: { 200: ConsoleInfoSchema, ...errorResponses } } }, async (request) => {
      authorize(request, 'server.read');
      return info();
    });

    // `wsHandler` with a plain `handler` (not `websocket: true`, which hides the route from the OpenAPI
    // document and answers a GET without Upgrade with an empty 404): the route is documented, and
    // covered by the authorization matrix like every other one.
    app.route<{ Params: NameParams; Querystring: ConsoleWsQuery }>({
      method: 'GET',
      url: '/v1/servers/:name/console/ws',
      schema: {
        tags: ['console'],
        description: 'WebSocket (Upgrade): the serial console, binary frames both ways, scrollback first; ?write=1 takes the writer seat (409 CONSOLE_BUSY names the holder). Without Upgrade: 400.',
        params: NameParams,
        querystring: ConsoleWsQuery,
        response: { ...errorResponses, 503: ErrorSchema },
      },
      // Answered as HTTP before the upgrade: a refusal is a status and `{code, message}`.
      preHandler: async (request) => {
        const principal = authorize(request, 'server.read');
        await visibleServer(principal, request.params.name);
        if (options.consoles === undefined) throw new LifeboatError('CONSOLE_UNAVAILABLE', 'this control plane serves no consoles');
      },
      handler: async () => {
        throw new LifeboatError('BAD_REQUEST', 'the console is a WebSocket: connect with "Upgrade: websocket" (the web console does)');
      },
      wsHandler: async (socket, request) => {
        const principal = authorize(request, 'server.read');
        const server = await visibleServer(principal, request.params.name);
        const write = request.query.write === '1' || request.query.write === 'true';
        const consoles = options.consoles;
        if (consoles === undefined) return socket.close(1011, 'no consoles');
        let gone = false;
        socket.once('close', () => {
          gone = true;
        });
        // Keystrokes sent while the hub attaches are kept and fed in once attached.
        const early: Buffer[] = [];
        const keepEarly = (data: Buffer, isBinary: boolean) => {
          if (isBinary) early.push(data);
        };
        socket.on('message', keepEarly);
        const session = await ConsoleSession.open({
          store,
          hubs: consoles,
          server,
          write,
          identity: {
            // What a viewer refused the seat reads: a user's name when there is one (the web console).
            who: principal.user !== undefined ? `${principal.user} (${principal.role})` : `token ${principal.tokenId} (${principal.role}) over WebSocket`,
            actor: principal.tokenId,
            detail: { via: 'websocket', role: principal.role },
          },
          limits: options.consoleLimits ?? { idleTimeoutMs: 3_600_000 },
          transport: {
            send: (data) => {
              socket.send(data, { binary: true });
              return socket.bufferedAmount < 256 * 1024;
            },
            onDrain: (listener) => {
              // `ws` has no drain event: poll the socket's buffer until it empties.
              const timer = setInterval(() => {
                if (gone || socket.bufferedAmount < 64 * 1024) {
                  clearInterval(timer);
                  if (!gone) listener();
                }
              }, 20);
            },
            notice: (text) => {
              if (socket.readyState === socket.OPEN) socket.send(text);
            },
            end: (code) => {
              if (socket.readyState === socket.OPEN) socket.close(code === 0 ? 1000 : 4000 + code);
            },
          },
        }).catch((error: unknown) => {
          request.log.warn({ err: error, server: server.name }, 'console attach failed');
          if (socket.readyState === socket.OPEN) {
            socket.send(`[lifeboat] ${error instanceof LifeboatError ? error.message : 'the console is not available'}\r\n`);
            socket.close(1011, error instanceof LifeboatError ? error.code : 'INTERNAL');
          }
          return undefined;
        });
        socket.off('message', keepEarly);
        if (session === undefined) return;
        if (gone) return session.gone();
        for (const data of early) session.input(data);
        socket.on('message', (data: Buffer, isBinary: boolean) => {
          if (isBinary) session.input(data);
        });
        socket.once('close', () => session.gone());
      },
    });
  };
}
