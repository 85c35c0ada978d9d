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
import { agentRoutes, registerAgentAuthLimit } from './agent-routes.js';
import { accountRoutes } from './account-routes.js';
import { defaultAccountSettings, registerAuth, type AccountSettings } from './auth.js';
import type { Mailer } from '../mail/index.js';
import { eventRoutes } from './events.js';
import { doctorRoutes } from '../doctor/doctor-routes.js';
import { desktopRoutes } from '../desktop/desktop-routes.js';
import websocket from '@fastify/websocket';
import { hardwareTestRoutes } from './hardware-test-routes.js';
import { inputLimitOptions, registerInputLimits, type HttpTimeouts } from './input-limits.js';
import { registerSecurityHeaders } from './security-headers.js';
import { explorerRoutes, type ExplorerTiming } from '../files/explorer-routes.js';
import { ErrorSchema } from './schemas.js';
import { RequestLimiters } from './rate-limiter.js';
import { userRoutes } from './user-routes.js';
import { addSecurityHeaders, registerWebConsole, sendConsolePage, wantsConsolePage } from './web-console.js';
import { keyRoutes } from '../keys/key-routes.js';
import { hostCaRoutes } from '../ssh-host-ca/host-ca-routes.js';
import type { ControlPlaneMetrics, NetbootRequest } from '../metrics/metrics.js';
import { metricsRoutes } from '../metrics/metrics-routes.js';

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
  /** Mails tenants when technicians answer their incidents, and queues the doctor's findings mail (when SMTP is configured). */
  readonly mailer?: Mailer;
  /** Browser sessions' lifetime, cookie flags and sign-in rate limit (defaults: `defaultAccountSettings`). */
  readonly accounts?: Partial<AccountSettings>;
  /** Routes of other capabilities (netboot, images), registered at the root. */
  readonly plugins?: readonly FastifyPluginAsync[];
  /** The built web console to serve at `/` (null or absent: none). */
  readonly webDir?: string | null;
  /** Request timeouts of the listening server (slow clients are cut off). */
  readonly http?: HttpTimeouts;
  /**
   * Load balancers (addresses, CIDR ranges) whose `X-Forwarded-For` names the client: the address
   * rate limits and boot credentials see (default: none, the peer address).
   */
  readonly trustProxy?: readonly string[];
  /** Rate limits (default: `defaultRateLimits`, in this app's memory); share one set between listeners. */
  readonly limiters?: RequestLimiters;
  /**
   * Which routes this listener answers: `all` (default), `api` (all but the unauthenticated netboot
   * routes and the agent's redeem, which are on the boot listener) or `boot` (the netboot routes and
   * the agent API only). Others answer 404 as if they did not exist.
   */
  readonly surface?: Surface;
  /** Prometheus metrics: netboot requests are counted, and `GET /metrics` served on the API (absent: neither). */
  readonly metrics?: ControlPlaneMetrics;
  /** The scraper's bearer token for `GET /metrics` (`--metrics-token`); null or absent: operator tokens only. */
  readonly metricsToken?: string | null;
}

const imageFiles: ReadonlySet<string> = new Set(['vmlinuz', 'initrd', 'rootfs.squashfs']);

/** The netboot request a route answered (script or image file), for the metrics; undefined for other routes. */
function netbootKind(route: string | undefined, params: unknown): NetbootRequest['kind'] | undefined {
  if (route === '/boot.ipxe' || route === '/v1/boot/:script') return 'script';
  const file = (params as { file?: unknown } | undefined)?.file;
  if (route === '/v1/images/:imageId/:file' && typeof file === 'string' && imageFiles.has(file)) return file as NetbootRequest['kind'];
  return undefined;
}

/** The routes of a listener: see `AppOptions.surface`. */
export type Surface = 'all' | 'api' | 'boot';

/** The paths only the boot listener answers when there is one. */
function bootOnly(path: string): boolean {
  return path === '/boot.ipxe' || path.startsWith('/v1/boot/') || path.startsWith('/v1/images/') || path === '/v1/agent/redeem';
}

