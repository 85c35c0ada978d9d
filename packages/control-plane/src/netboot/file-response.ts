/**
 * Serving a large file the way a boot storm needs it: streamed from disk (never read into memory),
 * with `Range` (one range; several are answered with the whole file, as RFC 9110 allows), `ETag` /
 * `If-None-Match` / `If-Range`, `HEAD` and an exact `Content-Length`.
 */
import type { FileHandle } from 'node:fs/promises';
import { open, stat } from 'node:fs/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** What happened when the body was sent completely. */
export interface FileSent {
  /** Bytes sent. */
  readonly bytes: number;
  /** Whether the body was the whole file (not a range). */
  readonly whole: boolean;
  /** Milliseconds from the request to the last byte handed to the socket. */
  readonly ms: number;
}

type ByteRange = { readonly start: number; readonly end: number } | 'unsatisfiable' | undefined;

/** Parses a single-range `Range: bytes=...` header against a file size; `undefined` means "send it all". */
export function parseRange(header: string | undefined, size: number): ByteRange {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return undefined; // several ranges, or another unit: the whole file is a valid answer
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

/** A strong validator from the file's identity and version (inode, size, modification time). */
export function etagOf(file: { ino: number; size: number; mtimeMs: number }): string {
  return `"${file.ino.toString(16)}-${file.size.toString(16)}-${Math.floor(file.mtimeMs).toString(16)}"`;
}

function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t === etag || t === `W/${etag}`;
  });
}

/**
 * Answers `request` with the file at `path` (already known to be one Lifeboat serves). Resolves `false`
 * when there is no such file. `onSent` runs once a GET body has been handed over completely.
 */
export async function sendFile(request: FastifyRequest, reply: FastifyReply, path: string, onSent?: (sent: FileSent) => void): Promise<boolean> {
  const started = Date.now();
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch {
    return false;
  }
  let streaming = false;
  try {
    const info = await handle.stat();
    if (!info.isFile()) return false;
    const etag = etagOf(info);
    reply.header('ETag', etag);
    reply.header('Last-Modified', info.mtime.toUTCString());
    reply.header('Accept-Ranges', 'bytes');
    reply.header('Cache-Control', 'no-cache');
    reply.type('application/octet-stream');
    if (matches(request.headers['if-none-match'], etag)) {
      reply.code(304).send();
      return true;
    }
    const ifRange = request.headers['if-range'];
    const rangeHeader = ifRange === undefined || ifRange === etag ? request.headers.range : undefined;
    const range = parseRange(rangeHeader, info.size);
    if (range === 'unsatisfiable') {
      reply.header('Content-Range', `bytes */${info.size}`);
      reply.code(416).send();
      return true;
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? info.size - 1;
    const length = info.size === 0 ? 0 : end - start + 1;
    if (range !== undefined) {
      reply.code(206);
      reply.header('Content-Range', `bytes ${start}-${end}/${info.size}`);
    }
    reply.header('Content-Length', String(length));
    if (request.method === 'HEAD' || length === 0) {
      reply.send();
      if (length === 0 && request.method !== 'HEAD') onSent?.({ bytes: 0, whole: true, ms: Date.now() - started });
      return true;
    }
    const stream = handle.createReadStream({ start, end, autoClose: true, highWaterMark: 256 * 1024 });
    streaming = true;
    reply.raw.once('finish', () => onSent?.({ bytes: length, whole: range === undefined || (start === 0 && end === info.size - 1), ms: Date.now() - started }));
    reply.raw.once('close', () => stream.destroy());
    reply.send(stream);
    return true;
  } finally {
    if (!streaming) await handle.close();
  }
}

/**
 * Hands the file at `path` to the web server in front (nginx's `X-Accel-Redirect`): the answer names
 * `prefix` + the file's absolute path and has no body; nginx sends the bytes, with `Range`, `ETag` and
 * sendfile. Resolves the file's size, or `undefined` when there is no such file.
 */
export async function redirectFile(reply: FastifyReply, path: string, prefix: string): Promise<number | undefined> {
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) return undefined;
    size = info.size;
  } catch {
    return undefined;
  }
  reply.header('X-Accel-Redirect', `${prefix}${path.split('/').map(encodeURIComponent).join('/')}`);
  reply.header('Cache-Control', 'no-cache');
  reply.type('application/octet-stream');
  reply.send();
  return size;
}
