/** Tenants and API tokens. */
import type { Kysely } from 'kysely';
import { LifeboatError, type ApiToken, type Principal, type Role, type Tenant } from '@lifeboat/core';
import { hashToken, newToken } from '../credentials/tokens.js';
import type { ApiTokenRow, Database, TenantRow } from './schema.js';
import { dateOf, iso, isUniqueViolation, newId, type Clock } from './rows.js';

function tenantOf(row: TenantRow): Tenant {
  return { id: row.id, name: row.name, email: row.email, createdAt: new Date(row.created_at) };
}

function tokenOf(row: ApiTokenRow): ApiToken {
  return {
    id: row.id,
    name: row.name,
    role: row.role as Role,
    tenantId: row.tenant_id,
    createdAt: new Date(row.created_at),
    revokedAt: dateOf(row.revoked_at),
  };
}

/** Tenants. */
export class TenantStore {
  readonly #db: Kysely<Database>;
  readonly #now: Clock;

  constructor(db: Kysely<Database>, now: Clock) {
    this.#db = db;
    this.#now = now;
  }

  /** Adds a tenant; `TENANT_EXISTS` when the name is taken. */
  async add(name: string, email: string | null = null): Promise<Tenant> {
    const row: TenantRow = { id: newId(), name, email, created_at: iso(this.#now()) };
    try {
      await this.#db.insertInto('tenants').values(row).execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw new LifeboatError('TENANT_EXISTS', `tenant ${name} already exists`);
      throw error;
    }
    return tenantOf(row);
  }

  /** All tenants by name. */
  async list(): Promise<Tenant[]> {
    const rows = await this.#db.selectFrom('tenants').selectAll().orderBy('name').execute();
    return rows.map(tenantOf);
  }

  /** A tenant by name, or `TENANT_NOT_FOUND`. */
  async byName(name: string): Promise<Tenant> {
    const row = await this.#db.selectFrom('tenants').selectAll().where('name', '=', name).executeTakeFirst();
    if (!row) throw new LifeboatError('TENANT_NOT_FOUND', `no tenant named ${name}`);
    return tenantOf(row);
  }

  /** A tenant by id, or undefined. */
  async byId(id: string): Promise<Tenant | undefined> {
    const row = await this.#db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst();
    return row && tenantOf(row);
  }
}

/** API tokens, stored as SHA-256 hashes. */
export class TokenStore {
  readonly #db: Kysely<Database>;
  readonly #now: Clock;
  readonly #onRevoked: (id: string) => void;

  /** `onRevoked`: told the id of each token revoked (live streams of its holder end on it). */
  constructor(db: Kysely<Database>, now: Clock, onRevoked: (id: string) => void = () => {}) {
    this.#db = db;
    this.#now = now;
    this.#onRevoked = onRevoked;
  }

  /**
   * Creates a token; the clear token is returned here and never again. `userId`: a user's own token
   * (it carries the user's role and tenant, and is revoked with the user).
   */
  async create(input: { name: string; role: Role; tenantId: string | null; userId?: string }): Promise<{ token: string; record: ApiToken }> {
    if (input.role === 'customer' && input.tenantId === null) {
      throw new LifeboatError('BAD_REQUEST', 'a customer token belongs to a tenant: give --tenant');
    }
    const token = newToken('api');
    const row: ApiTokenRow = {
      id: newId(),
      name: input.name,
      role: input.role,
      tenant_id: input.tenantId,
      token_hash: hashToken(token),
      created_at: iso(this.#now()),
      revoked_at: null,
      user_id: input.userId ?? null,
    };
    await this.#db.insertInto('api_tokens').values(row).execute();
    return { token, record: tokenOf(row) };
  }

  /** The principal a bearer token stands for, or undefined when unknown or revoked. */
  async authenticate(token: string): Promise<Principal | undefined> {
    const row = await this.#db
      .selectFrom('api_tokens')
      .leftJoin('users', 'users.id', 'api_tokens.user_id')
      .select(['api_tokens.id', 'api_tokens.role', 'api_tokens.tenant_id', 'users.name as user_name'])
      .where('api_tokens.token_hash', '=', hashToken(token))
      .where('api_tokens.revoked_at', 'is', null)
      .executeTakeFirst();
    if (!row) return undefined;
    return { tokenId: row.id, role: row.role as Role, tenantId: row.tenant_id, ...(row.user_name === null ? {} : { user: row.user_name }) };
  }

  /** A user's own live tokens, oldest first. */
  async listOwn(userId: string): Promise<ApiToken[]> {
    const rows = await this.#db.selectFrom('api_tokens').selectAll().where('user_id', '=', userId).where('revoked_at', 'is', null).orderBy('created_at').orderBy('id').execute();
    return rows.map(tokenOf);
  }

  /** Revokes one of a user's own tokens; false when the user has no such live token (another's token included). */
  async revokeOwn(id: string, userId: string): Promise<boolean> {
    const result = await this.#db
      .updateTable('api_tokens')
      .set({ revoked_at: iso(this.#now()) })
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Revokes a token by id; false when no such token exists. */
  async revoke(id: string): Promise<boolean> {
    const result = await this.#db.updateTable('api_tokens').set({ revoked_at: iso(this.#now()) }).where('id', '=', id).executeTakeFirst();
    if (result.numUpdatedRows === 0n) return false;
    this.#onRevoked(id);
    return true;
  }

  /** Whether the token of this id exists and is not revoked. */
  async isActive(id: string): Promise<boolean> {
    const row = await this.#db.selectFrom('api_tokens').select('id').where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    return row !== undefined;
  }

  /** Whether any token exists (first start creates the operator's). */
  async any(): Promise<boolean> {
    return (await this.#db.selectFrom('api_tokens').select('id').limit(1).executeTakeFirst()) !== undefined;
  }
}
