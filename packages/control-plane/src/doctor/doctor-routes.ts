/**
 * The rescue doctor's routes (issue 15). The agent reports what it found on the installed system
 * (`POST /v1/agent/doctor`, first `running`, then `done` or `failed`); customers read the report
 * (`GET /v1/servers/{name}/doctor`) and apply or undo a finding's fix in one step
 * (`POST .../doctor/findings/{id}/fix` and `/undo`), which queues agent work `doctor_fix`/`doctor_undo`
 * and answers 202 with the pending fix; the agent's answer on `POST /v1/agent/work/{id}/result` settles
 * it ({@link settleDoctorWork}): the finding's fix state in the stored report, the audit log, a live
 * event. A client waits for the outcome with `GET .../doctor/fixes/{id}` (the CLI polls it, as
 * `tests run --wait` polls its test). Another tenant's server answers exactly like a missing one.
 *
 * A `root-password` fix: the control plane makes the password as it makes a rescue password (same
 * generator, SHA-512-crypt off the event loop), puts only the hash in the work, and returns the
 * password once in the fix's answer (`Cache-Control: no-store`); it is stored nowhere and never logged.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import {
  DoctorFixAnswer,
  DoctorFixOutcome,
  DoctorFixParams,
  DoctorFixView,
  DoctorReport,
  DoctorView,
  FindingParams,
  LifeboatError,
  NameParams,
  acceptsAgentWork,
  agentResponding,
  canSee,
  may,
  type DoctorFinding,
  type DoctorFixWorkParams,
  type Principal,
  type RescueSession,
  type Server,
  type WorkResult,
} from '@lifeboat/core';
import { rescuePassword } from '../credentials/password.js';
import type { AppOptions } from '../http/app.js';
import { agentSessionOf } from '../http/agent-routes.js';
import { authorize } from '../http/auth.js';
import { ErrorSchema, errorResponses } from '../http/schemas.js';
import { mailAttempts } from '../rescue/rescue-service.js';
import type { DoctorFixRecord, StoredDoctorReport } from '../store/doctor-reports.js';
import type { Store } from '../store/store.js';
import { doctorMailJob } from './doctor-mail.js';

/** Largest report the agent may send (100 findings with their evidence fit many times over). */
export const doctorReportLimitBytes = 1024 * 1024;

/** The message of a fix left unanswered when its rescue ended. */
export const doctorRescueEndedMessage = 'the rescue ended before the rescue system answered';

/** A fix or undo as the API shows it; `current`: its session is still open (else a pending fix will never be answered). */
export function doctorFixView(record: DoctorFixRecord, serverName: string, current: boolean): DoctorFixView {
  const outcome = Value.Check(DoctorFixOutcome, record.outcome) ? record.outcome : undefined;
  const ended = record.workState === 'completed' || record.workState === 'failed';
  const base = { id: record.id, server: serverName, findingId: record.findingId, action: record.action, requestedAt: record.requestedAt.toISOString() };
  if (!ended) {
    if (current) return { ...base, state: 'pending', endedAt: null, finding: null, error: null };
    return { ...base, state: 'failed', endedAt: null, finding: null, error: { code: 'AGENT_UNAVAILABLE', message: doctorRescueEndedMessage } };
  }
  const endedAt = record.updatedAt.toISOString();
  if (record.workState === 'completed' && outcome?.ok === true) return { ...base, state: 'done', endedAt, finding: outcome.finding ?? null, error: null };
  const error = outcome?.error ?? { code: 'DOCTOR_FIX_FAILED', message: record.message ?? 'the rescue system gave no reason' };
  return { ...base, state: 'failed', endedAt, finding: outcome?.finding ?? null, error };
}

/** The doctor's view of a server: its open session's report, else its last one; undefined when there is none. */
export async function doctorViewOf(store: Store, server: Server): Promise<DoctorView | undefined> {
  const open = await store.sessions.openFor(server.id);
  const stored: StoredDoctorReport | undefined = open ? await store.doctor.ofSession(open.id) : await store.doctor.latestOfServer(server.id);
  if (!stored) return undefined;
  const current = open !== undefined && open.id === stored.sessionId;
  const fixes = await store.doctor.fixes(stored.sessionId);
  return {
    server: server.name,
    sessionId: stored.sessionId,
    current,
    receivedAt: stored.receivedAt.toISOString(),
    report: stored.report,
    fixes: fixes.map((f) => doctorFixView(f, server.name, current)),
  };
}

/**
 * Settles a doctor fix or undo from the agent's answer to its work: the finding as it now stands goes
 * into the stored report, the audit log records it (`doctor.fix_applied`, `doctor.fix_undone`, or
 * `doctor.fix_failed`/`doctor.undo_failed`). A malformed outcome is read as a failure. Does nothing for
 * other work.
 */
