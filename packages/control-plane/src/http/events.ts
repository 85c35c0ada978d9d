/**
 * Live events by Server-Sent Events: `GET /v1/events` (every server the caller may see) or
 * `GET /v1/events?server=NAME`. Each change of a server's state or of its tasks sends one `server`
 * event with the server and its newest task. A comment line every 15 s keeps proxies from closing it.
 * Changes come from the store's change feed: on PostgreSQL through LISTEN/NOTIFY, so a stream sees the
 * changes made by every replica. Each change of a hardware test sends one `test` event (`{test}`, the
 * test as `GET /v1/servers/{name}/tests/{id}` shows it), at most one per {@link testEventIntervalMs} per
 * test: the last change of a burst is always sent. Each change of a server's rescue doctor report or of
 * its fixes sends one `doctor` event (`{doctor}`, as `GET /v1/servers/{name}/doctor` shows it).
 */
import type { FastifyPluginAsync } from 'fastify';
import { LifeboatError, canSee } from '@lifeboat/core';
import type { AppOptions } from './app.js';
import { authorize } from './auth.js';
import { endOnRevoke, streamCredentialOf } from './revocable-streams.js';
import { securityHeaders } from './security-headers.js';
import { EventsQuery, errorResponses } from './schemas.js';
import { serverView, taskView } from './views.js';
import { hardwareTestView } from './hardware-test-routes.js';
import { doctorViewOf } from '../doctor/doctor-routes.js';

/** Least time between two `test` events of one test (progress may be reported many times a second). */
export const testEventIntervalMs = 250;

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
        raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', ...securityHeaders });
        let open = true;
        let sending = Promise.resolve();
        const send = (serverId: string) => {
          if (!open || (only !== undefined && serverId !== only)) return;
          sending = sending.then(async () => {
            const server = await store.servers.byId(serverId);
            if (!server || !canSee(principal, server.tenantId)) return;
            const tenant = await store.tenants.byId(server.tenantId);
            const [task] = await store.tasks.forServer(server.id, 1);
            const data = { server: serverView(server, tenant?.name ?? '', await store.sessions.openFor(server.id)), task: task ? taskView(task) : null };
            if (!open) return;
            raw.write(`event: server\ndata: ${JSON.stringify(data)}\n\n`);
          }).catch((error: unknown) => request.log.warn({ err: error }, 'event stream write failed'));
        };
        // Per test: when its last event went out, and the timer of a change held back meanwhile.
        const lastSent = new Map<string, number>();
        const held = new Map<string, NodeJS.Timeout>();
        const sendTest = (testId: string) => {
          sending = sending.then(async () => {
            lastSent.set(testId, Date.now());
            const test = await store.hardwareTests.byId(testId);
            if (!test || !canSee(principal, test.tenantId) || (only !== undefined && test.serverId !== only)) return;
            const server = await store.servers.byId(test.serverId);
            if (!server || !open) return;
            raw.write(`event: test\ndata: ${JSON.stringify({ test: hardwareTestView(test, server.name) })}\n\n`);
          }).catch((error: unknown) => request.log.warn({ err: error }, 'event stream write failed'));
        };
        const onTest = (testId: string) => {
          if (held.has(testId)) return;
          const wait = (lastSent.get(testId) ?? 0) + testEventIntervalMs - Date.now();
          if (wait <= 0) return sendTest(testId);
          held.set(testId, setTimeout(() => {
            held.delete(testId);
            sendTest(testId);
          }, wait));
        };
        const sendDoctor = (serverId: string) => {
          if (!open || (only !== undefined && serverId !== only)) return;
          sending = sending.then(async () => {
            const server = await store.servers.byId(serverId);
            if (!server || !canSee(principal, server.tenantId)) return;
            const doctor = await doctorViewOf(store, server);
            if (!doctor || !open) return;
            raw.write(`event: doctor\ndata: ${JSON.stringify({ doctor })}\n\n`);
          }).catch((error: unknown) => request.log.warn({ err: error }, 'event stream write failed'));
        };
        raw.write(': connected\n\n');
        if (only !== undefined) send(only);
        store.changes.on('server', send);
        store.changes.on('test', onTest);
        store.changes.on('doctor', sendDoctor);
        const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
        const close = () => {
          if (!open) return;
          open = false;
          stopWatching();
          clearInterval(keepAlive);
          store.changes.off('server', send);
          store.changes.off('test', onTest);
          store.changes.off('doctor', sendDoctor);
          for (const timer of held.values()) clearTimeout(timer);
          options.signal.removeEventListener('abort', close);
          raw.end();
        };
        // A revoked token's stream ends now, not at the next reconnect (which would get 401).
        const stopWatching = endOnRevoke(store, streamCredentialOf(request), close);
        raw.on('close', close);
        options.signal.addEventListener('abort', close, { once: true });
      },
    );
  };
}
