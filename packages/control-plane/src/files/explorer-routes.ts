/**
 * The partition explorer's routes (issue 11): list, read by ranges, download and the journal of a
 * server in rescue, answered by its agent through agent work; and the agent's upload route.
 *
 * A download is a relay, not a copy: the user's `GET .../download` queues `files_download` work and
 * waits; the agent (outbound only) answers it with `PUT /v1/agent/work/{id}/upload`, a streamed body
 * (`tar -c | curl -T -`), which is piped into the user's answer with `pipeline`: backpressure from the
 * user's socket reaches curl in the rescue system through TCP, and nothing is held in memory beyond
 * the sockets' buffers. A user who goes away aborts the upload; an agent that does not connect within
 * {@link ExplorerTiming.answerMs} is `AGENT_UNAVAILABLE`. Each work id is accepted for upload once,
 * from the agent token of its session. A directory's tar stream ends its answer only when the agent
 * reports the work done: a tar that failed half-way cuts the connection instead (no short tar as a 200).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { LifeboatError, acceptsAgentWork, canSee, isErrorCode, type Principal, type RescueSession, type Server } from '@lifeboat/core';
import {
  ContentQuery,
  DeviceParams,
  DownloadQuery,
  FileListing,
  JournalQuery,
  PathQuery,
  defaultContentLength,
  fileSizeHeader,
  filesDownloadWork,
  filesListWork,
  filesReadWork,
  journalReadWork,
  uploadSizeHeader,
  uploadTypeHeader,
  type FileListingResult,
  type FileRangeResult,
  type JournalResult,
} from '@lifeboat/core/api';
import { hashToken } from '../credentials/tokens.js';
import type { AppOptions } from '../http/app.js';
import { authorize, bearerToken } from '../http/auth.js';
import { allowSlowBody } from '../http/input-limits.js';
import { endOnRevoke, streamCredentialOf } from '../http/revocable-streams.js';
import { securityHeaders } from '../http/security-headers.js';
import { ErrorSchema, IdParams, NameParams, errorResponses } from '../http/schemas.js';

/** How long the explorer waits for an agent. */
export interface ExplorerTiming {
  /** For an answer (a listing, a range, the journal) or the start of an upload (default 60 s). */
  readonly answerMs: number;
  /** Between two looks at the work's state (default 100 ms). */
  readonly pollMs: number;
}

/** An upload the agent started: its kind, size (a file) and body. */
interface Upload {
  readonly type: 'file' | 'directory';
  readonly size: number | null;
  readonly body: IncomingMessage;
}

/** A download waiting for its agent: taken once by the upload route. */
interface Waiting {
  readonly sessionId: string;
  /** Hands the upload over; resolves when it was relayed (rejects when the user went away). */
  readonly deliver: (upload: Upload) => Promise<void>;
}

const explorerErrors = { ...errorResponses, 503: ErrorSchema };

