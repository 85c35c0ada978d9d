/** Incidents declared on servers, their comments and their attached hardware test results. */
import { sql, type Kysely } from 'kysely';
import {
  LifeboatError,
  checkIncidentTransition,
  type HardwareTestView,
  type Incident,
  type IncidentComment,
  type IncidentState,
  type IncidentTestAttachment,
  type Role,
} from '@lifeboat/core';
import type { Database, IncidentCommentRow, IncidentRow } from './schema.js';
import { dateOf, iso, json, newId, type Clock } from './rows.js';

function incidentOf(r: IncidentRow): Incident {
  return {
    id: r.id,
    serverId: r.server_id,
    tenantId: r.tenant_id,
    title: r.title,
    detail: r.detail,
    state: r.state as IncidentState,
    attachment: json<unknown>(r.attachment, null),
    tests: json<IncidentTestAttachment[]>(r.tests, []),
    resolution: r.resolution,
    createdBy: r.created_by,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
    acknowledgedAt: dateOf(r.acknowledged_at),
    resolvedAt: dateOf(r.resolved_at),
  };
}

function commentOf(r: IncidentCommentRow): IncidentComment {
  return { id: r.id, incidentId: r.incident_id, author: r.author, role: r.role as Role, message: r.message, createdAt: new Date(r.created_at) };
}

/** Which incidents `list` returns. */
export interface IncidentFilter {
  /** Only this tenant's (a customer's view). */
  readonly tenantId?: string;
  readonly serverId?: string;
  readonly state?: IncidentState;
}

/** Incidents declared on servers. */
export class IncidentStore {
  readonly #db: Kysely<Database>;
  readonly #now: Clock;

  constructor(db: Kysely<Database>, now: Clock) {
    this.#db = db;
    this.#now = now;
  }

