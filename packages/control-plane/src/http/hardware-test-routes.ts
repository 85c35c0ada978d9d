/**
 * Hardware tests (issue 11): customers start them on a server in rescue, follow their progress and
 * keep their results (`/v1/servers/{name}/tests`); the agent reports progress and outcome on the test's
 * work (`/v1/agent/work/{id}/progress`, the result route) and records tests started from SSH
 * (`/v1/agent/tests`). Another tenant's server or test answers exactly like a missing one.
 */
import type { FastifyPluginAsync } from 'fastify';
import { Value } from '@sinclair/typebox/value';
import {
  AgentHardwareTestCreated,
  AgentNewHardwareTest,
  DeviceName,
  HardwareTestList,
  HardwareTestOutcome,
  HardwareTestOutput,
  HardwareTestSchema,
  LifeboatError,
  NameParams,
  NewHardwareTest,
  TestParams,
  WorkProgress,
  WorkProgressAnswer,
  agentResponding,
  canSee,
  deviceTestKinds,
  may,
  parseTestDuration,
  parseTestSize,
  type HardwareTestView,
  type Principal,
  type RescueSession,
  type Server,
  type WorkResult,
} from '@lifeboat/core';
import type { HardwareTest } from '../store/hardware-tests.js';
import type { Store } from '../store/store.js';
import type { AppOptions } from './app.js';
import { agentSessionOf } from './agent-routes.js';
import { authorize } from './auth.js';
import { ErrorSchema, IdParams, errorResponses } from './schemas.js';

/** A test as the API shows it. */
export function hardwareTestView(test: HardwareTest, serverName: string): HardwareTestView {
  return {
    id: test.id,
    server: serverName,
    sessionId: test.sessionId,
    kind: test.kind,
    device: test.device,
    status: test.status,
    progress: test.progress,
    summary: test.summary,
    result: test.result,
    origin: test.origin,
    params: { ...test.params },
    createdAt: test.createdAt.toISOString(),
    startedAt: test.startedAt?.toISOString() ?? null,
    endedAt: test.endedAt?.toISOString() ?? null,
  };
}

/**
 * Ends the test a finished work ran, from the agent's result: `completed` carries a
 * {@link HardwareTestOutcome}; a malformed one, or a `failed` work, ends the test in `error` with a
 * message (never a 500). Does nothing for work that is not a test.
 */
export async function settleTestWork(store: Store, session: RescueSession, workId: string, body: WorkResult): Promise<void> {
  const test = await store.hardwareTests.byWork(session.id, workId);
  if (!test) return;
  if (body.state === 'failed') {
    await store.hardwareTests.finish(test.id, { status: 'error', summary: `the test could not run: ${body.message ?? 'the agent gave no reason'}`.slice(0, 2000), result: body.result ?? null });
    return;
  }
  if (!Value.Check(HardwareTestOutcome, body.result)) {
    const first = [...Value.Errors(HardwareTestOutcome, body.result)][0];
    const where = first ? ` (${first.path || 'result'}: ${first.message})` : '';
    await store.hardwareTests.finish(test.id, { status: 'error', summary: `the agent reported a malformed outcome${where}`, result: null });
    return;
  }
  await store.hardwareTests.finish(test.id, body.result);
}

