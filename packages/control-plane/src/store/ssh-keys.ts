/**
 * SSH public keys registered per tenant, or as staff keys (no tenant) that reach every server. They
 * let a user into the console gateway and into a rescue system (`rescue enter --key NAME`).
 */
import type { Kysely } from 'kysely';
import { LifeboatError } from '@lifeboat/core';
import type { SshPublicKey } from '../keys/public-key.js';
import type { Database, SshKeyRow } from './schema.js';
import { iso, isUniqueViolation, newId, type Clock } from './rows.js';

/** The scope of staff keys in the `scope` column. */
const staffScope = '*';

/** A registered key. */
export interface SshKeyRecord {
  readonly id: string;
  /** Null for a staff key. */
  readonly tenantId: string | null;
  readonly name: string;
  readonly type: string;
  readonly bits: number;
  readonly fingerprint: string;
  readonly comment: string;
  readonly publicKey: string;
  readonly createdBy: string;
  readonly createdAt: Date;
}

function recordOf(row: SshKeyRow): SshKeyRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    type: row.type,
    bits: row.bits,
    fingerprint: row.fingerprint,
    comment: row.comment,
    publicKey: row.public_key,
    createdBy: row.created_by,
    createdAt: new Date(row.created_at),
  };
}

const scopeOf = (tenantId: string | null) => tenantId ?? staffScope;
const scopeLabel = (tenantId: string | null) => (tenantId === null ? 'the staff keys' : "the tenant's keys");

/** The key store. */
export class SshKeyStore {
  readonly #db: Kysely<Database>;
  readonly #now: Clock;

  constructor(db: Kysely<Database>, now: Clock) {
    this.#db = db;
    this.#now = now;
  }

  /** Registers a key; `KEY_EXISTS` when the name or the same key is already in that scope. */
  async add(input: { tenantId: string | null; name: string; key: SshPublicKey; createdBy: string }): Promise<SshKeyRecord> {
    const scope = scopeOf(input.tenantId);
    const clash = await this.#db
      .selectFrom('ssh_keys')
      .select(['name', 'fingerprint'])
      .where('scope', '=', scope)
      .where((eb) => eb.or([eb('name', '=', input.name), eb('fingerprint', '=', input.key.fingerprint)]))
      .executeTakeFirst();
    if (clash) throw this.#exists(input, clash.name === input.name ? undefined : clash.name);
    const row: SshKeyRow = {
      id: newId(),
      scope,
      tenant_id: input.tenantId,
      name: input.name,
      type: input.key.type,
      bits: input.key.bits,
      fingerprint: input.key.fingerprint,
      comment: input.key.comment,
      public_key: input.key.line,
      created_by: input.createdBy,
      created_at: iso(this.#now()),
    };
    try {
      await this.#db.insertInto('ssh_keys').values(row).execute();
    } catch (error) {
      // Another request registered the same name or key between the check and the insert.
      if (isUniqueViolation(error)) throw this.#exists(input, undefined);
      throw error;
    }
    return recordOf(row);
  }

  #exists(input: { tenantId: string | null; name: string }, sameKeyAs: string | undefined): LifeboatError {
    return new LifeboatError(
      'KEY_EXISTS',
      sameKeyAs === undefined
        ? `a key named ${input.name} is already in ${scopeLabel(input.tenantId)}`
        : `this key is already in ${scopeLabel(input.tenantId)} as ${sameKeyAs}`,
    );
  }

  /** The keys of a tenant (null: the staff keys), by name. */
  async list(tenantId: string | null): Promise<SshKeyRecord[]> {
    const rows = await this.#db.selectFrom('ssh_keys').selectAll().where('scope', '=', scopeOf(tenantId)).orderBy('name').execute();
    return rows.map(recordOf);
  }

  /** Keys by name in a tenant's store (or the staff keys); `KEY_NOT_FOUND` names the first one missing. */
  async byNames(tenantId: string | null, names: readonly string[]): Promise<SshKeyRecord[]> {
    if (names.length === 0) return [];
    const rows = await this.#db.selectFrom('ssh_keys').selectAll().where('scope', '=', scopeOf(tenantId)).where('name', 'in', [...names]).execute();
    const found = new Map(rows.map((r) => [r.name, recordOf(r)]));
    return names.map((name) => {
      const key = found.get(name);
      if (!key) throw new LifeboatError('KEY_NOT_FOUND', `no SSH key named ${name} in ${scopeLabel(tenantId)} (see lifeboat keys list)`);
      return key;
    });
  }

  /**
   * The keys with this fingerprint that open a server of `tenantId`: the tenant's own and the staff
   * keys. One query whatever the answer, so that a refusal takes the same path as an acceptance.
   */
  async forServer(fingerprint: string, tenantId: string | null): Promise<SshKeyRecord[]> {
    const rows = await this.#db.selectFrom('ssh_keys').selectAll().where('fingerprint', '=', fingerprint).execute();
    return rows.filter((r) => r.scope === staffScope || (tenantId !== null && r.scope === tenantId)).map(recordOf);
  }

  /** Removes a key by name; `KEY_NOT_FOUND` when there is none. */
  async remove(tenantId: string | null, name: string): Promise<SshKeyRecord> {
    const [key] = await this.byNames(tenantId, [name]);
    await this.#db.deleteFrom('ssh_keys').where('scope', '=', scopeOf(tenantId)).where('name', '=', name).execute();
    return key as SshKeyRecord;
  }
}
