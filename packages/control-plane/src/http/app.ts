/**
 * The HTTP API: Fastify with a JSON schema on every route, an OpenAPI 3 document at `/openapi.json`,
 * errors as `{code, message}`, live events by Server-Sent Events. Tests drive it with `app.inject()`.
 */
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { ConsoleInfo } from '@lifeboat/core';
import type { ConsoleHubs } from '../console/console-hub.js';
import { consoleRoutes } from '../console/console-routes.js';
import type { ConsoleSessionLimits } from '../console/console-session.js';
import { consoleLiveRoutes } from '../console/live-routes.js';
import type { PowerDriverFactory } from '../drivers/power/power-driver.js';
import type { JobQueue } from '../jobs/job-queue.js';
import type { RescueService } from '../rescue/rescue-service.js';
import type { Store } from '../store/store.js';
import { errorAnswer } from '../errors.js';
import { agentRoutes } from './agent-routes.js';
import { registerAuth } from './auth.js';
import type { Mailer } from '../mail/index.js';
import { eventRoutes } from './events.js';
import { hardwareTestRoutes } from './hardware-test-routes.js';
import { explorerRoutes, type ExplorerTiming } from '../files/explorer-routes.js';
import { ErrorSchema } from './schemas.js';
import { userRoutes } from './user-routes.js';
import { keyRoutes } from '../keys/key-routes.js';

/** What the HTTP API needs. */
export interface AppOptions {
  readonly store: Store;
  readonly queue: JobQueue;
  readonly rescue: RescueService;
  /** Builds BMC drivers: their `validate()` checks a server's BMC record at registration. */
  readonly powerDrivers: PowerDriverFactory;
  /** The servers' serial consoles (absent in tests that need none). */
  readonly consoles?: ConsoleHubs;
  /** The console viewers' limits (idle timeout). */
  readonly consoleLimits?: ConsoleSessionLimits;
  /** The SSH console gateway as it runs, for `GET /v1/console` (default: off). */
  readonly consoleInfo?: () => ConsoleInfo;
  readonly logger: Logger;
  /** Aborted on shutdown: ends long polls and event streams. */
  readonly signal: AbortSignal;
  /** The explorer's waits for agents (tests shorten them). */
  readonly explorerTiming?: Partial<ExplorerTiming>;
  /** Mails tenants when technicians answer their incidents (when SMTP is configured). */
  readonly mailer?: Mailer;
  /** Routes of other capabilities (netboot, images), registered at the root. */
  readonly plugins?: readonly FastifyPluginAsync[];
}

/** Builds the Fastify application (not listening). */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
    bodyLimit: 4 * 1024 * 1024,
    forceCloseConnections: true,
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Lifeboat', description: 'Rescue mode for server fleets', version: '0.1.0' },
      components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' }, agentToken: { type: 'http', scheme: 'bearer', description: 'agent token from POST /v1/agent/redeem' } } },
      security: [{ token: [] }],
    },
  });
  app.addSchema(ErrorSchema);

  app.setErrorHandler((error: Error & { validation?: unknown; statusCode?: number; code?: string }, request, reply) => {
    if (error.validation !== undefined) {
      return reply.status(400).send({ code: 'BAD_REQUEST', message: error.message });
    }
    const answer = errorAnswer(error);
    if (answer.status === 500 && typeof error.statusCode === 'number' && error.statusCode < 500) {
      return reply.status(error.statusCode).send({ code: 'BAD_REQUEST', message: error.message });
    }
    if (answer.status >= 500) request.log.error({ err: error }, 'request failed');
    return reply.status(answer.status).send(answer.body);
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({ code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });

  registerAuth(app, options.store);

  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(userRoutes(options));
  await app.register(keyRoutes(options));
  await app.register(consoleLiveRoutes(options, options.consoleInfo ?? (() => ({ listen: null, hostKeyFingerprint: null, sshCommandExample: null }))));
  await app.register(agentRoutes(options));
  await app.register(hardwareTestRoutes(options));
  await app.register(eventRoutes(options));
  await app.register(explorerRoutes(options, options.explorerTiming));
  await app.register(consoleRoutes(options));
  for (const plugin of options.plugins ?? []) await app.register(plugin);
  return app;
}