/** The user and agent routes of hardware tests. */
export function hardwareTestRoutes(options: AppOptions): FastifyPluginAsync {
  const { store } = options;

  async function visibleServer(principal: Principal, name: string): Promise<Server> {
    const server = await store.servers.byName(name);
    if (!server || !canSee(principal, server.tenantId)) throw new LifeboatError('SERVER_NOT_FOUND', `no server named ${name}`);
    return server;
  }

  async function visibleTest(principal: Principal, name: string, id: string): Promise<{ server: Server; test: HardwareTest }> {
    const server = await visibleServer(principal, name);
    const test = await store.hardwareTests.ofServer(server.id, id);
    if (!test) throw new LifeboatError('TEST_NOT_FOUND', `no test ${id} on server ${name}`);
    return { server, test };
  }

  return async (app) => {
    const tags = ['tests'];
    const TestView = HardwareTestSchema;

    app.post<{ Params: NameParams; Body: NewHardwareTest }>(
      '/v1/servers/:name/tests',
      { schema: { tags, params: NameParams, body: NewHardwareTest, response: { 202: TestView, ...errorResponses, 503: ErrorSchema } } },
      async (request, reply) => {
        const principal = authorize(request, 'server.read');
        const server = await visibleServer(principal, request.params.name);
        if (!may(principal, 'test.run', server.tenantId)) throw new LifeboatError('FORBIDDEN', 'this token may not run hardware tests');
        const body = request.body;
        const needsDevice = deviceTestKinds.has(body.kind);
        if (needsDevice && body.device === undefined) throw new LifeboatError('BAD_REQUEST', `a ${body.kind} test needs a device (e.g. sda, nvme0n1${body.kind === 'fsck' ? 'p1, md0, vg0/root' : ''})`);
        if (!needsDevice && body.device !== undefined && body.kind !== 'disk' && body.kind !== 'partitions') {
          throw new LifeboatError('BAD_REQUEST', `a ${body.kind} test takes no device`);
        }
        if (body.duration !== undefined && body.kind !== 'cpu') throw new LifeboatError('BAD_REQUEST', 'only a cpu test takes a duration');
        if (body.size !== undefined && body.kind !== 'memory') throw new LifeboatError('BAD_REQUEST', 'only a memory test takes a size');
        if (body.repair !== undefined && body.kind !== 'fsck') throw new LifeboatError('BAD_REQUEST', 'only an fsck test can repair');
        if (body.selfTest !== undefined && body.kind !== 'smart') throw new LifeboatError('BAD_REQUEST', 'only a smart test runs a self-test');
        const durationSeconds = body.kind === 'cpu' ? parseTestDuration(body.duration ?? '60s') : null;
        const sizeBytes = body.size === undefined ? null : parseTestSize(body.size);
        const session = await store.sessions.openFor(server.id);
        if (!session || session.state !== 'rescue') {
          throw new LifeboatError('INVALID_STATE', `cannot run a test: server ${server.name} is not in rescue (enter rescue first: lifeboat rescue enter ${server.name} --wait)`);
        }
        if (agentResponding(session, store.now()) === false) {
          throw new LifeboatError('AGENT_UNAVAILABLE', `the rescue system of ${server.name} does not answer (no heartbeat for over 90 s); try again once it is back, or exit rescue`);
        }
        const test = await store.hardwareTests.create({
          serverId: server.id,
          tenantId: server.tenantId,
          sessionId: session.id,
          origin: 'api',
          requestedBy: principal.tokenId,
          params: {
            kind: body.kind,
            device: body.device ?? null,
            durationSeconds,
            sizeBytes,
            repair: body.kind === 'fsck' ? (body.repair ?? false) : false,
            selfTest: body.kind === 'smart' ? (body.selfTest ?? 'short') : null,
          },
        });
        await store.audit.record(principal.tokenId, 'test.start', {
          tenantId: server.tenantId,
          serverId: server.id,
          detail: { testId: test.id, kind: test.kind, device: test.device, ...test.params },
        });
        return reply.status(202).send(hardwareTestView(test, server.name));
      },
    );

    app.get<{ Params: NameParams }>('/v1/servers/:name/tests', { schema: { tags, params: NameParams, response: { 200: HardwareTestList, ...errorResponses } } }, async (request) => {
      const principal = authorize(request, 'server.read');
      const server = await visibleServer(principal, request.params.name);
      return { server: server.name, tests: (await store.hardwareTests.list(server.id)).map((t) => hardwareTestView(t, server.name)) };
    });

    app.get<{ Params: TestParams }>('/v1/servers/:name/tests/:id', { schema: { tags, params: TestParams, response: { 200: TestView, ...errorResponses } } }, async (request) => {
      const principal = authorize(request, 'server.read');
      const { server, test } = await visibleTest(principal, request.params.name, request.params.id);
      return hardwareTestView(test, server.name);
    });

    app.get<{ Params: TestParams }>(
      '/v1/servers/:name/tests/:id/output',
      { schema: { tags, params: TestParams, produces: ['text/plain'], response: { 200: HardwareTestOutput, ...errorResponses } } },
      async (request, reply) => {
        const principal = authorize(request, 'server.read');
        const { test } = await visibleTest(principal, request.params.name, request.params.id);
        return reply.type('text/plain; charset=utf-8').send(await store.hardwareTests.output(test.id));
      },
    );

    app.post<{ Params: TestParams }>('/v1/servers/:name/tests/:id/cancel', { schema: { tags, params: TestParams, response: { 200: TestView, ...errorResponses } } }, async (request) => {
      const principal = authorize(request, 'server.read');
      const { server, test } = await visibleTest(principal, request.params.name, request.params.id);
      if (!may(principal, 'test.run', server.tenantId)) throw new LifeboatError('FORBIDDEN', 'this token may not cancel hardware tests');
      const outcome = await store.hardwareTests.cancel(test.id);
      if (outcome === 'finished') throw new LifeboatError('INVALID_STATE', `test ${test.id} is already over (${test.status})`);
      if (outcome === 'missing') throw new LifeboatError('TEST_NOT_FOUND', `no test ${test.id} on server ${server.name}`);
      await store.audit.record(principal.tokenId, 'test.cancel', { tenantId: server.tenantId, serverId: server.id, detail: { testId: test.id, kind: test.kind, outcome } });
      return hardwareTestView((await store.hardwareTests.byId(test.id))!, server.name);
    });

    const agentSchema = (extra: object) => ({ tags: ['agent'], security: [{ agentToken: [] }], ...extra });
    const agentErrors = { 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema };

    app.post<{ Params: IdParams; Body: WorkProgress }>(
      '/v1/agent/work/:id/progress',
      { schema: agentSchema({ params: IdParams, body: WorkProgress, response: { 200: WorkProgressAnswer, ...agentErrors } }) },
      async (request) => {
        const session = await agentSessionOf(store, request);
        const test = await store.hardwareTests.byWork(session.id, request.params.id);
        if (test) return store.hardwareTests.progress(test, request.body);
        // Other kinds of work have no progress to keep; they are never cancelled.
        const work = await store.agentWork.byId(request.params.id);
        if (!work || work.sessionId !== session.id) throw new LifeboatError('NOT_FOUND', `no work ${request.params.id} for this session`);
        return { cancel: false };
      },
    );

    app.post<{ Body: AgentNewHardwareTest }>(
      '/v1/agent/tests',
      { schema: agentSchema({ body: AgentNewHardwareTest, response: { 201: AgentHardwareTestCreated, ...agentErrors } }) },
      async (request, reply) => {
        const session = await agentSessionOf(store, request);
        if (session.state !== 'rescue') throw new LifeboatError('INVALID_STATE', 'tests run only while the server is in rescue');
        const server = await store.servers.byId(session.serverId);
        if (!server) throw new LifeboatError('SERVER_NOT_FOUND', 'the server of this session is gone');
        // The validator coerces a JSON null to '' for the string branch of a nullable string: both mean "no device".
        const params = { ...request.body.params, device: request.body.params.device || null };
        if (deviceTestKinds.has(params.kind) && params.device === null) throw new LifeboatError('BAD_REQUEST', `a ${params.kind} test needs a device`);
        if (params.device !== null && !Value.Check(DeviceName, params.device)) throw new LifeboatError('BAD_REQUEST', `not a device name: ${params.device}`);
        const test = await store.hardwareTests.create({ serverId: server.id, tenantId: server.tenantId, sessionId: session.id, origin: 'ssh', requestedBy: `agent:${session.id}`, params });
        await store.audit.record(`agent:${session.id}`, 'test.start', { tenantId: server.tenantId, serverId: server.id, detail: { testId: test.id, kind: test.kind, device: test.device, origin: 'ssh' } });
        return reply.status(201).send({ testId: test.id, workId: test.workId! });
      },
    );
  };
}

