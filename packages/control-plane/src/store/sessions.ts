/** Rescue sessions: the state machine's rows, boot and agent tokens. */
import type { Kysely } from 'kysely';
import {
  LifeboatError,
  canTransition,
  deadlineFor,
  nextRescueState,
  rescueStatus,
  type HostKey,
  type RescueDeadlines,
  type RescueEvent,
  type RescueSession,
  type RescueState,
} from '@lifeboat/core';
import type { Database, RescueSessionRow } from './schema.js';
import { dateOf, iso, isUniqueViolation, json, newId, type Clock } from './rows.js';

function sessionOf(row: RescueSessionRow): RescueSession {
  return {
    id: row.id,
    serverId: row.server_id,
    profile: row.profile,
    state: row.state as RescueState,
    reason: row.reason,
    email: row.email,
    sshKeys: json<string[]>(row.ssh_keys, []),
    passwordLogin: row.password_login === 1,
    hostKeys: json<HostKey[]>(row.host_keys, []),
    deadlineAt: dateOf(row.deadline_at),
    expiresAt: new Date(row.expires_at),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    endedAt: dateOf(row.ended_at),
    requestedBy: row.requested_by,
    lastHeartbeatAt: dateOf(row.last_heartbeat_at),
  };
}

/** What a server netbooting by MAC gets: the rescue image, or "boot from your disk". */
export type NetbootChoice = 'rescue' | 'disk';

/** What a rescue request records. */
export interface NewSession {
  readonly serverId: string;
  readonly profile: string;
  readonly email: string | null;
  readonly sshKeys: readonly string[];
  /** SHA-512 crypt hash, or null with SSH keys. */
  readonly passwordHash: string | null;
  readonly expiresAt: Date;
  readonly requestedBy: string | null;
}

/** What the agent reads after redeeming its boot token. */
export interface AgentView {
  readonly session: RescueSession;
  readonly passwordHash: string | null;
  readonly agentTokenRevoked: boolean;
}

/** Rescue sessions. */
export class SessionStore {
  readonly #db: Kysely<Database>;
  readonly #now: Clock;
  readonly #deadlines: RescueDeadlines;
  readonly #changed: (serverId: string) => void;

  constructor(db: Kysely<Database>, now: Clock, deadlines: RescueDeadlines, changed: (serverId: string) => void) {
    this.#db = db;
    this.#now = now;
    this.#deadlines = deadlines;
    this.#changed = changed;
  }

  /** Open sessions by state (states without one are absent). */
  async countOpenByState(): Promise<Record<string, number>> {
    const rows = await this.#db.selectFrom('rescue_sessions').select(['state', (eb) => eb.fn.countAll<string | number | bigint>().as('count')]).where('ended_at', 'is', null).groupBy('state').execute();
    return Object.fromEntries(rows.map((row) => [row.state, Number(row.count)]));
  }

  /**
   * Opens a session in `rescue_requested` (the `request` event). A previous failed session is closed;
   * a session in any other state makes this an `INVALID_STATE` error.
   */
  async open(input: NewSession): Promise<RescueSession> {
    const now = this.#now();
    const id = newId();
    try {
      await this.#db.transaction().execute(async (tx) => {
        const current = await tx
          .selectFrom('rescue_sessions')
          .select(['id', 'state'])
          .where('server_id', '=', input.serverId)
          .where('ended_at', 'is', null)
          .executeTakeFirst();
        const state = (current?.state ?? 'active') as RescueState;
        nextRescueState(state, 'request');
        if (current) {
          await tx.updateTable('rescue_sessions').set({ ended_at: iso(now), updated_at: iso(now) }).where('id', '=', current.id).execute();
        }
        await tx
          .insertInto('rescue_sessions')
          .values({
            id,
            server_id: input.serverId,
            profile: input.profile,
            state: 'rescue_requested',
            reason: null,
            email: input.email,
            ssh_keys: JSON.stringify(input.sshKeys),
            password_hash: input.passwordHash,
            password_login: input.passwordHash === null ? 0 : 1,
            host_keys: '[]',
            inventory: null,
            boot_token_hash: null,
            boot_token_sealed: null,
            boot_address: null,
            boot_attempt: 0,
            agent_token_hash: null,
            agent_token_revoked_at: null,
            deadline_at: iso(deadlineFor('rescue_requested', now, this.#deadlines, input.expiresAt)!),
            expires_at: iso(input.expiresAt),
            warned_at: null,
            last_heartbeat_at: null,
            created_at: iso(now),
            updated_at: iso(now),
            ended_at: null,
            requested_by: input.requestedBy,
            netboot: 'disk',
          })
          .execute();
      });
    } catch (error) {
      // Two requests raced; the database let one open a session.
      if (isUniqueViolation(error)) throw new LifeboatError('INVALID_STATE', 'cannot enter rescue: a rescue request is already in progress');
      throw error;
    }
    this.#changed(input.serverId);
    return (await this.byId(id))!;
  }

