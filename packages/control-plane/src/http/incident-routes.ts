/**
 * Incidents: a customer declares one on a server with a message and chosen hardware test results;
 * technicians and operators work the queue of every tenant (acknowledge, comment, resolve). A
 * customer sees only its tenant's incidents: another tenant's is `INCIDENT_NOT_FOUND`, exactly as an
 * incident that does not exist. Every step goes to the audit log.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import {
  LifeboatError,
  canSee,
  may,
  testAttachments,
  type Incident,
  type IncidentComment,
  type IncidentCommentView,
  type IncidentState,
  type IncidentView,
  type Principal,
  type Server,
} from '@lifeboat/core';
import type { AppOptions } from './app.js';
import { authorize, principalOf } from './auth.js';
import { assertJsonSize } from './input-limits.js';
import { hardwareTestView } from './hardware-test-routes.js';
import {
  IdParams,
  IncidentCommentSchema,
  IncidentCreated,
  IncidentDetail,
  IncidentList,
  IncidentQuery,
  IncidentSchema,
  IncidentUpdate,
  NameParams,
  NewIncident,
  NewIncidentComment,
  ResolveIncident,
  errorResponses,
} from './schemas.js';

/** The title of a declaration that gave only a message: its first line, cut at 200 characters. */
export function titleOf(message: string): string {
  const line = message.trim().split('\n')[0]?.trim() ?? '';
  return line.length <= 200 ? line : `${line.slice(0, 199)}…`;
}

/** Largest free-form `attachment` of an incident, as JSON (test results are attached by id, not inline). */
export const incidentAttachmentLimitBytes = 64 * 1024;

