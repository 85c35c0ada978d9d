/**
 * Per-key request budgets (issue 14, finding 3): failed authentication per address, rescue enters per
 * token, boot scripts and redeems per address. A key that used its budget gets `429 RATE_LIMITED` with
 * `Retry-After` until it may send again.
 *
 * Two ways to count, one interface:
 * - `MemoryRateLimiter` (one replica, SQLite): a token bucket per key, `count` requests at once,
 *   refilled evenly over `windowMs`. Memory is one small record per recently seen key; buckets that
 *   refilled completely are dropped when the table grows.
 * - `SharedRateLimiter` (several replicas on one PostgreSQL): fixed windows counted in the database,
 *   one upsert per request (`rate_limit_hits`), so that the limit holds whichever replica answers.
 *   A fixed window lets up to twice `count` through around a window's end; a sliding log (one row per
 *   request, like `sign_in_failures`) was rejected: a boot storm would write thousands of rows a
 *   minute to count what one integer counts.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LifeboatError, parseDuration } from '@lifeboat/core';
import type { RateLimitHits, RateWindow } from '../store/rate-limit-hits.js';

/** `count` requests per `windowMs` and key; null: no limit. */
export type RateLimit = { readonly count: number; readonly windowMs: number } | null;

/** Parses `COUNT/DURATION` (`600/1m`) or `off`. */
export function parseRateLimit(text: string): RateLimit {
  if (text === 'off') return null;
  const match = /^(\d{1,9})\/(\S+)$/.exec(text);
  if (!match) throw new Error(`expected COUNT/DURATION (e.g. 600/1m) or off, got ${text}`);
  const count = Number(match[1]);
  let windowMs: number;
  try {
    windowMs = parseDuration(match[2]!);
  } catch {
    throw new Error(`expected COUNT/DURATION (e.g. 600/1m) or off, got ${text}`);
  }
  if (count < 1 || windowMs <= 0) throw new Error(`a limit needs a count and a duration above 0, got ${text}`);
  return { count, windowMs };
}

/** Prints a limit the way `parseRateLimit` reads it. */
export function formatRateLimit(limit: RateLimit): string {
  if (limit === null) return 'off';
  return `${limit.count}/${limit.windowMs % 60_000 === 0 ? `${limit.windowMs / 60_000}m` : `${limit.windowMs / 1000}s`}`;
}

/** A budget of requests per key under one limit. */
export interface RateLimiter {
  /** The limit applied (null: none). */
  readonly limit: RateLimit;
  /** Milliseconds until `key` may make one more request (0: now), without spending anything. */
  waitMs(key: string): Promise<number>;
  /** Spends one request of `key`'s budget; resolves to the wait in ms when there was none left. */
  take(key: string): Promise<number>;
  /** Spends one request of `key`'s budget, whatever is left (a failure counted after the fact). */
  spend(key: string): Promise<void>;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Largest number of keys kept before refilled buckets are dropped. */
const pruneAbove = 10_000;

/** Token buckets by key for one limit, in this replica's memory. */
export class MemoryRateLimiter implements RateLimiter {
  readonly #limit: RateLimit;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(limit: RateLimit, now: () => number = Date.now) {
    this.#limit = limit;
    this.#now = now;
  }

  get limit(): RateLimit {
    return this.#limit;
  }

  #refilled(key: string): Bucket | undefined {
    const limit = this.#limit;
    if (limit === null) return undefined;
    const now = this.#now();
    const bucket = this.#buckets.get(key);
    if (!bucket) return { tokens: limit.count, at: now };
    const rate = limit.count / limit.windowMs;
    return { tokens: Math.min(limit.count, bucket.tokens + (now - bucket.at) * rate), at: now };
  }

  #wait(key: string): number {
    const limit = this.#limit;
    const bucket = this.#refilled(key);
    if (limit === null || !bucket || bucket.tokens >= 1) return 0;
    return Math.ceil((1 - bucket.tokens) * (limit.windowMs / limit.count));
  }

  #spend(key: string): void {
    const bucket = this.#refilled(key);
    if (!bucket) return;
    if (this.#buckets.size >= pruneAbove && !this.#buckets.has(key)) this.#prune();
    this.#buckets.set(key, { tokens: Math.max(0, bucket.tokens - 1), at: bucket.at });
  }

  async waitMs(key: string): Promise<number> {
    return this.#wait(key);
  }

  async take(key: string): Promise<number> {
    const wait = this.#wait(key);
    if (wait > 0) return wait;
    this.#spend(key);
    return 0;
  }

  async spend(key: string): Promise<void> {
    this.#spend(key);
  }

  #prune(): void {
    for (const key of [...this.#buckets.keys()]) {
      const bucket = this.#refilled(key);
      if (bucket && this.#limit !== null && bucket.tokens >= this.#limit.count) this.#buckets.delete(key);
    }
  }
}

/**
 * Fixed windows of `windowMs` counted in the database (`rate_limit_hits`), named `name` there: every
 * replica on the database spends the same budget. Each counted request is one upsert.
 */
