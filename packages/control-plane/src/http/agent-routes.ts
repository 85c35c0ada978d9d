/**
 * The agent API (docs/architecture.md): the rescue system's agent is always the client. It redeems
 * its one-time boot token for an agent token, then reports its boot steps, host keys, inventory and
 * readiness, heartbeats and long-polls for work.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { LifeboatError, profileHasDesktop, type RescueSession } from '@lifeboat/core';
import { hashToken, newToken } from '../credentials/tokens.js';
import type { AppOptions } from './app.js';
import { BootTimeline } from '../rescue/boot-timeline.js';
import type { Store } from '../store/store.js';
import type { AgentWork } from '../store/records.js';
import type { RedeemOutcome } from '../store/boot-credentials.js';
import { settleTestWork } from './hardware-test-routes.js';
import { settleDoctorWork } from '../doctor/doctor-routes.js';
import { desktopClientKey } from '../desktop/desktop-key.js';
import { tunnelCommand } from '../desktop/desktop-routes.js';
import { bearerToken, countFailure, refuseFailingAddress } from './auth.js';
import { clientAddress, refuseWhenLimited, type RateLimiter, type RequestLimiters } from './rate-limiter.js';
import { AgentEvent, AgentJobs, ErrorSchema, HeartbeatAnswer, HostKeys, HostKeysAnswer, IdParams, Redeem, RedeemAnswer, WorkQuery, WorkResult } from './schemas.js';

const agentErrors = { 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema };

/** The session of the agent token a request carries; 401 when unknown or revoked. */
export async function agentSessionOf(store: Store, request: FastifyRequest): Promise<RescueSession> {
  const token = bearerToken(request);
  const view = token === undefined ? undefined : await store.sessions.byAgentToken(hashToken(token));
  if (!view) throw new LifeboatError('UNAUTHORIZED', 'missing or unknown agent token');
  if (view.agentTokenRevoked) throw new LifeboatError('AGENT_TOKEN_REVOKED', 'this rescue session is over: the agent token was revoked');
  return view.session;
}

/**
 * Failed authentication of the agent API counts like the user API's: an agent request with a bearer
 * token from an address over its limit gets 429 before the token is looked at, and a 401 answered to
 * a request that carried one counts against its address.
 */
export function registerAgentAuthLimit(app: FastifyInstance, failures: RateLimiter): void {
  const agentCall = (request: FastifyRequest) => request.url.startsWith('/v1/agent/') && !request.url.startsWith('/v1/agent/redeem') && bearerToken(request) !== undefined;
  app.addHook('onRequest', async (request, reply) => {
    if (agentCall(request)) await refuseFailingAddress(request, reply, failures);
  });
  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode === 401 && agentCall(request)) await countFailure(request, failures);
  });
}

