/**
 * `GET /v1/ssh-host-ca`: the provider's SSH host CA as a customer trusts it (`lifeboat ca show`), for
 * any signed-in user: the line it gives is public, and the same for every tenant.
 */
import type { FastifyPluginAsync } from 'fastify';
import { LifeboatError } from '@lifeboat/core';
import { SshHostCaView, errorResponses } from '@lifeboat/core/api';
import type { AppOptions } from '../http/app.js';
import { authorize } from '../http/auth.js';

/** The CA route; the CA is the rescue flow's (`RescueService.hostCa`). */
export function hostCaRoutes(options: Pick<AppOptions, 'rescue'>): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/ssh-host-ca', { schema: { tags: ['rescue'], description: "The provider's SSH host CA: the @cert-authority line for known_hosts that trusts every rescue system's host certificate.", response: { 200: SshHostCaView, ...errorResponses } } }, async (request) => {
      authorize(request, 'server.read');
      const ca = options.rescue.hostCa;
      if (ca === undefined) throw new LifeboatError('NOT_FOUND', 'this control plane has no SSH host CA');
      return { knownHostsLine: ca.knownHostsLine, publicKey: ca.publicKey, fingerprint: ca.fingerprint };
    });
  };
}