/** Whether a listener of `surface` answers `path`. */
export function answersOn(surface: Surface, path: string): boolean {
  if (surface === 'all') return true;
  if (surface === 'api') return !bootOnly(path);
  return bootOnly(path) || path.startsWith('/v1/agent/') || path === '/healthz';
}

/** Builds the Fastify application (not listening). */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
    bodyLimit: 4 * 1024 * 1024,
    forceCloseConnections: true,
    trustProxy: options.trustProxy !== undefined && options.trustProxy.length > 0 ? [...options.trustProxy] : false,
    ...inputLimitOptions(options.http),
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Lifeboat', description: 'Rescue mode for server fleets', version: '0.1.0' },
      components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' }, session: { type: 'apiKey', in: 'cookie', name: 'lifeboat_session', description: 'browser session from POST /v1/auth/sign-in; unsafe methods also need the X-CSRF-Token header' }, agentToken: { type: 'http', scheme: 'bearer', description: 'agent token from POST /v1/agent/redeem' } } },
      security: [{ token: [] }, { session: [] }],
    },
  });
  app.addSchema(ErrorSchema);
  addSecurityHeaders(app);
  const webDir = options.webDir ?? null;
  if (webDir !== null) await registerWebConsole(app, webDir);

  app.setErrorHandler((error: Error & { validation?: unknown; statusCode?: number; code?: string }, request, reply) => {
    if (error.validation !== undefined) {
      return reply.status(400).send({ code: 'BAD_REQUEST', message: error.message });
    }
    const answer = errorAnswer(error);
    if (answer.status === 500 && typeof error.statusCode === 'number' && error.statusCode < 500) {
      return reply.status(error.statusCode).send({ code: error.statusCode === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST', message: error.message });
    }
    if (answer.body.code === 'DATABASE_UNAVAILABLE') {
      request.log.warn({ err: error }, 'request failed: the database cannot be reached');
      return reply.status(answer.status).header('retry-after', '5').send(answer.body);
    }
    if (answer.status >= 500) request.log.error({ err: error }, 'request failed');
    return reply.status(answer.status).send(answer.body);
  });
  app.setNotFoundHandler((request, reply) => {
    if (webDir !== null && wantsConsolePage(request)) return sendConsolePage(reply);
    reply.status(404).send({ code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });

  const accounts: AccountSettings = { ...defaultAccountSettings, ...options.accounts };
  const limiters = options.limiters ?? new RequestLimiters();
  const surface = options.surface ?? 'all';
  registerSecurityHeaders(app);
  if (surface !== 'all') {
    app.addHook('onRequest', async (request, reply) => {
      const path = request.url.split('?')[0] ?? request.url;
      if (!answersOn(surface, path)) return reply.status(404).send({ code: 'NOT_FOUND', message: `no route ${request.method} ${path}` });
    });
  }
  registerAuth(app, options.store, accounts, limiters.authFailures);
  registerAgentAuthLimit(app, limiters.authFailures);
  registerInputLimits(app);
  const metrics = options.metrics;
  if (metrics) {
    app.addHook('onResponse', async (request, reply) => {
      const kind = netbootKind(request.routeOptions.url, request.params);
      if (kind !== undefined) metrics.countNetboot({ kind, status: reply.statusCode });
    });
  }

  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  // One WebSocket server for the console's and the desktop's routes (registered at the root).
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  await app.register(userRoutes(options, limiters.enters));
  await app.register(accountRoutes(options, accounts));
  await app.register(keyRoutes(options));
  await app.register(hostCaRoutes(options));
  await app.register(consoleLiveRoutes(options, options.consoleInfo ?? (() => ({ listen: null, hostKeyFingerprint: null, sshCommandExample: null }))));
  await app.register(agentRoutes(options, limiters));
  await app.register(hardwareTestRoutes(options));
  await app.register(doctorRoutes(options));
  await app.register(desktopRoutes(options));
  await app.register(eventRoutes(options));
  await app.register(explorerRoutes(options, options.explorerTiming));
  await app.register(consoleRoutes(options));
  if (metrics && surface !== 'boot') await app.register(metricsRoutes({ store: options.store, metrics, metricsToken: options.metricsToken ?? null, authFailures: limiters.authFailures }));
  for (const plugin of options.plugins ?? []) await app.register(plugin);
  return app;
}