export class SharedRateLimiter implements RateLimiter {
  readonly #name: string;
  readonly #limit: RateLimit;
  readonly #hits: RateLimitHits;
  readonly #now: () => number;

  constructor(name: string, limit: RateLimit, hits: RateLimitHits, now: () => number = Date.now) {
    this.#name = name;
    this.#limit = limit;
    this.#hits = hits;
    this.#now = now;
  }

  get limit(): RateLimit {
    return this.#limit;
  }

  #window(windowMs: number, now: number): RateWindow {
    const start = Math.floor(now / windowMs) * windowMs;
    return { start: new Date(start), end: new Date(start + windowMs) };
  }

  async waitMs(key: string): Promise<number> {
    const limit = this.#limit;
    if (limit === null) return 0;
    const now = this.#now();
    const window = this.#window(limit.windowMs, now);
    return (await this.#hits.count(this.#name, key, window)) >= limit.count ? window.end.getTime() - now : 0;
  }

  async take(key: string): Promise<number> {
    const limit = this.#limit;
    if (limit === null) return 0;
    const now = this.#now();
    const window = this.#window(limit.windowMs, now);
    // A refused request is counted too: the window is spent either way, and one statement is enough.
    return (await this.#hits.add(this.#name, key, window)) > limit.count ? window.end.getTime() - now : 0;
  }

  async spend(key: string): Promise<void> {
    const limit = this.#limit;
    if (limit === null) return;
    await this.#hits.add(this.#name, key, this.#window(limit.windowMs, this.#now()));
  }
}

/** The client address of a request, IPv4-mapped IPv6 written as IPv4 (`::ffff:10.0.0.5` is `10.0.0.5`). */
export function clientAddress(request: FastifyRequest): string {
  // Undefined once the client's socket is closed: read it while handling the request.
  const ip = (request.ip as string | undefined) ?? 'unknown';
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/**
 * Throws `429 RATE_LIMITED` (with `Retry-After` on the reply) when `waitMs` is above 0; `what` says
 * what was limited, in the user's words ("boot scripts from this address").
 */
export function refuseWhenLimited(reply: FastifyReply, waitMs: number, what: string): void {
  if (waitMs <= 0) return;
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  reply.header('retry-after', String(seconds));
  throw new LifeboatError('RATE_LIMITED', `too many ${what}: try again in ${seconds} s`);
}

/** The figures of every limit (each `COUNT/DURATION` on the command line, or `off`). */
export interface RateLimits {
  /** Failed authentications (unknown or revoked API token, ended session, unknown agent token) per client address. */
  readonly authFailures: RateLimit;
  /** `rescue enter` requests per API token or browser session. */
  readonly enters: RateLimit;
  /** iPXE scripts (`/boot.ipxe`, `/v1/boot/{mac}.ipxe`) per client address. */
  readonly bootScripts: RateLimit;
  /** Boot credential redeems (`POST /v1/agent/redeem`) per client address. */
  readonly redeems: RateLimit;
}

/**
 * The defaults, sized for a fleet that boots behind one address (a NAT, the lab's QEMU user
 * networking): a boot is 2 script requests (up to 6 with iPXE's retries) and 1 redeem, so 1,000
 * servers booting at once through one address stay under them. docs/security.md has the reasoning.
 */
export const defaultRateLimits: RateLimits = Object.freeze({
  authFailures: Object.freeze({ count: 30, windowMs: 60_000 }),
  enters: Object.freeze({ count: 60, windowMs: 60_000 }),
  bootScripts: Object.freeze({ count: 3000, windowMs: 60_000 }),
  redeems: Object.freeze({ count: 1200, windowMs: 60_000 }),
});

/** One limiter per limit, shared by the listeners of a replica (and, with `shared`, by every replica). */
export class RequestLimiters {
  readonly authFailures: RateLimiter;
  readonly enters: RateLimiter;
  readonly bootScripts: RateLimiter;
  readonly redeems: RateLimiter;

  /** Limiters in this replica's memory (one replica, SQLite; tests with a clock they move). */
  constructor(limits: Partial<RateLimits> = {}, now: () => number = Date.now, make: (name: keyof RateLimits, limit: RateLimit) => RateLimiter = (_name, limit) => new MemoryRateLimiter(limit, now)) {
    const all = { ...defaultRateLimits, ...limits };
    this.authFailures = make('authFailures', all.authFailures);
    this.enters = make('enters', all.enters);
    this.bootScripts = make('bootScripts', all.bootScripts);
    this.redeems = make('redeems', all.redeems);
  }

  /** Limiters counted in the database, the same for every replica on it (PostgreSQL). */
  static shared(hits: RateLimitHits, limits: Partial<RateLimits> = {}, now: () => number = Date.now): RequestLimiters {
    return new RequestLimiters(limits, now, (name, limit) => new SharedRateLimiter(name, limit, hits, now));
  }
}