  /** A session by id. */
  async byId(id: string): Promise<RescueSession | undefined> {
    const row = await this.#db.selectFrom('rescue_sessions').selectAll().where('id', '=', id).executeTakeFirst();
    return row && sessionOf(row);
  }

  /** A server's open session, if any. */
  async openFor(serverId: string): Promise<RescueSession | undefined> {
    const row = await this.#db
      .selectFrom('rescue_sessions')
      .selectAll()
      .where('server_id', '=', serverId)
      .where('ended_at', 'is', null)
      .executeTakeFirst();
    return row && sessionOf(row);
  }

  /** A server's most recent session, open or ended. */
  async latestFor(serverId: string): Promise<RescueSession | undefined> {
    const row = await this.#db
      .selectFrom('rescue_sessions')
      .selectAll()
      .where('server_id', '=', serverId)
      .orderBy('created_at', 'desc')
      .orderBy('ended_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && sessionOf(row);
  }

  /**
   * Applies an event. The update only lands if the state did not change meanwhile (compare-and-set),
   * so two workers cannot both move a session; the loser gets `INVALID_STATE`.
   */
  async transition(id: string, event: RescueEvent, options: { reason?: string } = {}): Promise<RescueSession> {
    const row = await this.#db.selectFrom('rescue_sessions').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new LifeboatError('SESSION_NOT_FOUND', `no rescue session ${id}`);
    if (row.ended_at !== null) throw new LifeboatError('INVALID_STATE', `this rescue session is over (${rescueStatus(row.state as RescueState)})`);
    const from = row.state as RescueState;
    const to = nextRescueState(from, event);
    const now = this.#now();
    const deadline = deadlineFor(to, now, this.#deadlines, new Date(row.expires_at));
    const result = await this.#db
      .updateTable('rescue_sessions')
      .set({
        state: to,
        reason: options.reason ?? (to === 'rescue_failed' || to === 'exit_failed' ? 'failed' : null),
        deadline_at: deadline && iso(deadline),
        updated_at: iso(now),
        ended_at: to === 'active' ? iso(now) : null,
        // The boot credential serves only while the rescue system boots: ready, failed or over, it goes.
        ...(to === 'rescue_requested' || to === 'preparing_rescue' ? {} : { boot_token_hash: null, boot_token_sealed: null }),
      })
      .where('id', '=', id)
      .where('state', '=', from)
      .where('ended_at', 'is', null)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) {
      const now2 = await this.byId(id);
      throw new LifeboatError('INVALID_STATE', `the rescue session moved on meanwhile (${rescueStatus(now2?.state ?? from)})`);
    }
    this.#changed(row.server_id);
    return (await this.byId(id))!;
  }

  /** Whether an open session accepts an event right now. */
  async accepts(id: string, event: RescueEvent): Promise<boolean> {
    const session = await this.byId(id);
    return session !== undefined && session.endedAt === null && canTransition(session.state, event);
  }

  /** What the netboot server answers for this session's server: `rescue` or `disk`. */
  async netboot(id: string): Promise<NetbootChoice> {
    const row = await this.#db.selectFrom('rescue_sessions').select('netboot').where('id', '=', id).executeTakeFirst();
    return row?.netboot === 'rescue' ? 'rescue' : 'disk';
  }

  /**
   * Sets what the netboot server answers: `rescue` right after the enter job set the boot device to
   * network, `disk` when the exit job or a rollback sets it back.
   */
  async setNetboot(id: string, choice: NetbootChoice): Promise<void> {
    await this.#db.updateTable('rescue_sessions').set({ netboot: choice }).where('id', '=', id).execute();
  }

  /** The session an agent token belongs to, with its password hash and revocation. */
  async byAgentToken(agentTokenHash: string): Promise<AgentView | undefined> {
    const row = await this.#db.selectFrom('rescue_sessions').selectAll().where('agent_token_hash', '=', agentTokenHash).executeTakeFirst();
    if (!row) return undefined;
    return {
      session: sessionOf(row),
      passwordHash: row.password_hash,
      agentTokenRevoked: row.agent_token_revoked_at !== null || row.ended_at !== null,
    };
  }

  /** Revokes the session's agent token (exit). */
  async revokeAgentToken(id: string): Promise<void> {
    await this.#db
      .updateTable('rescue_sessions')
      .set({ agent_token_revoked_at: iso(this.#now()), boot_token_hash: null, boot_token_sealed: null })
      .where('id', '=', id)
      .where('agent_token_revoked_at', 'is', null)
      .execute();
  }

  /** Records the rescue system's host keys. */
  async setHostKeys(id: string, hostKeys: readonly HostKey[]): Promise<void> {
    const row = await this.#db.updateTable('rescue_sessions').set({ host_keys: JSON.stringify(hostKeys), updated_at: iso(this.#now()) }).where('id', '=', id).returning('server_id').executeTakeFirst();
    if (row) this.#changed(row.server_id);
  }

  /** Records the hardware inventory. */
  async setInventory(id: string, inventory: unknown): Promise<void> {
    await this.#db.updateTable('rescue_sessions').set({ inventory: JSON.stringify(inventory) }).where('id', '=', id).execute();
  }

  /** The inventory last reported for a session. */
  async inventory(id: string): Promise<unknown> {
    const row = await this.#db.selectFrom('rescue_sessions').select('inventory').where('id', '=', id).executeTakeFirst();
    return json<unknown>(row?.inventory ?? null, null);
  }

  /** Records a heartbeat. */
  async heartbeat(id: string): Promise<void> {
    await this.#db.updateTable('rescue_sessions').set({ last_heartbeat_at: iso(this.#now()) }).where('id', '=', id).execute();
  }

  /** Moves the end of the lease (and the `rescue` deadline with it). */
  async extend(id: string, expiresAt: Date): Promise<RescueSession> {
    const session = await this.byId(id);
    if (!session || session.endedAt !== null) throw new LifeboatError('INVALID_STATE', 'this rescue session is over');
    await this.#db
      .updateTable('rescue_sessions')
      .set({
        expires_at: iso(expiresAt),
        warned_at: null,
        updated_at: iso(this.#now()),
        ...(session.state === 'rescue' ? { deadline_at: iso(expiresAt) } : {}),
      })
      .where('id', '=', id)
      .execute();
    this.#changed(session.serverId);
    return (await this.byId(id))!;
  }

  /** Open sessions whose deadline has passed. */
  async pastDeadline(now: Date): Promise<RescueSession[]> {
    const rows = await this.#db
      .selectFrom('rescue_sessions')
      .selectAll()
      .where('ended_at', 'is', null)
      .where('deadline_at', 'is not', null)
      .where('deadline_at', '<=', iso(now))
      .execute();
    return rows.map(sessionOf);
  }

  /** Sessions in rescue whose lease ends before `before` and that were not warned yet; marks them warned. */
  async takeExpiryWarnings(before: Date): Promise<RescueSession[]> {
    const rows = await this.#db
      .selectFrom('rescue_sessions')
      .selectAll()
      .where('ended_at', 'is', null)
      .where('state', '=', 'rescue')
      .where('warned_at', 'is', null)
      .where('expires_at', '<=', iso(before))
      .execute();
    const taken: RescueSession[] = [];
    for (const row of rows) {
      const result = await this.#db
        .updateTable('rescue_sessions')
        .set({ warned_at: iso(this.#now()) })
        .where('id', '=', row.id)
        .where('warned_at', 'is', null)
        .executeTakeFirst();
      if (result.numUpdatedRows > 0n) taken.push(sessionOf(row));
    }
    return taken;
  }
}