export async function settleDoctorWork(store: Store, session: RescueSession, workId: string, body: WorkResult): Promise<void> {
  const record = await store.doctor.fix(workId);
  if (!record || record.sessionId !== session.id) return;
  const server = await store.servers.byId(session.serverId);
  const audit = (action: string, detail: Record<string, unknown>) =>
    store.audit.record(`agent:${session.id}`, action, { tenantId: server?.tenantId ?? null, serverId: session.serverId, detail: { sessionId: session.id, workId, findingId: record.findingId, ...detail } });
  const failed = record.action === 'fix' ? 'doctor.fix_failed' : 'doctor.undo_failed';
  let outcome: DoctorFixOutcome | undefined;
  if (body.state === 'completed' && !Value.Check(DoctorFixOutcome, body.result)) {
    const first = [...Value.Errors(DoctorFixOutcome, body.result)][0];
    outcome = { ok: false, error: { code: 'BAD_ANSWER', message: `the rescue system reported a malformed outcome${first ? ` (${first.path || 'result'}: ${first.message})` : ''}`.slice(0, 1024) } };
    await store.doctor.overrideOutcome(workId, outcome, outcome.error!.message);
  } else if (body.state === 'completed') {
    outcome = body.result as DoctorFixOutcome;
  }
  if (!outcome?.ok) {
    const error = outcome?.error ?? { code: 'DOCTOR_FIX_FAILED', message: body.message ?? 'the rescue system gave no reason' };
    await audit(failed, { code: error.code, message: error.message });
    store.doctor.announce(session.serverId);
    return;
  }
  const stored = await store.doctor.ofSession(session.id);
  const before = stored?.report.findings.find((f) => f.id === record.findingId);
  const after: DoctorFinding | undefined =
    outcome.finding?.id === record.findingId
      ? outcome.finding
      : before?.fix && { ...before, fix: { ...before.fix, state: record.action === 'fix' ? 'applied' : 'available' } };
  if (after) await store.doctor.updateFinding(session.id, after);
  await audit(record.action === 'fix' ? 'doctor.fix_applied' : 'doctor.fix_undone', { kind: after?.fix?.kind ?? before?.fix?.kind ?? null, changedFiles: after?.fix?.changedFiles ?? [] });
  store.doctor.announce(session.serverId);
}