  /** Declares an incident (`open`), with copies of the attached tests. */
  async create(input: {
    serverId: string;
    tenantId: string;
    title: string;
    detail: string;
    attachment?: unknown;
    tests?: readonly IncidentTestAttachment[];
    createdBy: string | null;
  }): Promise<Incident> {
    const now = iso(this.#now());
    const row: IncidentRow = {
      id: newId(),
      server_id: input.serverId,
      tenant_id: input.tenantId,
      title: input.title,
      detail: input.detail,
      state: 'open',
      attachment: input.attachment === undefined ? null : JSON.stringify(input.attachment),
      tests: JSON.stringify(input.tests ?? []),
      resolution: null,
      created_by: input.createdBy,
      created_at: now,
      updated_at: now,
      acknowledged_at: null,
      resolved_at: null,
    };
    await this.#db.insertInto('incidents').values(row).execute();
    return incidentOf(row);
  }

  /** One incident, or undefined. */
  async byId(id: string): Promise<Incident | undefined> {
    const row = await this.#db.selectFrom('incidents').selectAll().where('id', '=', id).executeTakeFirst();
    return row && incidentOf(row);
  }

  /** The queue: open first, then acknowledged, then resolved; oldest first in each. */
  async list(filter: IncidentFilter = {}): Promise<Incident[]> {
    let query = this.#db
      .selectFrom('incidents')
      .selectAll()
      .orderBy(sql`case state when 'open' then 0 when 'acknowledged' then 1 else 2 end`)
      .orderBy('created_at', 'asc')
      .orderBy('id', 'asc');
    if (filter.tenantId !== undefined) query = query.where('tenant_id', '=', filter.tenantId);
    if (filter.serverId !== undefined) query = query.where('server_id', '=', filter.serverId);
    if (filter.state !== undefined) query = query.where('state', '=', filter.state);
    return (await query.execute()).map(incidentOf);
  }

  /**
   * Moves an incident (`INVALID_STATE` for a move {@link checkIncidentTransition} refuses, also when
   * another request moved it first); resolving keeps `resolution`, reopening clears it.
   */
  async setState(id: string, state: IncidentState, options: { resolution?: string } = {}): Promise<Incident> {
    const current = await this.byId(id);
    if (!current) throw new LifeboatError('INCIDENT_NOT_FOUND', `no incident ${id}`);
    checkIncidentTransition(id, current.state, state);
    const now = iso(this.#now());
    const moved = await this.#db
      .updateTable('incidents')
      .set({
        state,
        updated_at: now,
        ...(state === 'acknowledged' ? { acknowledged_at: now } : {}),
        ...(state === 'resolved' ? { resolved_at: now, resolution: options.resolution ?? null } : {}),
        ...(state === 'open' ? { resolved_at: null, resolution: null, acknowledged_at: null } : {}),
      })
      .where('id', '=', id)
      .where('state', '=', current.state)
      .executeTakeFirst();
    if (Number(moved.numUpdatedRows) !== 1) {
      const now = await this.byId(id);
      throw new LifeboatError('INVALID_STATE', `incident ${id} is ${now?.state ?? 'gone'}: it cannot become ${state}`);
    }
    return (await this.byId(id)) as Incident;
  }

  /**
   * How a comment names the holder of token `tokenId`: the token's label (its id when the token is
   * gone); a browser session's actor (`user:<name>`) and a user's own token are the user's name.
   */
  async authorOf(tokenId: string): Promise<string> {
    if (tokenId.startsWith('user:')) return tokenId.slice('user:'.length);
    const token = await this.#db
      .selectFrom('api_tokens')
      .leftJoin('users', 'users.id', 'api_tokens.user_id')
      .select(['api_tokens.name as token_name', 'users.name as user_name'])
      .where('api_tokens.id', '=', tokenId)
      .executeTakeFirst();
    // A user's own token writes as the user.
    return token?.user_name ?? token?.token_name ?? tokenId;
  }

  /** Adds a comment, written by the holder of token `tokenId` (its label is kept as the author). */
  async comment(id: string, input: { tokenId: string; role: Role; message: string }): Promise<IncidentComment> {
    const now = iso(this.#now());
    const row: IncidentCommentRow = {
      id: newId(),
      incident_id: id,
      author: await this.authorOf(input.tokenId),
      author_token_id: input.tokenId,
      role: input.role,
      message: input.message,
      created_at: now,
    };
    await this.#db.transaction().execute(async (tx) => {
      const touched = await tx.updateTable('incidents').set({ updated_at: now }).where('id', '=', id).executeTakeFirst();
      if (Number(touched.numUpdatedRows) !== 1) throw new LifeboatError('INCIDENT_NOT_FOUND', `no incident ${id}`);
      await tx.insertInto('incident_comments').values(row).execute();
    });
    return commentOf(row);
  }

  /** An incident's comments, oldest first. */
  async comments(id: string): Promise<IncidentComment[]> {
    const rows = await this.#db.selectFrom('incident_comments').selectAll().where('incident_id', '=', id).orderBy('created_at', 'asc').orderBy('id', 'asc').execute();
    return rows.map(commentOf);
  }

  /** How many comments each of these incidents has. */
  async commentCounts(ids: readonly string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>(ids.map((id) => [id, 0]));
    if (ids.length === 0) return counts;
    const rows = await this.#db
      .selectFrom('incident_comments')
      .select(['incident_id', (eb) => eb.fn.countAll<string | number>().as('n')])
      .where('incident_id', 'in', [...ids])
      .groupBy('incident_id')
      .execute();
    for (const r of rows) counts.set(r.incident_id, Number(r.n));
    return counts;
  }
}

/**
 * The columns of `hardware_tests` that an attachment copies, as engineer F's migration
 * (`0003_f_hardware_tests`) creates them. Kept to this reader so that the merge connects attachments to
 * F's store in one place (`store.hardwareTests.ofServer(serverId, id)` with `hardwareTestView` can replace it).
 */
interface HardwareTestRow {
  id: string;
  server_id: string;
  session_id: string | null;
  kind: string;
  device: string | null;
  status: string;
  progress: number;
  summary: string | null;
  result: string | null;
  origin: string;
  params: string;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
}

/**
 * Reads the hardware tests an incident may attach: the views of a server's tests by id. Until the
 * `hardware_tests` table exists (F's migration), a server has no test and every id is unknown.
 */
export class AttachableTests {
  readonly #db: Kysely<{ hardware_tests: HardwareTestRow }>;

  constructor(db: Kysely<Database>) {
    this.#db = db as unknown as Kysely<{ hardware_tests: HardwareTestRow }>;
  }

  /** The views of the tests of `server` among `ids` (unknown ids and other servers' tests left out). */
  async ofServer(server: { id: string; name: string }, ids: readonly string[]): Promise<HardwareTestView[]> {
    if (ids.length === 0) return [];
    const tables = await this.#db.introspection.getTables();
    if (!tables.some((t) => t.name === 'hardware_tests')) return [];
    const rows = await this.#db.selectFrom('hardware_tests').selectAll().where('server_id', '=', server.id).where('id', 'in', [...ids]).execute();
    return rows.map((r) => ({
      id: r.id,
      server: server.name,
      sessionId: r.session_id,
      kind: r.kind as HardwareTestView['kind'],
      device: r.device,
      status: r.status as HardwareTestView['status'],
      progress: Number(r.progress),
      summary: r.summary,
      result: json<unknown>(r.result, null),
      origin: r.origin === 'ssh' ? 'ssh' : 'api',
      params: json<HardwareTestView['params']>(r.params, { durationSeconds: null, sizeBytes: null, repair: false, selfTest: null }),
      createdAt: r.created_at,
      startedAt: r.started_at,
      endedAt: r.ended_at,
    }));
  }
}
