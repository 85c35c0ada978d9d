/**
 * Limits on what a request may carry, checked before any route runs, so that bad input is a 400 with
 * the product's `{code, message}` and never reaches the database or a 500:
 * - no NUL character anywhere (path parameters, query, JSON body): PostgreSQL refuses it in text
 *   (`22021`) and SQLite would store a string that C tools cut short;
 * - request timeouts on the socket: a client that sends its headers or body slowly (one byte every
 *   few seconds) is cut off with 408 instead of holding a connection forever;
 * - URLs Fastify cannot decode (`%ff`) and request heads over Node's limit (a 100 KB URL) answer in
 *   the product's shape, not Fastify's own body or an empty 431.
 * Size limits of single fields (attachments, work params, inventories) are {@link assertJsonSize}.
 */
import type { Socket } from 'node:net';
import { STATUS_CODES, type ServerOptions } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import { LifeboatError, type ErrorCode } from '@lifeboat/core';
import { defaultCacheControl, securityHeaders } from './security-headers.js';

/** HTTP timeouts of the server. */
export interface HttpTimeouts {
  /** Time to receive a whole request, headers and body (default 60 s). */
  readonly requestTimeoutMs?: number;
}

/** The default of {@link HttpTimeouts.requestTimeoutMs}. */
export const defaultRequestTimeoutMs = 60_000;

/** Fastify's server options for the limits above (spread into `Fastify({...})`). */
export function inputLimitOptions(timeouts: HttpTimeouts = {}): Pick<FastifyServerOptions, 'requestTimeout' | 'frameworkErrors' | 'clientErrorHandler'> & { http: ServerOptions } {
  const requestTimeout = timeouts.requestTimeoutMs ?? defaultRequestTimeoutMs;
  return {
    requestTimeout,
    // Node checks its timeouts only every `connectionsCheckingInterval` (30 s by default): check often
    // enough for the timeout to mean what it says.
    http: { headersTimeout: Math.min(requestTimeout, 20_000), connectionsCheckingInterval: Math.max(100, Math.min(5000, Math.floor(requestTimeout / 4))) },
    frameworkErrors: (error, _request, reply) => {
      // FST_ERR_BAD_URL (`%ff`), FST_ERR_ASYNC_CONSTRAINT...: all the client's doing.
      void (reply as FastifyReply).status(400).send({ code: 'BAD_REQUEST', message: error.code === 'FST_ERR_BAD_URL' ? 'the URL is not valid percent-encoded UTF-8' : error.message });
    },
    clientErrorHandler: answerClientError,
  };
}

/** Sockets whose current request may take longer than the request timeout (see {@link allowSlowBody}). */
const slowBodies = new WeakSet<Socket>();

/**
 * Exempts the request being handled from the request timeout: for a route that streams a large body
 * on purpose (the agent's upload of a download), called once the caller is authenticated, so an
 * anonymous slow client is never exempt.
 */
export function allowSlowBody(request: FastifyRequest): void {
  slowBodies.add(request.raw.socket);
}

/** Answers an error of the HTTP parser (no request object exists yet) on the raw socket, in the product's shape. */
function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  // Node reports the timeout and leaves the socket to us: an exempt upload goes on.
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT' && slowBodies.has(socket)) return;
  const [status, code, message]: [number, ErrorCode, string] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'HEADERS_TOO_LARGE', 'the request line and headers are too large (a URL or a header of more than 16 KB)']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'REQUEST_TIMEOUT', 'the request did not arrive in time']
        : [400, 'BAD_REQUEST', 'malformed HTTP request'];
  const body = JSON.stringify({ code, message });
  const headers = { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), 'cache-control': defaultCacheControl, connection: 'close', ...securityHeaders };
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n${body}`);
  }
  socket.destroy();
}

/** Refuses NUL characters in path parameters, query and body of every route (authenticated or not). */
export function registerInputLimits(app: FastifyInstance): void {
  app.addHook('preValidation', async (request: FastifyRequest, _reply: FastifyReply) => {
    for (const [part, value] of [['path', request.params], ['query', request.query], ['body', request.body]] as const) {
      if (containsNul(value)) throw new LifeboatError('BAD_REQUEST', `the request ${part} contains a NUL character`);
    }
  });
}

/** Whether a JSON-like value has a NUL character in any string (keys included), at any depth. */
export function containsNul(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item === 'string') {
      if (item.includes('\u0000')) return true;
    } else if (item !== null && typeof item === 'object' && !Buffer.isBuffer(item)) {
      for (const [key, inner] of Object.entries(item)) {
        if (key.includes('\u0000')) return true;
        pending.push(inner);
      }
    }
  }
  return false;
}

/** Throws `PAYLOAD_TOO_LARGE` when `value` as JSON is longer than `maxBytes` (for free-form fields). */
export function assertJsonSize(value: unknown, maxBytes: number, what: string): void {
  if (value === undefined) return;
  const size = Buffer.byteLength(JSON.stringify(value) ?? '');
  if (size > maxBytes) throw new LifeboatError('PAYLOAD_TOO_LARGE', `${what} is ${size} bytes as JSON; at most ${maxBytes} are accepted`);
}