/** Incident routes (registered by the user API). */
export function incidentRoutes(options: Pick<AppOptions, 'store' | 'mailer'>): FastifyPluginAsync {
  const { store, mailer } = options;

  /**
   * Mails the tenant's address that a technician or operator commented on or resolved its incident,
   * when SMTP is configured and the tenant has an address. A mail that fails is logged, not an error of
   * the request: the comment or the resolution is recorded either way.
   */
  async function tellTenant(
    request: FastifyRequest,
    principal: Principal,
    incident: Incident,
    event: 'comment' | 'resolved',
    message: string | null,
  ): Promise<void> {
    if (!mailer || principal.role === 'customer') return;
    const tenant = await store.tenants.byId(incident.tenantId);
    if (!tenant?.email) return;
    const server = await store.servers.byId(incident.serverId);
    const author = await store.incidents.authorOf(principal.tokenId);
    try {
      await mailer.sendIncidentUpdate({ to: tenant.email, server: server?.name ?? incident.serverId, incidentId: incident.id, title: incident.title, event, author, message });
      await store.audit.record('system', 'incident.mail', { tenantId: incident.tenantId, serverId: incident.serverId, detail: { id: incident.id, event } });
    } catch (error) {
      request.log.warn({ incident: incident.id, code: (error as { code?: string }).code }, 'could not mail the tenant about its incident');
    }
  }

  /** An incident the caller may see; others' do not exist for it. */
  async function visibleIncident(principal: Principal, id: string): Promise<Incident> {
    const incident = await store.incidents.byId(id);
    if (!incident || !canSee(principal, incident.tenantId)) throw new LifeboatError('INCIDENT_NOT_FOUND', `no incident ${id}`);
    return incident;
  }

  async function views(incidents: readonly Incident[]): Promise<IncidentView[]> {
    const tenants = new Map((await store.tenants.list()).map((t) => [t.id, t.name]));
    const servers = new Map((await store.servers.list()).map((s) => [s.id, s.name]));
    const counts = await store.incidents.commentCounts(incidents.map((i) => i.id));
    return incidents.map((i) => ({
      id: i.id,
      server: servers.get(i.serverId) ?? i.serverId,
      serverId: i.serverId,
      tenant: tenants.get(i.tenantId) ?? i.tenantId,
      tenantId: i.tenantId,
      title: i.title,
      message: i.detail,
      detail: i.detail,
      state: i.state,
      tests: [...i.tests],
      attachment: i.attachment,
      resolution: i.resolution,
      createdBy: i.createdBy,
      createdAt: i.createdAt.toISOString(),
      updatedAt: i.updatedAt.toISOString(),
      acknowledgedAt: i.acknowledgedAt?.toISOString() ?? null,
      resolvedAt: i.resolvedAt?.toISOString() ?? null,
      comments: counts.get(i.id) ?? 0,
    }));
  }

  async function viewOf(incident: Incident): Promise<IncidentView> {
    return (await views([incident]))[0] as IncidentView;
  }

  function commentView(c: IncidentComment): IncidentCommentView {
    return { id: c.id, author: c.author, role: c.role, message: c.message, createdAt: c.createdAt.toISOString() };
  }

  /** Moves an incident as `principal` (who must be allowed to answer incidents), with audit. */
  async function move(request: FastifyRequest, principal: Principal, incident: Incident, state: IncidentState, message: string | undefined): Promise<Incident> {
    if (!may(principal, 'incident.answer')) throw new LifeboatError('FORBIDDEN', 'only technicians and operators answer incidents');
    const moved = await store.incidents.setState(incident.id, state, state === 'resolved' && message !== undefined ? { resolution: message } : {});
    if (message !== undefined) await store.incidents.comment(incident.id, { tokenId: principal.tokenId, role: principal.role, message });
    await store.audit.record(principal.tokenId, state === 'resolved' ? 'incident.resolve' : 'incident.update', {
      tenantId: incident.tenantId,
      serverId: incident.serverId,
      detail: { id: incident.id, from: incident.state, state, role: principal.role, message: message !== undefined },
    });
    if (state === 'resolved') await tellTenant(request, principal, moved, 'resolved', message ?? null);
    else if (message !== undefined) await tellTenant(request, principal, moved, 'comment', message);
    return moved;
  }

  return async (app) => {
    app.post<{ Params: NameParams; Body: NewIncident }>(
      '/v1/servers/:name/incidents',
      { schema: { tags: ['incidents'], params: NameParams, body: NewIncident, response: { 201: IncidentCreated, ...errorResponses } } },
      async (request, reply) => {
        const principal = authorize(request, 'incident.create');
        const server: Server | undefined = await store.servers.byName(request.params.name);
        if (!server || !canSee(principal, server.tenantId)) throw new LifeboatError('SERVER_NOT_FOUND', `no server named ${request.params.name}`);
        const body = request.body;
        assertJsonSize(body.attachment, incidentAttachmentLimitBytes, 'attachment');
        const message = body.message ?? body.detail ?? '';
        const title = body.title ?? titleOf(message);
        if (title === '') throw new LifeboatError('BAD_REQUEST', 'an incident needs a message (or a title)');
        const ids = body.tests ?? [];
        const tests = testAttachments(ids, (await store.hardwareTests.ofServerAmong(server.id, ids)).map((t) => hardwareTestView(t, server.name)), server.name);
        const incident = await store.incidents.create({
          serverId: server.id,
          tenantId: server.tenantId,
          title,
          detail: message,
          attachment: body.attachment,
          tests,
          createdBy: principal.tokenId,
        });
        await store.audit.record(principal.tokenId, 'incident.create', {
          tenantId: server.tenantId,
          serverId: server.id,
          detail: { id: incident.id, tests: tests.map((t) => t.id) },
        });
        return reply.status(201).send({ id: incident.id, state: incident.state });
      },
    );

    app.get<{ Querystring: IncidentQuery }>(
      '/v1/incidents',
      { schema: { tags: ['incidents'], querystring: IncidentQuery, response: { 200: IncidentList, ...errorResponses } } },
      async (request) => {
        const principal = principalOf(request);
        let serverId: string | undefined;
        if (request.query.server !== undefined) {
          const server = await store.servers.byName(request.query.server);
          if (!server || !canSee(principal, server.tenantId)) throw new LifeboatError('SERVER_NOT_FOUND', `no server named ${request.query.server}`);
          serverId = server.id;
        }
        const incidents = await store.incidents.list({
          ...(principal.role === 'customer' ? { tenantId: principal.tenantId ?? '' } : {}),
          ...(serverId === undefined ? {} : { serverId }),
          ...(request.query.state === undefined ? {} : { state: request.query.state }),
        });
        return { incidents: await views(incidents) };
      },
    );

    app.get<{ Params: IdParams }>(
      '/v1/incidents/:id',
      { schema: { tags: ['incidents'], params: IdParams, response: { 200: IncidentDetail, ...errorResponses } } },
      async (request) => {
        const incident = await visibleIncident(principalOf(request), request.params.id);
        return { incident: await viewOf(incident), comments: (await store.incidents.comments(incident.id)).map(commentView) };
      },
    );

    app.post<{ Params: IdParams; Body: IncidentUpdate }>(
      '/v1/incidents/:id',
      { schema: { tags: ['incidents'], params: IdParams, body: IncidentUpdate, response: { 200: IncidentSchema, ...errorResponses } } },
      async (request) => {
        const principal = principalOf(request);
        const incident = await visibleIncident(principal, request.params.id);
        return viewOf(await move(request, principal, incident, request.body.state, request.body.message));
      },
    );

    app.post<{ Params: IdParams; Body: ResolveIncident }>(
      '/v1/incidents/:id/resolve',
      { schema: { tags: ['incidents'], params: IdParams, body: ResolveIncident, response: { 200: IncidentSchema, ...errorResponses } } },
      async (request) => {
        const principal = principalOf(request);
        const incident = await visibleIncident(principal, request.params.id);
        return viewOf(await move(request, principal, incident, 'resolved', request.body?.message));
      },
    );

    app.post<{ Params: IdParams; Body: NewIncidentComment }>(
      '/v1/incidents/:id/comments',
      { schema: { tags: ['incidents'], params: IdParams, body: NewIncidentComment, response: { 201: IncidentCommentSchema, ...errorResponses } } },
      async (request, reply) => {
        const principal = principalOf(request);
        const incident = await visibleIncident(principal, request.params.id);
        // The customer answers on its own incidents; technicians and operators on every one.
        if (!may(principal, 'incident.answer') && !may(principal, 'incident.create', incident.tenantId))
          throw new LifeboatError('FORBIDDEN', 'this token may not comment on incidents');
        const comment = await store.incidents.comment(incident.id, { tokenId: principal.tokenId, role: principal.role, message: request.body.message });
        await store.audit.record(principal.tokenId, 'incident.comment', {
          tenantId: incident.tenantId,
          serverId: incident.serverId,
          detail: { id: incident.id, comment: comment.id, role: principal.role },
        });
        await tellTenant(request, principal, incident, 'comment', comment.message);
        return reply.status(201).send(commentView(comment));
      },
    );
  };
}