/** The doctor's routes: the agent's report, the customer's view, fixes and undos. */
export function doctorRoutes(options: AppOptions): FastifyPluginAsync {
  const { store } = options;

  async function visibleServer(principal: Principal, name: string): Promise<Server> {
    const server = await store.servers.byName(name);
    if (!server || !canSee(principal, server.tenantId)) throw new LifeboatError('SERVER_NOT_FOUND', `no server named ${name}`);
    return server;
  }

  /** Checks a fix or undo of a finding can be asked now; the session and the finding. */
  async function fixable(principal: Principal, server: Server, findingId: string, action: 'fix' | 'undo'): Promise<{ session: RescueSession; finding: DoctorFinding & { fix: NonNullable<DoctorFinding['fix']> } }> {
    if (!may(principal, 'doctor.fix', server.tenantId)) throw new LifeboatError('FORBIDDEN', 'this token may not apply the doctor\'s fixes');
    const session = await store.sessions.openFor(server.id);
    if (!session || !acceptsAgentWork(session.state)) {
      throw new LifeboatError('INVALID_STATE', `server ${server.name} is not in rescue: the rescue system applies the doctor's fixes (enter rescue first: lifeboat rescue enter ${server.name} --wait)`);
    }
    const stored = await store.doctor.ofSession(session.id);
    if (!stored) throw new LifeboatError('DOCTOR_NOT_RUN', `the rescue doctor has not reported on ${server.name} yet: it starts once the rescue system is ready`);
    const finding = stored.report.findings.find((f) => f.id === findingId);
    if (!finding) throw new LifeboatError('DOCTOR_FINDING_NOT_FOUND', `no finding ${findingId} in the doctor's report on ${server.name} (lifeboat doctor ${server.name} lists them)`);
    if (!finding.fix) throw new LifeboatError('DOCTOR_NO_FIX', `finding ${findingId} has no fix in one step: its evidence says what to change by hand`);
    const pending = (await store.doctor.fixes(session.id)).find((f) => f.findingId === findingId && (f.workState === 'pending' || f.workState === 'delivered'));
    if (pending) throw new LifeboatError('DOCTOR_FIX_PENDING', `a ${pending.action} of finding ${findingId} is already waiting for the rescue system (lifeboat doctor ${server.name})`);
    if (action === 'fix' && finding.fix.state === 'applied') throw new LifeboatError('DOCTOR_ALREADY_FIXED', `the fix of finding ${findingId} is already applied (lifeboat doctor undo ${server.name} ${findingId} puts the files back)`);
    if (action === 'undo' && finding.fix.state !== 'applied') throw new LifeboatError('DOCTOR_NOT_FIXED', `the fix of finding ${findingId} is not applied: nothing to undo`);
    if (agentResponding(session, store.now()) === false) {
      throw new LifeboatError('AGENT_UNAVAILABLE', `the rescue system of ${server.name} does not answer (no heartbeat for over 90 s); try again once it is back, or exit rescue`);
    }
    return { session, finding: finding as DoctorFinding & { fix: NonNullable<DoctorFinding['fix']> } };
  }

  async function askFix(request: FastifyRequest<{ Params: FindingParams }>, action: 'fix' | 'undo'): Promise<DoctorFixAnswer> {
    const principal = authorize(request, 'server.read');
    const server = await visibleServer(principal, request.params.name);
    const { session, finding } = await fixable(principal, server, request.params.id, action);
    const params: DoctorFixWorkParams = { findingId: finding.id };
    let password: string | undefined;
    if (action === 'fix' && finding.fix.kind === 'root-password') {
      const credentials = await rescuePassword();
      password = credentials.password;
      params.passwordHash = credentials.hash;
    }
    const id = await store.doctor.queueFix(session.id, server.id, action, params);
    await store.audit.record(principal.tokenId, action === 'fix' ? 'doctor.fix_requested' : 'doctor.undo_requested', {
      tenantId: server.tenantId,
      serverId: server.id,
      detail: { sessionId: session.id, workId: id, findingId: finding.id, kind: finding.fix.kind },
    });
    const record = await store.doctor.fix(id);
    return { ...doctorFixView(record!, server.name, true), ...(password === undefined ? {} : { password }) };
  }

  return async (app) => {
    const tags = ['doctor'];

    app.post<{ Body: DoctorReport }>(
      '/v1/agent/doctor',
      {
        bodyLimit: doctorReportLimitBytes,
        schema: { tags: ['agent'], security: [{ agentToken: [] }], body: DoctorReport, response: { 204: Type.Null(), 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema } },
      },
      async (request, reply) => {
        const session = await agentSessionOf(store, request);
        const report = request.body;
        const ids = new Set(report.findings.map((f) => f.id));
        if (ids.size !== report.findings.length) throw new LifeboatError('BAD_REQUEST', 'two findings of the report have the same id');
        if (report.state === 'running' && report.finishedAt !== undefined) throw new LifeboatError('BAD_REQUEST', 'a running report has no finishedAt');
        await store.doctor.save(session.id, session.serverId, report);
        if (report.state === 'running') return reply.status(204).send();
        const server = await store.servers.byId(session.serverId);
        const critical = report.findings.filter((f) => f.severity === 'critical').length;
        await store.audit.record(`agent:${session.id}`, report.state === 'done' ? 'doctor.reported' : 'doctor.failed', {
          tenantId: server?.tenantId ?? null,
          serverId: session.serverId,
          detail: { sessionId: session.id, findings: report.findings.length, critical, durationMs: report.durationMs ?? null, ...(report.error === undefined ? {} : { error: report.error }) },
        });
        if (report.state === 'done' && report.findings.length > 0 && options.mailer !== undefined && session.email !== null) {
          // Retried with the worker's backoff while the session is in rescue; sent once (doctor-mail.ts).
          await options.queue.add(doctorMailJob, { sessionId: session.id }, { dedupeKey: `doctor-mail:${session.id}`, maxAttempts: mailAttempts });
        }
        return reply.status(204).send();
      },
    );

    app.get<{ Params: NameParams }>('/v1/servers/:name/doctor', { schema: { tags, params: NameParams, response: { 200: DoctorView, ...errorResponses } } }, async (request) => {
      const principal = authorize(request, 'server.read');
      const server = await visibleServer(principal, request.params.name);
      const view = await doctorViewOf(store, server);
      if (view) return view;
      const open = await store.sessions.openFor(server.id);
      throw new LifeboatError(
        'DOCTOR_NOT_RUN',
        open
          ? `the rescue doctor has not reported on ${server.name} yet: it starts once the rescue system is ready`
          : `the rescue doctor never examined ${server.name}: it runs in rescue (lifeboat rescue enter ${server.name} --wait)`,
      );
    });

    const fixSchema = (summary: string) => ({
      tags,
      summary,
      params: FindingParams,
      response: { 202: DoctorFixAnswer, ...errorResponses, 503: ErrorSchema },
    });
    app.post<{ Params: FindingParams }>('/v1/servers/:name/doctor/findings/:id/fix', { schema: fixSchema("apply a finding's fix in the rescue system") }, async (request, reply) =>
      reply.status(202).header('cache-control', 'no-store').send(await askFix(request, 'fix')),
    );
    app.post<{ Params: FindingParams }>('/v1/servers/:name/doctor/findings/:id/undo', { schema: fixSchema('put back the files a fix changed') }, async (request, reply) =>
      reply.status(202).header('cache-control', 'no-store').send(await askFix(request, 'undo')),
    );

    app.get<{ Params: DoctorFixParams }>('/v1/servers/:name/doctor/fixes/:id', { schema: { tags, params: DoctorFixParams, response: { 200: DoctorFixView, ...errorResponses } } }, async (request) => {
      const principal = authorize(request, 'server.read');
      const server = await visibleServer(principal, request.params.name);
      const record = await store.doctor.fix(request.params.id);
      const session = record && (await store.sessions.byId(record.sessionId));
      if (!record || !session || session.serverId !== server.id) throw new LifeboatError('DOCTOR_FIX_NOT_FOUND', `no doctor fix ${request.params.id} on server ${server.name}`);
      const open = await store.sessions.openFor(server.id);
      return doctorFixView(record, server.name, open?.id === session.id);
    });
  };
}
