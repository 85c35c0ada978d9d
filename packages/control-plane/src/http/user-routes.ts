/** The user API: tenants, tokens, servers, rescue, tasks, incidents, audit. */
import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import {
  LifeboatError,
  acceptsAgentWork,
  bmcDriverOf,
  canRemoveServer,
  canSee,
  isValidName,
  may,
  parseDuration,
  parseMac,
  parseSshEndpoint,
  reservedWorkKinds,
  type Principal,
  type Server,
} from '@lifeboat/core';
import { checkConsoleSetting } from '../console/console-driver.js';
import { bmcLimits } from '../drivers/power/bmc-url.js';
import type { AppOptions } from './app.js';
import { authorize, principalOf } from './auth.js';
import { assertJsonSize } from './input-limits.js';
import { MemoryRateLimiter, refuseWhenLimited, type RateLimiter } from './rate-limiter.js';
import { incidentRoutes } from './incident-routes.js';
import { resolveKeyNames } from '../keys/key-routes.js';
import {
  AgentWorkCreated,
  AgentWorkView,
  AuditQuery,
  BmcValidation,
  ErrorSchema,
  EnterRescue,
  ExtendRescue,
  IdParams,
  InventoryAnswer,
  NameParams,
  NewAgentWork,
  BmcChange,
  NewServer,
  NewTenant,
  NewToken,
  RescueSchema,
  ServerList,
  ServerSchema,
  TaskList,
  TenantList,
  TenantSchema,
  TokenAnswer,
  errorResponses,
} from './schemas.js';
import { serverView, taskView } from './views.js';

/** Largest `params` of agent work, as JSON. */
export const workParamsLimitBytes = 64 * 1024;

