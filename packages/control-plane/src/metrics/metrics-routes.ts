/**
 * `GET /metrics` on the API listener (never on the boot listener): Prometheus' text format, for an
 * operator's API token or the metrics token (`--metrics-token`, a bearer token a scraper holds and
 * that opens nothing else). Anything else is refused like any API route: 401 without a valid token,
 * 403 for a token that is not an operator's; failed attempts count towards the address's limit.
 */
import type { FastifyPluginAsync } from 'fastify';
import { LifeboatError } from '@lifeboat/core';
import { bearerToken, countFailure, refuseFailingAddress, sameSecret } from '../http/auth.js';
import type { RateLimiter } from '../http/rate-limiter.js';
import { errorResponses } from '../http/schemas.js';
import type { Store } from '../store/store.js';
import type { ControlPlaneMetrics } from './metrics.js';

/** What the route needs. */
export interface MetricsRouteOptions {
  readonly store: Store;
  readonly metrics: ControlPlaneMetrics;
  /** The scraper's bearer token (`--metrics-token`), or null: operators' API tokens only. */
  readonly metricsToken: string | null;
  /** Failed authentications per address (shared with the other routes). */
  readonly authFailures: RateLimiter;
}

/** The route, as a plugin. */
export function metricsRoutes(options: MetricsRouteOptions): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/metrics',
      {
        schema: {
          summary: 'Prometheus metrics: sessions by state, boot step durations, netboot requests, BMC calls, the job backlog, mails, the process',
          tags: ['metrics'],
          security: [{ token: [] }],
          response: { 200: { type: 'string', description: 'Prometheus text exposition format 0.0.4' }, ...errorResponses },
        },
      },
      async (request, reply) => {
        const token = bearerToken(request);
        if (token === undefined) throw new LifeboatError('UNAUTHORIZED', 'missing token: send "Authorization: Bearer <token>" (an operator API token or the metrics token)');
        refuseFailingAddress(request, reply, options.authFailures);
        if (options.metricsToken === null || !sameSecret(token, options.metricsToken)) {
          const principal = await options.store.tokens.authenticate(token);
          if (!principal) {
            countFailure(request, options.authFailures);
            throw new LifeboatError('UNAUTHORIZED', 'unknown or revoked token');
          }
          if (principal.role !== 'operator') throw new LifeboatError('FORBIDDEN', 'only an operator token or the metrics token may read the metrics');
        }
        reply.header('cache-control', 'no-store');
        return reply.type(options.metrics.registry.contentType).send(await options.metrics.registry.metrics());
      },
    );
  };
}