/** The explorer's routes; `timing` for tests (short waits). */
export function explorerRoutes(options: AppOptions, timing: Partial<ExplorerTiming> = {}): FastifyPluginAsync {
  const { store } = options;
  const { answerMs, pollMs }: ExplorerTiming = { answerMs: 60_000, pollMs: 100, ...timing };
  const waiting = new Map<string, Waiting>();

  async function inRescue(principal: Principal, name: string): Promise<{ server: Server; session: RescueSession }> {
    const server = await store.servers.byName(name);
    if (!server || !canSee(principal, server.tenantId)) throw new LifeboatError('SERVER_NOT_FOUND', `no server named ${name}`);
    const session = await store.sessions.openFor(server.id);
    if (!session || !acceptsAgentWork(session.state)) throw new LifeboatError('INVALID_STATE', `server ${server.name} is not in rescue: the explorer works while it is`);
    return { server, session };
  }

  /** The error a failed work carries (its agent's code), or AGENT_UNAVAILABLE for a work it could not run. */
  function failure(work: { result: unknown; message: string | null }): LifeboatError {
    const code = (work.result as { code?: unknown } | null)?.code;
    const message = work.message ?? 'the agent could not do it';
    if (typeof code === 'string' && isErrorCode(code)) return new LifeboatError(code, message);
    return new LifeboatError('AGENT_UNAVAILABLE', `the rescue system's agent could not do it: ${message}`);
  }

  /** Waits for a work's result; AGENT_UNAVAILABLE when none comes in time. */
  async function result<T>(id: string, signal?: AbortSignal): Promise<T> {
    const until = Date.now() + answerMs;
    for (;;) {
      const work = await store.agentWork.byId(id);
      if (work?.state === 'completed') return work.result as T;
      if (work?.state === 'failed') throw failure(work);
      if (Date.now() >= until || options.signal.aborted || signal?.aborted) {
        // Never delivered: the agent will not see it late (a stale answer helps no one).
        if (work?.state === 'pending') await store.agentWork.complete(work.sessionId, id, 'failed', { code: 'AGENT_UNAVAILABLE' }, 'nobody waited any more');
        throw new LifeboatError('AGENT_UNAVAILABLE', `the rescue system's agent did not answer within ${Math.round(answerMs / 1000)} s (not running, or busy with a long download)`);
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  return async (app) => {
    // The upload's body is not parsed: the route relays the raw stream.
    app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

    const tags = ['files'];

    app.get<{ Params: DeviceParams; Querystring: PathQuery }>(
      '/v1/servers/:name/files/:device',
      { schema: { tags, params: DeviceParams, querystring: PathQuery, response: { 200: FileListing, ...explorerErrors } } },
      async (request) => {
        const { server, session } = await inRescue(authorize(request, 'server.read'), request.params.name);
        const id = await store.agentWork.add(session.id, filesListWork, { device: request.params.device, path: request.query.path ?? '/' });
        const listing = await result<FileListingResult>(id);
        return { server: server.name, device: request.params.device, ...listing };
      },
    );

    app.get<{ Params: DeviceParams; Querystring: ContentQuery }>(
      '/v1/servers/:name/files/:device/content',
      {
        schema: {
          tags,
          params: DeviceParams,
          querystring: ContentQuery,
          response: { 200: { description: `the bytes (at most 1 MiB); the file's size in ${fileSizeHeader}`, content: { 'application/octet-stream': { schema: Type.String({ format: 'binary' }) } } }, ...explorerErrors },
        },
      },
      async (request, reply) => {
        const { session } = await inRescue(authorize(request, 'server.read'), request.params.name);
        const { path, offset = 0, length = defaultContentLength } = request.query;
        const id = await store.agentWork.add(session.id, filesReadWork, { device: request.params.device, path, offset, length });
        const range = await result<FileRangeResult>(id);
        return reply
          .header('content-type', 'application/octet-stream')
          .header(fileSizeHeader, String(range.size))
          .header('x-lifeboat-offset', String(range.offset))
          .send(Buffer.from(range.data, 'base64'));
      },
    );

    app.get<{ Params: DeviceParams; Querystring: DownloadQuery }>(
      '/v1/servers/:name/files/:device/download',
      {
        schema: {
          tags,
          params: DeviceParams,
          querystring: DownloadQuery,
          response: {
            200: { description: 'a file as it is, or a directory as a tar stream', content: { 'application/octet-stream': { schema: Type.String({ format: 'binary' }) }, 'application/x-tar': { schema: Type.String({ format: 'binary' }) } } },
            ...explorerErrors,
          },
        },
      },
      async (request, reply) => {
        const principal = authorize(request, 'server.read');
        const { server, session } = await inRescue(principal, request.params.name);
        const { device } = request.params;
        const { path } = request.query;
        const id = await store.agentWork.add(session.id, filesDownloadWork, { device, path });
        const gone = new AbortController();
        reply.raw.on('close', () => gone.abort());
        const upload = new Promise<{ upload: Upload; relayed: (outcome: Error | null) => void }>((resolve) => {
          waiting.set(id, {
            sessionId: session.id,
            deliver: (upload) => new Promise<void>((done, fail) => resolve({ upload, relayed: (error) => (error ? fail(error) : done()) })),
          });
        });
        // Recorded once the upload can be taken: the agent may answer before the audit is written.
        await store.audit.record(principal.tokenId, 'files.download', { tenantId: server.tenantId, serverId: server.id, detail: { device, path, work: id } });
        let started: { upload: Upload; relayed: (outcome: Error | null) => void };
        try {
          // The agent either connects (upload) or fails the work (a missing path) first.
          started = await Promise.race([upload, result<unknown>(id, gone.signal).then(() => Promise.reject(new LifeboatError('AGENT_UNAVAILABLE', 'the agent ended the download without sending it')))]);
        } finally {
          waiting.delete(id);
        }
        reply.hijack();
        sendUpload(reply, started.upload, server.name, device, path);
        // A tar stream has no length: its end proves nothing (tar may have failed half-way, and curl then
        // ends the upload as if it were complete). Its answer ends only once the agent reported success;
        // otherwise the connection is cut, so that the user's client sees an error, not a short tar.
        const sized = started.upload.size !== null;
        // A download outlives no revocation of the token that started it.
        const stopWatching = endOnRevoke(store, streamCredentialOf(request), () => reply.raw.destroy(new LifeboatError('UNAUTHORIZED', 'the API token was revoked or the session ended')));
        try {
          try {
            await pipeline(started.upload.body, reply.raw, { end: sized });
            started.relayed(null);
          } catch (error) {
            request.log.info({ work: id, err: error }, 'download aborted');
            started.relayed(error instanceof Error ? error : new Error(String(error)));
            reply.raw.destroy();
            return;
          }
          if (sized) return;
          try {
            await result<unknown>(id, gone.signal);
            reply.raw.end();
          } catch (error) {
            request.log.warn({ work: id, err: error }, 'download failed after its stream: the answer is cut');
            reply.raw.destroy();
          }
        } finally {
          stopWatching();
        }
      },
    );

    app.get<{ Params: NameParams; Querystring: JournalQuery }>(
      '/v1/servers/:name/journal',
      { schema: { tags, params: NameParams, querystring: JournalQuery, response: { 200: { description: 'journalctl output', content: { 'text/plain': { schema: Type.String() } } }, ...explorerErrors } } },
      async (request, reply) => {
        const { session } = await inRescue(authorize(request, 'server.read'), request.params.name);
        // 0: the last boot the installed system recorded, the one that failed (the rescue writes nothing there).
        const { device, lines = 200, boot = 0, priority } = request.query;
        const id = await store.agentWork.add(session.id, journalReadWork, { device, lines, boot, priority: priority ?? null });
        const journal = await result<JournalResult>(id);
        return reply.header('content-type', 'text/plain; charset=utf-8').send(journal.text);
      },
    );

    app.put<{ Params: IdParams }>(
      '/v1/agent/work/:id/upload',
      {
        schema: {
          tags: ['agent'],
          security: [{ agentToken: [] }],
          params: IdParams,
          response: { 204: Type.Null(), 401: ErrorSchema, 404: ErrorSchema },
        },
      },
      async (request, reply) => {
        const session = await agentSession(request);
        const pending = waiting.get(request.params.id);
        if (!pending || pending.sessionId !== session.id) throw new LifeboatError('NOT_FOUND', `no download waiting for work ${request.params.id}`);
        // A directory's tar stream may take minutes: past the request timeout, on purpose.
        allowSlowBody(request);
        waiting.delete(request.params.id);
        const type = request.headers[uploadTypeHeader] === 'directory' ? 'directory' : 'file';
        const socket = request.raw.socket;
        const sizeHeader = request.headers[uploadSizeHeader];
        const size = typeof sizeHeader === 'string' && /^\d+$/.test(sizeHeader) ? Number(sizeHeader) : null;
        try {
          await pending.deliver({ type, size, body: request.raw });
        } catch {
          // The user went away: end the agent's request so that curl stops.
          reply.hijack();
          socket.destroy();
          return;
        }
        return reply.status(204).send();
      },
    );
  };

  async function agentSession(request: FastifyRequest): Promise<RescueSession> {
    const token = bearerToken(request);
    const view = token === undefined ? undefined : await store.sessions.byAgentToken(hashToken(token));
    if (!view) throw new LifeboatError('UNAUTHORIZED', 'missing or unknown agent token');
    if (view.agentTokenRevoked) throw new LifeboatError('AGENT_TOKEN_REVOKED', 'this rescue session is over: the agent token was revoked');
    return view.session;
  }
}

/** The user's answer's head: a file as it is, a directory as `<name>.tar`. */
function sendUpload(reply: FastifyReply, upload: Upload, server: string, device: string, path: string): void {
  const base = path === '/' ? `${server}-${device.replace(/\//g, '-')}` : (path.split('/').filter(Boolean).pop() ?? 'download');
  const filename = upload.type === 'directory' ? `${base}.tar` : base;
  const headers: Record<string, string> = {
    'content-type': upload.type === 'directory' ? 'application/x-tar' : 'application/octet-stream',
    'content-disposition': `attachment; filename="${filename.replace(/["\\\r\n]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(filename)}`,
    [uploadTypeHeader]: upload.type,
    'cache-control': 'no-store',
    ...securityHeaders,
  };
  if (upload.size !== null) headers['content-length'] = String(upload.size);
  (reply.raw as ServerResponse).writeHead(200, headers);
}
