/**
 * The console's HTTP routes: a session's recorded console log (`GET /v1/servers/{name}/console/log`).
 * Tenant rules as for sessions: another tenant's server answers exactly like a missing one.
 */
import type { FastifyPluginAsync } from 'fastify';
import { ConsoleLogQuery, ConsoleLogSchema, LifeboatError, NameParams, canSee, type ConsoleLogView } from '@lifeboat/core';
import type { AppOptions } from '../http/app.js';
import { authorize } from '../http/auth.js';
import { errorResponses } from '../http/schemas.js';
import { consoleTail } from './console-text.js';

/** The console routes. */
export function consoleRoutes(options: Pick<AppOptions, 'store'>): FastifyPluginAsync {
  const { store } = options;
  return async (app) => {
    app.get<{ Params: NameParams; Querystring: ConsoleLogQuery }>(
      '/v1/servers/:name/console/log',
      { schema: { tags: ['console'], params: NameParams, querystring: ConsoleLogQuery, response: { 200: ConsoleLogSchema, ...errorResponses } } },
      async (request): Promise<ConsoleLogView> => {
        const principal = authorize(request, 'server.read');
        const { name } = request.params;
        const server = await store.servers.byName(name);
        if (!server || !canSee(principal, server.tenantId)) throw new LifeboatError('SERVER_NOT_FOUND', `no server named ${name}`);
        const wanted = request.query.session;
        if (wanted !== undefined) {
          const session = await store.sessions.byId(wanted);
          if (!session || session.serverId !== server.id) throw new LifeboatError('SESSION_NOT_FOUND', `no rescue session ${wanted} on server ${name}`);
        }
        const log = wanted === undefined ? await store.consoleLogs.latestFor(server.id) : await store.consoleLogs.forSession(wanted);
        if (!log) {
          throw new LifeboatError('CONSOLE_LOG_NOT_FOUND', wanted === undefined ? `no console log recorded for ${name} yet` : `no console log recorded for session ${wanted} of ${name}`);
        }
        return {
          server: server.name,
          sessionId: log.sessionId,
          startedAt: log.startedAt.toISOString(),
          updatedAt: log.updatedAt.toISOString(),
          bytes: log.data.length,
          dropped: log.dropped,
          tail: consoleTail(log.data),
          data: log.data.toString('base64'),
        };
      },
    );
  };
}
