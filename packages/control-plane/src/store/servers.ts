/** Servers, their MACs and BMC credentials. */
import type { Kysely } from 'kysely';
import { LifeboatError, type BmcDriver, type RescueState, type Server } from '@lifeboat/core';
import type { SecretBox } from '../credentials/secret-box.js';
import type { Database, ServerRow } from './schema.js';
import { iso, isUniqueViolation, json, newId, type Clock } from './rows.js';

/** What an operator gives to register a server. */
export interface NewServer {
  readonly name: string;
  readonly tenantId: string;
  readonly macs: readonly string[];
  readonly bmc: { driver: BmcDriver; url: string; user: string; password: string | null };
  readonly sshEndpoint: { host: string; port: number } | null;
  readonly profiles: readonly string[];
  /** `tcp://HOST:PORT` (already checked), or null/absent for the BMC's Serial-over-LAN. */
  readonly console?: string | null;
}

/** Servers. */
export class ServerStore {
  readonly #db: Kysely<Database>;
  readonly #now: Clock;
  readonly #box: SecretBox;

  constructor(db: Kysely<Database>, now: Clock, box: SecretBox) {
    this.#db = db;
    this.#now = now;
    this.#box = box;
  }

  /** Registers a server; its BMC password is sealed in the secret store. */
  async add(input: NewServer): Promise<Server> {
    const id = newId();
    const now = iso(this.#now());
    try {
      await this.#db.transaction().execute(async (tx) => {
        let ref: string | null = null;
        if (input.bmc.password !== null) {
          ref = newId();
          await tx.insertInto('secrets').values({ id: ref, sealed: this.#box.seal(input.bmc.password), created_at: now }).execute();
        }
        await tx
          .insertInto('servers')
          .values({
            id,
            name: input.name,
            tenant_id: input.tenantId,
            bmc_driver: input.bmc.driver,
            bmc_url: input.bmc.url,
            bmc_user: input.bmc.user,
            bmc_credentials_ref: ref,
            ssh_host: input.sshEndpoint?.host ?? null,
            ssh_port: input.sshEndpoint?.port ?? null,
            console: input.console ?? null,
            profiles: JSON.stringify(input.profiles),
            created_at: now,
          })
          .execute();
        for (const mac of input.macs) {
          try {
            await tx.insertInto('server_macs').values({ mac, server_id: id }).execute();
          } catch (error) {
            if (isUniqueViolation(error)) throw new LifeboatError('MAC_IN_USE', `MAC ${mac} belongs to another server`);
            throw error;
          }
        }
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new LifeboatError('SERVER_EXISTS', `server ${input.name} already exists`);
      throw error;
    }
    return this.byId(id) as Promise<Server>;
  }

  /** All servers (of one tenant when given), by name. */
  async list(tenantId?: string): Promise<Server[]> {
    let query = this.#db.selectFrom('servers').selectAll().orderBy('name');
    if (tenantId !== undefined) query = query.where('tenant_id', '=', tenantId);
    return this.#complete(await query.execute());
  }

  /** A server by name, or undefined. */
  async byName(name: string): Promise<Server | undefined> {
    const row = await this.#db.selectFrom('servers').selectAll().where('name', '=', name).executeTakeFirst();
    return row && (await this.#complete([row]))[0];
  }

  /** A server by id, or undefined. */
  async byId(id: string): Promise<Server | undefined> {
    const row = await this.#db.selectFrom('servers').selectAll().where('id', '=', id).executeTakeFirst();
    return row && (await this.#complete([row]))[0];
  }

  /** The server a MAC belongs to, or undefined. */
  async byMac(mac: string): Promise<Server | undefined> {
    const row = await this.#db.selectFrom('server_macs').select('server_id').where('mac', '=', mac).executeTakeFirst();
    return row && this.byId(row.server_id);
  }

  /** The BMC password, decrypted for one call. */
  async bmcPassword(server: Server): Promise<string> {
    if (server.bmc.credentialsRef === null) return '';
    const row = await this.#db.selectFrom('secrets').select('sealed').where('id', '=', server.bmc.credentialsRef).executeTakeFirst();
    if (!row) throw new LifeboatError('BMC_INVALID', `server ${server.name} has no stored BMC password`);
    return this.#box.open(row.sealed);
  }

  /**
   * Changes a server's BMC address, user or password (what is given; `password: null` removes it).
   * The old sealed password is deleted in the same transaction; jobs read the BMC at each attempt, so a
   * job retrying against a BMC whose password changed succeeds at its next attempt.
   */
  async updateBmc(server: Server, change: { url?: string; driver?: BmcDriver; user?: string; password?: string | null }): Promise<Server> {
    await this.#db.transaction().execute(async (tx) => {
      let ref = server.bmc.credentialsRef;
      if (change.password !== undefined) {
        if (ref !== null) await tx.deleteFrom('secrets').where('id', '=', ref).execute();
        ref = null;
        if (change.password !== null) {
          ref = newId();
          await tx.insertInto('secrets').values({ id: ref, sealed: this.#box.seal(change.password), created_at: iso(this.#now()) }).execute();
        }
      }
      await tx
        .updateTable('servers')
        .set({
          bmc_url: change.url ?? server.bmc.url,
          bmc_driver: change.driver ?? server.bmc.driver,
          bmc_user: change.user ?? server.bmc.user,
          bmc_credentials_ref: ref,
        })
        .where('id', '=', server.id)
        .execute();
    });
    return (await this.byId(server.id)) as Server;
  }

  /** Removes a server, its MACs, secret, sessions and tasks. */
  async remove(server: Server): Promise<void> {
    await this.#db.transaction().execute(async (tx) => {
      await tx.deleteFrom('agent_work').where('session_id', 'in', tx.selectFrom('rescue_sessions').select('id').where('server_id', '=', server.id)).execute();
      await tx.deleteFrom('console_logs').where('server_id', '=', server.id).execute();
      await tx.deleteFrom('hardware_tests').where('server_id', '=', server.id).execute();
      await tx.deleteFrom('rescue_sessions').where('server_id', '=', server.id).execute();
      await tx.deleteFrom('tasks').where('server_id', '=', server.id).execute();
      await tx.deleteFrom('incidents').where('server_id', '=', server.id).execute();
      await tx.deleteFrom('server_macs').where('server_id', '=', server.id).execute();
      await tx.deleteFrom('servers').where('id', '=', server.id).execute();
      if (server.bmc.credentialsRef !== null) await tx.deleteFrom('secrets').where('id', '=', server.bmc.credentialsRef).execute();
    });
  }

  async #complete(rows: ServerRow[]): Promise<Server[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const macs = await this.#db.selectFrom('server_macs').selectAll().where('server_id', 'in', ids).orderBy('mac').execute();
    const sessions = await this.#db
      .selectFrom('rescue_sessions')
      .select(['server_id', 'state'])
      .where('server_id', 'in', ids)
      .where('ended_at', 'is', null)
      .execute();
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      tenantId: row.tenant_id,
      macs: macs.filter((m) => m.server_id === row.id).map((m) => m.mac),
      bmc: { driver: row.bmc_driver as BmcDriver, url: row.bmc_url, user: row.bmc_user, credentialsRef: row.bmc_credentials_ref },
      sshEndpoint: row.ssh_host === null ? null : { host: row.ssh_host, port: row.ssh_port ?? 22 },
      console: row.console,
      profiles: json<string[]>(row.profiles, []),
      state: (sessions.find((s) => s.server_id === row.id)?.state ?? 'active') as RescueState,
      createdAt: new Date(row.created_at),
    }));
  }
}
