/** Users (who sign in with a password), their browser sessions and the failed sign-ins counted for the rate limit. */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { LifeboatError, type Role, type User } from '@lifeboat/core';
import { hashUserPassword, verifyNobody, verifyUserPassword } from '../credentials/user-password.js';
import type { Database, UserRow } from './schema.js';
import { isUniqueViolation, iso, newId, type Clock } from './rows.js';

function userOf(row: UserRow): User {
  return { id: row.id, name: row.name, role: row.role as Role, tenantId: row.tenant_id, email: row.email, createdAt: new Date(row.created_at) };
}

/** Users. Passwords are only ever stored as scrypt hashes. */
export class UserStore {
  readonly #db: Kysely<Database>;
  readonly #now: Clock;

  constructor(db: Kysely<Database>, now: Clock) {
    this.#db = db;
    this.#now = now;
  }

  /** Adds a user; `USER_EXISTS` when the name is taken. A customer must belong to a tenant. */
  async add(input: { name: string; role: Role; tenantId: string | null; email: string | null; password: string }): Promise<User> {
    if (input.role === 'customer' && input.tenantId === null) throw new LifeboatError('BAD_REQUEST', 'a customer belongs to a tenant: give a tenant');
    const at = iso(this.#now());
    const row: UserRow = {
      id: newId(),
      name: input.name,
      role: input.role,
      tenant_id: input.tenantId,
      email: input.email,
      password_hash: await hashUserPassword(input.password),
      created_at: at,
      password_changed_at: at,
    };
    try {
      await this.#db.insertInto('users').values(row).execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw new LifeboatError('USER_EXISTS', `a user named ${input.name} already exists`);
      throw error;
    }
    return userOf(row);
  }

  /** All users by name. */
  async list(): Promise<User[]> {
    return (await this.#db.selectFrom('users').selectAll().orderBy('name').execute()).map(userOf);
  }

  /** A user by name, or undefined. */
  async byName(name: string): Promise<User | undefined> {
    const row = await this.#db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
    return row && userOf(row);
  }

  /** A user by id, or undefined. */
  async byId(id: string): Promise<User | undefined> {
    const row = await this.#db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row && userOf(row);
  }

  /** Whether any user exists (first start creates the operator `admin`). */
  async any(): Promise<boolean> {
    return (await this.#db.selectFrom('users').select('id').limit(1).executeTakeFirst()) !== undefined;
  }

  /**
   * The user whose name and password these are, or undefined. An unknown name costs one scrypt
   * verification too, so that the answer's timing does not tell which of the two was wrong.
   */
  async verify(name: string, password: string): Promise<User | undefined> {
    const row = await this.#db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
    if (!row) return verifyNobody(password).then(() => undefined);
    return (await verifyUserPassword(password, row.password_hash)) ? userOf(row) : undefined;
  }

  /** Sets a user's password (the caller has checked the old one and the new one's length). */
  async setPassword(userId: string, password: string): Promise<void> {
    const hash = await hashUserPassword(password);
    await this.#db.updateTable('users').set({ password_hash: hash, password_changed_at: iso(this.#now()) }).where('id', '=', userId).execute();
  }

  /** Sets or clears a user's e-mail address. */
  async setEmail(userId: string, email: string | null): Promise<User> {
    await this.#db.updateTable('users').set({ email }).where('id', '=', userId).execute();
    const user = await this.byId(userId);
    if (!user) throw new LifeboatError('USER_NOT_FOUND', 'this user no longer exists');
    return user;
  }

  /**
   * Removes a user: their browser sessions end (the foreign key cascades) and their own API tokens are
   * revoked, in one transaction. False when no such user exists.
   */
  async remove(userId: string): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      await trx.updateTable('api_tokens').set({ revoked_at: iso(this.#now()) }).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
      await trx.deleteFrom('browser_sessions').where('user_id', '=', userId).execute();
      const result = await trx.deleteFrom('users').where('id', '=', userId).executeTakeFirst();
      return result.numDeletedRows > 0n;
    });
  }
}

/** How long browser sessions live. */
export interface SessionLifetime {
  /** A session unused this long ends. */
  readonly idleMs: number;
  /** A session ends this long after sign-in, used or not. */
  readonly maxMs: number;
}

/** A browser session as the HTTP layer sees it. */
export interface BrowserSession {
  readonly id: string;
  readonly user: User;
  /** The token unsafe requests must send in `X-CSRF-Token`. */
  readonly csrfToken: string;
}

function hashCookie(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/**
 * The CSRF token of a session: an HMAC of a fixed label keyed by the cookie's value. It is derived,
 * not stored, so the database holds nothing that lets a reader forge either (it keeps only the
 * cookie's hash), and a page can read it from `GET /v1/auth/session` at any time.
 */
function csrfTokenOf(cookieValue: string): string {
  return createHmac('sha256', cookieValue).update('lifeboat-csrf-v1').digest('base64url');
}

// `last_seen_at` is written at most this often: a page's polling must not write on every request.
const touchIntervalMs = 60_000;

/** Browser sessions, stored server-side; the cookie's value is stored as a SHA-256 hash only. */
export class BrowserSessionStore {
  readonly #db: Kysely<Database>;
  readonly #now: Clock;

  constructor(db: Kysely<Database>, now: Clock) {
    this.#db = db;
    this.#now = now;
  }

  /** Starts a session for a user: the cookie's value (returned here only) and the session. */
  async create(user: User, lifetime: SessionLifetime): Promise<{ cookieValue: string; session: BrowserSession }> {
    const cookieValue = randomBytes(32).toString('base64url');
    const now = this.#now();
    const id = newId();
    await this.#db
      .insertInto('browser_sessions')
      .values({ id, user_id: user.id, token_hash: hashCookie(cookieValue), created_at: iso(now), last_seen_at: iso(now), expires_at: iso(new Date(now.getTime() + lifetime.maxMs)) })
      .execute();
    return { cookieValue, session: { id, user, csrfToken: csrfTokenOf(cookieValue) } };
  }

  /** The live session of a cookie's value, or undefined (unknown, idle too long, or past its absolute expiry: then deleted). */
  async authenticate(cookieValue: string, lifetime: SessionLifetime): Promise<BrowserSession | undefined> {
    const row = await this.#db
      .selectFrom('browser_sessions')
      .innerJoin('users', 'users.id', 'browser_sessions.user_id')
      .select(['browser_sessions.id as session_id', 'browser_sessions.last_seen_at', 'browser_sessions.expires_at'])
      .selectAll('users')
      .where('browser_sessions.token_hash', '=', hashCookie(cookieValue))
      .executeTakeFirst();
    if (!row) return undefined;
    const now = this.#now();
    const lastSeen = new Date(row.last_seen_at).getTime();
    if (now.getTime() >= new Date(row.expires_at).getTime() || now.getTime() - lastSeen >= lifetime.idleMs) {
      await this.#db.deleteFrom('browser_sessions').where('id', '=', row.session_id).execute();
      return undefined;
    }
    if (now.getTime() - lastSeen >= touchIntervalMs) {
      await this.#db.updateTable('browser_sessions').set({ last_seen_at: iso(now) }).where('id', '=', row.session_id).execute();
    }
    return { id: row.session_id, user: userOf(row), csrfToken: csrfTokenOf(cookieValue) };
  }

  /**
   * Whether a session still exists and has not reached its absolute expiry: what an open stream
   * re-checks (sign-out, a password change elsewhere or the expiry end it). Its idle time is not
   * looked at: a page that holds a stream open is in use.
   */
  async isLive(id: string): Promise<boolean> {
    const row = await this.#db.selectFrom('browser_sessions').select('expires_at').where('id', '=', id).executeTakeFirst();
    return row !== undefined && this.#now().getTime() < new Date(row.expires_at).getTime();
  }

  /** Ends one session. */
  async remove(id: string): Promise<void> {
    await this.#db.deleteFrom('browser_sessions').where('id', '=', id).execute();
  }

  /** Ends every session of a user but `keepId` (a password change keeps the session that made it); returns how many ended. */
  async removeOthers(userId: string, keepId: string | null): Promise<number> {
    let query = this.#db.deleteFrom('browser_sessions').where('user_id', '=', userId);
    if (keepId !== null) query = query.where('id', '!=', keepId);
    return Number((await query.executeTakeFirst()).numDeletedRows);
  }

  /** How many live sessions a user has (for tests and the operator's view). */
  async countFor(userId: string): Promise<number> {
    const row = await this.#db.selectFrom('browser_sessions').select((eb) => eb.fn.countAll<string | number>().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow();
    return Number(row.n);
  }
}

/** The sign-in rate limit: at most `failures` failed sign-ins per key within `windowMs`. */
export interface SignInLimit {
  readonly failures: number;
  readonly windowMs: number;
}

/** Failed sign-ins, counted per key (`name:<user>`, `address:<ip>`) over a sliding window. */
export class SignInFailures {
  readonly #db: Kysely<Database>;
  readonly #now: Clock;

  constructor(db: Kysely<Database>, now: Clock) {
    this.#db = db;
    this.#now = now;
  }

  /**
   * How long (ms) sign-ins for any of these keys must wait, 0 when allowed: once a key has `failures`
   * failures within the window, until the oldest of them leaves it.
   */
  async retryAfterMs(keys: readonly string[], limit: SignInLimit): Promise<number> {
    const now = this.#now().getTime();
    const since = iso(new Date(now - limit.windowMs));
    let wait = 0;
    for (const key of keys) {
      const rows = await this.#db.selectFrom('sign_in_failures').select('at').where('key', '=', key).where('at', '>', since).orderBy('at', 'desc').limit(limit.failures).execute();
      const oldest = rows[limit.failures - 1];
      if (oldest) wait = Math.max(wait, new Date(oldest.at).getTime() + limit.windowMs - now);
    }
    return Math.max(0, wait);
  }

  /** Records one failure under each key, and forgets failures older than the window. */
  async record(keys: readonly string[], limit: SignInLimit): Promise<void> {
    const now = this.#now();
    await this.#db.insertInto('sign_in_failures').values(keys.map((key) => ({ id: newId(), key, at: iso(now) }))).execute();
    await this.#db.deleteFrom('sign_in_failures').where('at', '<=', iso(new Date(now.getTime() - limit.windowMs))).execute();
  }

  /** Forgets a key's failures (a user who signed in successfully starts afresh). */
  async clear(key: string): Promise<void> {
    await this.#db.deleteFrom('sign_in_failures').where('key', '=', key).execute();
  }
}