/** Agent API routes under `/v1/agent`; redeems are limited per address by `limiters.redeems`. */
export function agentRoutes(options: AppOptions, limiters: RequestLimiters): FastifyPluginAsync {
  const { store } = options;
  const timeline = new BootTimeline(store);

  const sessionOf = (request: FastifyRequest) => agentSessionOf(store, request);

  /** Records an agent's step on the session's open timeline; a refused step is logged, not an error. */
  async function step(request: FastifyRequest, session: RescueSession, name: string, detail?: string): Promise<void> {
    const outcome = await timeline.record(session.id, name, 'completed', detail);
    if (outcome !== 'recorded') request.log.info({ session: session.id, step: name, outcome }, 'agent step not recorded');
  }

  /**
   * The answer of a poll that took work, given back when it cannot reach the agent: the client was gone
   * before it was sent, or went before it was written out whole (`close` without `finish`). Work whose
   * answer was written out and still never reached an agent (the agent died as it came) is given back,
   * or failed, at that agent's next start (`AgentWorkQueue.settleAgentRestart`).
   */
  async function handOver(request: FastifyRequest, reply: FastifyReply, session: RescueSession, jobs: readonly AgentWork[], gone: AbortSignal): Promise<{ jobs: AgentWork[] }> {
    const ids = jobs.map((job) => job.id);
    const giveBack = async (): Promise<void> => {
      await store.agentWork.release(session.id, ids);
      request.log.info({ session: session.id, work: ids }, 'the agent went away before the work reached it: pending again');
    };
    if (gone.aborted) {
      await giveBack();
      return { jobs: [] };
    }
    // 'finish': the whole answer went to the operating system (writableFinished would say so too, but
    // not for an in-process request, whose socket is a stand-in).
    let written = false;
    reply.raw.once('finish', () => (written = true));
    reply.raw.once('close', () => {
      if (!written) giveBack().catch((error: unknown) => request.log.error({ err: error, session: session.id, work: ids }, 'undelivered work not given back'));
    });
    return { jobs: [...jobs] };
  }

  /** Records a refused redeem of an open session as an alert on it and in the audit log. */
  async function refusedRedeem(request: FastifyRequest, serverId: string, outcome: Exclude<RedeemOutcome, { kind: 'redeemed' | 'no session' }>, address: string): Promise<void> {
    const server = await store.servers.byId(serverId);
    if (!server) return;
    const otherAddress = outcome.kind === 'other address';
    const message = otherAddress
      ? `the boot credential of ${server.name} was presented from ${address}, but it was given to ${outcome.boundTo ?? 'another address'}: refused. Someone on the provisioning network copied it; the rescue goes on only from the server that booted.`
      : `a boot credential that is not this boot's (already used, from an earlier boot, or made up) was presented for ${server.name} from ${address}: refused.`;
    request.log.warn({ server: server.name, session: outcome.sessionId, address, reason: outcome.kind }, 'boot credential redeem refused');
    await store.bootCredentials.alert(outcome.sessionId, server.id, otherAddress ? 'redeem_other_address' : 'redeem_invalid', address, message);
    await store.audit.record('anonymous', 'agent.redeem_refused', { tenantId: server.tenantId, serverId: server.id, detail: { sessionId: outcome.sessionId, address, reason: outcome.kind } });
  }

  return async (app) => {
    const schema = (extra: object) => ({ tags: ['agent'], security: [{ agentToken: [] }], ...extra });

    app.post<{ Body: Redeem }>('/v1/agent/redeem', { schema: { tags: ['agent'], security: [], body: Redeem, response: { 200: RedeemAnswer, ...agentErrors, 429: ErrorSchema } } }, async (request, reply) => {
      const address = clientAddress(request);
      refuseWhenLimited(reply, await limiters.redeems.take(address), 'boot credential redeems from this address');
      const agentToken = newToken('agent');
      const outcome = await store.bootCredentials.redeem(request.body.serverId, hashToken(request.body.bootToken), hashToken(agentToken), address);
      if (outcome.kind !== 'redeemed') {
        if (outcome.kind !== 'no session') await refusedRedeem(request, request.body.serverId, outcome, address);
        // The same answer whatever the reason: a caller learns nothing about the credential or the address.
        throw new LifeboatError('BOOT_TOKEN_INVALID', 'this boot token is unknown or was already used; reboot the server into rescue again');
      }
      const redeemed = await store.sessions.byId(outcome.sessionId);
      if (redeemed) await options.rescue.bootedBeforeRecorded(redeemed);
      const session = await store.sessions.byId(outcome.sessionId);
      if (!session) throw new LifeboatError('BOOT_TOKEN_INVALID', 'the session of this boot token is gone');
      const server = await store.servers.byId(session.serverId);
      if (!server) throw new LifeboatError('BOOT_TOKEN_INVALID', 'the server of this boot token is gone');
      const view = await store.sessions.byAgentToken(hashToken(agentToken));
      await store.audit.record(`agent:${session.id}`, 'agent.redeem', { tenantId: server.tenantId, serverId: server.id, detail: { sessionId: session.id } });
      const expiresAt = session.expiresAt.toISOString();
      const desktop = profileHasDesktop(session.profile);
      return {
        agentToken,
        config: {
          sessionId: session.id,
          serverName: server.name,
          hostname: `${server.name}-rescue`,
          rootPasswordHash: view?.passwordHash ?? null,
          authorizedKeys: [...session.sshKeys],
          passwordLogin: session.passwordLogin,
          motd: [
            `Lifeboat rescue system for ${server.name}.`,
            'This system runs from RAM: nothing you change here survives a reboot, except on the server\'s disks.',
            `The rescue session ends by itself at ${expiresAt}; the server then boots from its disk again.`,
            "Type 'rescue-menu' for the helpers (mount the installed system, chroot, fsck, RAID, password reset, backup).",
            ...(desktop
              ? [`This rescue has a desktop: open it in the web console (Desktop), or run '${tunnelCommand(server) ?? 'ssh -N -L 5900:127.0.0.1:5900 root@SERVER'}' on your computer and point a VNC viewer at localhost:5900.`]
              : []),
          ].join('\n'),
          expiresAt,
          ...(desktop ? { desktopKey: (await desktopClientKey(store)).publicKey } : {}),
        },
      };
    });

    app.post<{ Body: AgentEvent }>('/v1/agent/events', { schema: schema({ body: AgentEvent, response: { 204: Type.Null(), ...agentErrors } }) }, async (request, reply) => {
      const session = await sessionOf(request);
      // Every start of the agent says so first, before it takes any work: the tests the previous agent
      // ran are not running any more.
      if (request.body.step === 'agent_started') {
        const settled = await store.hardwareTests.settleAgentRestart(session.id);
        if (settled.length > 0) request.log.info({ session: session.id, tests: settled }, 'the agent restarted: its running tests ended in error');
        const fixes = await store.doctor.settleAgentRestart(session.id, session.serverId);
        if (fixes.length > 0) request.log.info({ session: session.id, fixes }, 'the agent restarted: the doctor fixes it had taken failed');
        // Then whatever else the previous agent took and never answered: given again, or failed.
        const work = await store.agentWork.settleAgentRestart(session.id);
        if (work.redelivered.length + work.failed.length > 0) request.log.info({ session: session.id, ...work }, 'the agent restarted: the work it had taken is given again or failed');
      }
      await step(request, session, request.body.step, request.body.detail);
      return reply.status(204).send();
    });

    app.post<{ Body: HostKeys }>('/v1/agent/host-keys', { schema: schema({ body: HostKeys, response: { 200: HostKeysAnswer, ...agentErrors } }) }, async (request) => {
      const session = await sessionOf(request);
      for (const key of request.body.hostKeys) {
        if (!key.publicKey.startsWith(`${key.type} `) || !/^SHA256:[A-Za-z0-9+/]+=*$/.test(key.fingerprint)) {
          throw new LifeboatError('BAD_REQUEST', `host key of type ${key.type} is malformed`);
        }
      }
      // Signed before anything is recorded: a key the CA refuses (KEY_INVALID) leaves no trace.
      const server = await store.servers.byId(session.serverId);
      const certificates = server ? options.rescue.hostCertificates(server, { ...session, hostKeys: request.body.hostKeys }) : [];
      await store.sessions.setHostKeys(session.id, request.body.hostKeys);
      await step(request, session, 'host_keys_reported', request.body.hostKeys.map((k) => `${k.type} ${k.fingerprint}`).join(', '));
      return { certificates };
    });

    // An inventory of a large server (hundreds of disks and NICs) is a few hundred KB; past this it is not one.
    app.post<{ Body: unknown }>('/v1/agent/inventory', { bodyLimit: inventoryLimitBytes, schema: schema({ body: Type.Object({}, { additionalProperties: true }), response: { 204: Type.Null(), ...agentErrors } }) }, async (request, reply) => {
      const session = await sessionOf(request);
      await store.sessions.setInventory(session.id, request.body);
      return reply.status(204).send();
    });

    app.post('/v1/agent/ready', { schema: schema({ response: { 204: Type.Null(), ...agentErrors } }) }, async (request, reply) => {
      await options.rescue.ready(await sessionOf(request));
      return reply.status(204).send();
    });

    app.post('/v1/agent/heartbeat', { schema: schema({ response: { 200: HeartbeatAnswer, ...agentErrors } }) }, async (request) => {
      const session = await sessionOf(request);
      await store.sessions.heartbeat(session.id);
      return { expiresAt: session.expiresAt.toISOString() };
    });

    app.get<{ Querystring: WorkQuery }>(
      '/v1/agent/work',
      {
        schema: schema({
          querystring: WorkQuery,
          response: { 200: AgentJobs, ...agentErrors },
        }),
      },
      async (request, reply) => {
        const session = await sessionOf(request);
        const until = Date.now() + (request.query.waitSeconds ?? 25) * 1000;
        // The answer's 'close': the client went away (its agent died, a proxy gave up), or the answer
        // was written out (after its 'finish').
        const gone = new AbortController();
        reply.raw.once('close', () => gone.abort());
        if (reply.raw.destroyed) gone.abort();
        for (;;) {
          const jobs = await store.agentWork.take(session.id);
          if (jobs.length > 0) return handOver(request, reply, session, jobs, gone.signal);
          if (gone.signal.aborted) {
            request.log.debug({ session: session.id }, 'work long poll ended: its client went away');
            return { jobs };
          }
          if (Date.now() >= until || options.signal.aborted) return { jobs };
          // One listener per wait, removed when the wait ends: a long poll must not pile listeners
          // onto the control plane's shutdown signal.
          await new Promise<void>((resolve) => {
            const done = (): void => {
              clearTimeout(timer);
              options.signal.removeEventListener('abort', done);
              gone.signal.removeEventListener('abort', done);
              resolve();
            };
            const timer = setTimeout(done, Math.min(500, Math.max(0, until - Date.now())));
            options.signal.addEventListener('abort', done, { once: true });
            gone.signal.addEventListener('abort', done, { once: true });
          });
        }
      },
    );

    app.post<{ Params: IdParams; Body: WorkResult }>(
      '/v1/agent/work/:id/result',
      { schema: schema({ params: IdParams, body: WorkResult, response: { 204: Type.Null(), ...agentErrors } }) },
      async (request, reply) => {
        const session = await sessionOf(request);
        const ok = await store.agentWork.complete(session.id, request.params.id, request.body.state, request.body.result, request.body.message ?? null);
        if (!ok) throw new LifeboatError('NOT_FOUND', `no work ${request.params.id} for this session`);
        await settleTestWork(store, session, request.params.id, request.body);
        await settleDoctorWork(store, session, request.params.id, request.body);
        return reply.status(204).send();
      },
    );
  };
}

/** Largest inventory the agent may report (the request answers 413 `PAYLOAD_TOO_LARGE` past it). */
export const inventoryLimitBytes = 1024 * 1024;
