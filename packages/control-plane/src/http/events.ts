/**
 * Live events by Server-Sent Events: `GET /v1/events` (every server the caller may see) or
 * `GET /v1/events?server=NAME`. Each change of a server's state or of its tasks sends one `server`
 * event with the server and its newest task. A comment line every 15 s keeps proxies from closing it.
 * Changes come from the store's change feed: on PostgreSQL through LISTEN/NOTIFY, so a stream sees the
 * changes made by every replica.
 */
import type { FastifyPluginAsync } from 'fastify';
import { LifeboatError, canSee } from '@lifeboat/core';
import type { AppOptions } from './app.js';
import { authorize } from './auth.js';
import { EventsQuery, errorResponses } from './schemas.js';
import { serverView, taskView } from './views.js';

/** SSE routes. */
export function eventRoutes(options: AppOptions): FastifyPluginAsync {
  const { store } = options;
  return async (app) => {
    app.get<{ Querystring: { server?: string } }>(
      '/v1/events',
      { schema: { tags: ['events'], querystring: EventsQuery, response: errorResponses, produces: ['text/event-stream'] } },
      async (request, reply) => {
        const principal = authorize(request, 'server.read');
        let only: string | undefined;
        if (request.query.server !== undefined) {
          const server = await store.servers.byName(request.query.server);
          if (!server || !canSee(principal, server.tenantId)) throw new LifeboatError('SERVER_NOT_FOUND', `no server named ${request.query.server}`);
          only = server.id;
        }
        reply.hijack();
        const raw = reply.raw;
        raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
        let sending = Promise.resolve();
        const send = (serverId: string) => {
          if (only !== undefined && serverId !== only) return;
          sending = sending.then(async () => {
            const server = await store.servers.byId(serverId);
            if (!server || !canSee(principal, server.tenantId)) return;
            const tenant = await store.tenants.byId(server.tenantId);
            const [task] = await store.tasks.forServer(server.id, 1);
            const data = { server: serverView(server, tenant?.name ?? '', await store.sessions.openFor(server.id)), task: task ? taskView(task) : null };
            raw.write(`event: server\ndata: ${JSON.stringify(data)}\n\n`);
          }).catch((error: unknown) => request.log.warn({ err: error }, 'event stream write failed'));
        };
        raw.write(': connected\n\n');
        if (only !== undefined) send(only);
        store.changes.on('server', send);
        const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
        const close = () => {
          clearInterval(keepAlive);
          store.changes.off('server', send);
          options.signal.removeEventListener('abort', close);
          raw.end();
        };
        raw.on('close', close);
        options.signal.addEventListener('abort', close, { once: true });
      },
    );
  };
}