/** User API routes. */
export function userRoutes(options: AppOptions, enters: RateLimiter = new MemoryRateLimiter(null)): FastifyPluginAsync {
  const { store, rescue, powerDrivers } = options;

  /** A server the caller may see; others' servers do not exist for it (404, not 403). */
  async function visibleServer(principal: Principal, name: string): Promise<Server> {
    const server = await store.servers.byName(name);
    if (!server || !canSee(principal, server.tenantId)) throw new LifeboatError('SERVER_NOT_FOUND', `no server named ${name}`);
    return server;
  }

  async function tenantNames(): Promise<Map<string, string>> {
    return new Map((await store.tenants.list()).map((t) => [t.id, t.name]));
  }

  async function viewOf(server: Server) {
    const tenant = await store.tenants.byId(server.tenantId);
    return serverView(server, tenant?.name ?? server.tenantId, await store.sessions.openFor(server.id));
  }

  function duration(text: string | undefined): number | undefined {
    return text === undefined ? undefined : parseDuration(text);
  }

  return async (app) => {
    app.get('/v1/tenants', { schema: { tags: ['tenants'], response: { 200: TenantList, ...errorResponses } } }, async (request) => {
      authorize(request, 'tenant.manage');
      return { tenants: (await store.tenants.list()).map((t) => ({ ...t, createdAt: t.createdAt.toISOString() })) };
    });

    app.post<{ Body: NewTenant }>('/v1/tenants', { schema: { tags: ['tenants'], body: NewTenant, response: { 201: TenantSchema, ...errorResponses } } }, async (request, reply) => {
      const principal = authorize(request, 'tenant.manage');
      const tenant = await store.tenants.add(request.body.name, request.body.email ?? null);
      await store.audit.record(principal.tokenId, 'tenant.add', { tenantId: tenant.id, detail: { name: tenant.name } });
      return reply.status(201).send({ ...tenant, createdAt: tenant.createdAt.toISOString() });
    });

    app.post<{ Body: NewToken }>('/v1/tokens', { schema: { tags: ['tokens'], body: NewToken, response: { 201: TokenAnswer, ...errorResponses } } }, async (request, reply) => {
      const principal = authorize(request, 'token.create');
      const tenant = request.body.tenant === undefined ? null : await store.tenants.byName(request.body.tenant);
      const { token, record } = await store.tokens.create({
        name: request.body.name ?? `${request.body.role}${tenant ? `@${tenant.name}` : ''}`,
        role: request.body.role,
        tenantId: request.body.role === 'customer' ? (tenant?.id ?? null) : null,
      });
      await store.audit.record(principal.tokenId, 'token.create', { tenantId: tenant?.id ?? null, detail: { tokenId: record.id, role: record.role } });
      return reply.status(201).send({ token, id: record.id, role: record.role, tenant: request.body.role === 'customer' ? (tenant?.name ?? null) : null });
    });

    app.delete<{ Params: IdParams }>('/v1/tokens/:id', { schema: { tags: ['tokens'], params: IdParams, response: { 204: Type.Null(), ...errorResponses } } }, async (request, reply) => {
      const principal = authorize(request, 'token.create');
      if (!(await store.tokens.revoke(request.params.id))) throw new LifeboatError('NOT_FOUND', `no token ${request.params.id}`);
      await store.audit.record(principal.tokenId, 'token.revoke', { detail: { tokenId: request.params.id } });
      return reply.status(204).send();
    });

    app.get('/v1/servers', { schema: { tags: ['servers'], response: { 200: ServerList, ...errorResponses } } }, async (request) => {
      const principal = authorize(request, 'server.read');
      const servers = await store.servers.list(principal.role === 'customer' ? (principal.tenantId ?? '') : undefined);
      const names = await tenantNames();
      const views = [];
      for (const server of servers) views.push(serverView(server, names.get(server.tenantId) ?? server.tenantId, await store.sessions.openFor(server.id)));
      return { servers: views };
    });

    app.post<{ Body: NewServer }>('/v1/servers', { schema: { tags: ['servers'], body: NewServer, response: { 201: ServerSchema, ...errorResponses } } }, async (request, reply) => {
      const principal = authorize(request, 'server.manage');
      const body = request.body;
      if (!isValidName(body.name)) throw new LifeboatError('BAD_REQUEST', `not a server name: ${body.name}`);
      const tenant = await store.tenants.byName(body.tenant);
      if (body.bmc.url.length > bmcLimits.urlLength) throw new LifeboatError('BMC_INVALID', `bmc.url is longer than ${bmcLimits.urlLength} characters`);
      const driver = bmcDriverOf(body.bmc.url);
      // The driver's own checks (no I/O), before anything is stored: a record it refuses could never
      // be used by a rescue. `BMC_INVALID` names the field; no message holds the password.
      powerDrivers({ driver, url: body.bmc.url, user: body.bmc.user ?? '', password: body.bmc.password ?? '' }).validate();
      const consoleUrl = body.console === undefined ? null : checkConsoleSetting(body.console);
      const server = await store.servers.add({
        name: body.name,
        tenantId: tenant.id,
        macs: [...new Set(body.macs.map(parseMac))],
        bmc: { driver, url: body.bmc.url, user: body.bmc.user ?? '', password: body.bmc.password ?? null },
        sshEndpoint: body.sshEndpoint === undefined ? null : parseSshEndpoint(body.sshEndpoint),
        console: consoleUrl,
        profiles: body.profiles ?? ['linux'],
      });
      await store.audit.record(principal.tokenId, 'server.add', { tenantId: tenant.id, serverId: server.id, detail: { name: server.name, macs: server.macs, bmc: server.bmc.url, console: server.console } });
      return reply.status(201).send(serverView(server, tenant.name));
    });

    app.get<{ Params: NameParams }>('/v1/servers/:name', { schema: { tags: ['servers'], params: NameParams, response: { 200: ServerSchema, ...errorResponses } } }, async (request) => {
      const principal = authorize(request, 'server.read');
      return viewOf(await visibleServer(principal, request.params.name));
    });

    app.post<{ Params: NameParams }>(
      '/v1/servers/:name/validate',
      { schema: { tags: ['servers'], params: NameParams, response: { 200: BmcValidation, ...errorResponses, 501: ErrorSchema, 502: ErrorSchema } } },
      async (request) => {
        // Operators only; for a customer the route does not exist, like another tenant's server.
        const principal = authorize(request, 'server.read');
        if (principal.role === 'customer') throw new LifeboatError('SERVER_NOT_FOUND', `no server named ${request.params.name}`);
        if (!may(principal, 'server.manage')) throw new LifeboatError('FORBIDDEN', 'only operators may reach a BMC directly');
        const server = await visibleServer(principal, request.params.name);
        const bmc = { driver: server.bmc.driver, url: server.bmc.url, user: server.bmc.user, password: await store.servers.bmcPassword(server) };
        const driver = powerDrivers(bmc);
        driver.validate();
        // One read, no action: it may run beside a job of this server without changing what the job does.
        const powerState = await driver.powerState();
        await store.audit.record(principal.tokenId, 'server.validate', { tenantId: server.tenantId, serverId: server.id, detail: { powerState } });
        return { server: server.name, driver: driver.name, reachable: true as const, powerState };
      },
    );

    app.patch<{ Params: NameParams; Body: BmcChange }>(
      '/v1/servers/:name/bmc',
      { schema: { tags: ['servers'], params: NameParams, body: BmcChange, response: { 200: ServerSchema, ...errorResponses } } },
      async (request) => {
        // Operators only; for a customer the route does not exist, like another tenant's server.
        const principal = authorize(request, 'server.read');
        if (principal.role === 'customer') throw new LifeboatError('SERVER_NOT_FOUND', `no server named ${request.params.name}`);
        if (!may(principal, 'server.manage')) throw new LifeboatError('FORBIDDEN', "only operators may change a server's BMC");
        const server = await visibleServer(principal, request.params.name);
        const change = request.body;
        const url = change.url ?? server.bmc.url;
        if (url.length > bmcLimits.urlLength) throw new LifeboatError('BMC_INVALID', `bmc.url is longer than ${bmcLimits.urlLength} characters`);
        const driver = bmcDriverOf(url);
        const password = change.password === undefined ? await store.servers.bmcPassword(server) : (change.password ?? '');
        // The same checks as at registration, on the record as it will be.
        powerDrivers({ driver, url, user: change.user ?? server.bmc.user, password }).validate();
        // An empty password is no password (what a BMC without one is given): nothing stored.
        const newPassword = change.password === undefined ? {} : { password: change.password === null || change.password === '' ? null : change.password };
        const updated = await store.servers.updateBmc(server, { url, driver, ...(change.user === undefined ? {} : { user: change.user }), ...newPassword });
        await store.audit.record(principal.tokenId, 'server.bmc_update', {
          tenantId: server.tenantId,
          serverId: server.id,
          detail: { url: updated.bmc.url, user: updated.bmc.user, passwordChanged: change.password !== undefined },
        });
        return viewOf(updated);
      },
    );

    app.delete<{ Params: NameParams }>('/v1/servers/:name', { schema: { tags: ['servers'], params: NameParams, response: { 204: Type.Null(), ...errorResponses } } }, async (request, reply) => {
      const principal = authorize(request, 'server.manage');
      const server = await visibleServer(principal, request.params.name);
      if (!canRemoveServer(server.state)) {
        throw new LifeboatError('INVALID_STATE', `cannot remove server ${server.name} while it is ${server.state.replace(/_/g, ' ')}: exit rescue first`);
      }
      await store.servers.remove(server);
      await store.audit.record(principal.tokenId, 'server.remove', { tenantId: server.tenantId, serverId: server.id, detail: { name: server.name } });
      return reply.status(204).send();
    });

    app.post<{ Params: NameParams; Body: EnterRescue }>(
      '/v1/servers/:name/rescue',
      { schema: { tags: ['rescue'], params: NameParams, body: EnterRescue, response: { 202: RescueSchema, ...errorResponses, 429: ErrorSchema } } },
      async (request, reply) => {
        const principal = principalOf(request);
        // Per token (a browser session counts as its user's): before any other work.
        refuseWhenLimited(reply, await enters.take(principal.tokenId), 'rescue requests with this token');
        const server = await visibleServer(principal, request.params.name);
        const input = request.body ?? {};
        const expiresInMs = duration(input.expiresIn);
        const named = input.keys === undefined ? [] : await resolveKeyNames(store, principal, server.tenantId, input.keys);
        const sshKeys = [...(input.sshKeys ?? []), ...named];
        const { view, task } = await rescue.enter(principal, server, {
          ...(input.profile === undefined ? {} : { profile: input.profile }),
          ...(sshKeys.length === 0 ? {} : { sshKeys }),
          ...(input.email === undefined ? {} : { email: input.email }),
          ...(expiresInMs === undefined ? {} : { expiresInMs }),
        });
        return reply.status(202).send({ ...view, taskId: task.id });
      },
    );

    app.get<{ Params: NameParams }>('/v1/servers/:name/rescue', { schema: { tags: ['rescue'], params: NameParams, response: { 200: RescueSchema, ...errorResponses } } }, async (request) => {
      const principal = authorize(request, 'server.read');
      return rescue.show(await visibleServer(principal, request.params.name));
    });

    app.post<{ Params: NameParams }>('/v1/servers/:name/rescue/exit', { schema: { tags: ['rescue'], params: NameParams, response: { 202: RescueSchema, ...errorResponses } } }, async (request, reply) => {
      const principal = principalOf(request);
      const { view, task } = await rescue.exit(principal, await visibleServer(principal, request.params.name));
      return reply.status(202).send({ ...view, taskId: task.id });
    });

    app.post<{ Params: NameParams; Body: ExtendRescue }>(
      '/v1/servers/:name/rescue/extend',
      { schema: { tags: ['rescue'], params: NameParams, body: ExtendRescue, response: { 200: RescueSchema, ...errorResponses } } },
      async (request) => {
        const principal = principalOf(request);
        return rescue.extend(principal, await visibleServer(principal, request.params.name), parseDuration(request.body.expiresIn));
      },
    );

    app.get<{ Params: NameParams }>('/v1/servers/:name/tasks', { schema: { tags: ['tasks'], params: NameParams, response: { 200: TaskList, ...errorResponses } } }, async (request) => {
      const principal = authorize(request, 'server.read');
      const server = await visibleServer(principal, request.params.name);
      return { server: server.name, tasks: (await store.tasks.forServer(server.id)).map(taskView) };
    });

    app.get<{ Params: NameParams }>(
      '/v1/servers/:name/inventory',
      { schema: { tags: ['rescue'], params: NameParams, response: { 200: InventoryAnswer, ...errorResponses } } },
      async (request) => {
        const principal = authorize(request, 'server.read');
        const server = await visibleServer(principal, request.params.name);
        const session = await store.sessions.latestFor(server.id);
        return { server: server.name, sessionId: session?.id ?? null, inventory: session ? await store.sessions.inventory(session.id) : null };
      },
    );

    app.post<{ Params: NameParams; Body: NewAgentWork }>(
      '/v1/servers/:name/rescue/work',
      { schema: { tags: ['rescue'], params: NameParams, body: NewAgentWork, response: { 202: AgentWorkCreated, ...errorResponses } } },
      async (request, reply) => {
        const principal = principalOf(request);
        const server = await visibleServer(principal, request.params.name);
        if (!may(principal, 'rescue.enter', server.tenantId)) throw new LifeboatError('FORBIDDEN', 'this token may not run work in rescue');
        assertJsonSize(request.body.params, workParamsLimitBytes, 'params');
        const session = await store.sessions.openFor(server.id);
        if (!session || !acceptsAgentWork(session.state)) throw new LifeboatError('INVALID_STATE', `server ${server.name} is not in rescue`);
        if (reservedWorkKinds.has(request.body.kind)) {
          throw new LifeboatError('BAD_REQUEST', `work of kind ${request.body.kind} is queued by Lifeboat itself (rescue exit, tests), not through this route`);
        }
        const id = await store.agentWork.add(session.id, request.body.kind, request.body.params ?? {});
        await store.audit.record(principal.tokenId, 'rescue.work', { tenantId: server.tenantId, serverId: server.id, detail: { id, kind: request.body.kind } });
        return reply.status(202).send({ id });
      },
    );

    app.get<{ Params: NameParams & IdParams }>(
      '/v1/servers/:name/rescue/work/:id',
      {
        schema: {
          tags: ['rescue'],
          params: Type.Object({ name: Type.String(), id: Type.String() }),
          response: { 200: AgentWorkView, ...errorResponses },
        },
      },
      async (request) => {
        const principal = authorize(request, 'server.read');
        const server = await visibleServer(principal, request.params.name);
        const work = await store.agentWork.byId(request.params.id);
        const session = work && (await store.sessions.byId(work.sessionId));
        if (!work || session?.serverId !== server.id) throw new LifeboatError('NOT_FOUND', `no work ${request.params.id} on server ${server.name}`);
        return { id: request.params.id, kind: work.kind, state: work.state, result: work.result, message: work.message };
      },
    );

    await app.register(incidentRoutes(options));

    app.get<{ Querystring: { server?: string; limit?: number } }>(
      '/v1/audit',
      { schema: { tags: ['audit'], querystring: AuditQuery, response: errorResponses } },
      async (request) => {
        const principal = authorize(request, 'audit.read');
        const server = request.query.server === undefined ? undefined : await visibleServer(principal, request.query.server);
        return { events: await store.audit.list({ ...(server ? { serverId: server.id } : {}), ...(request.query.limit ? { limit: request.query.limit } : {}) }) };
      },
    );
  };
}
