/**
 * Test support for attachments until engineer F's `hardware_tests` migration (`0003_f_hardware_tests`,
 * branch wt-tests-api) is merged: the table exactly as that migration creates it, made only when it is
 * missing (after the merge the migration has made it and this does nothing), and a finished test
 * inserted as F's store writes one. Used by tests only.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/** Creates `hardware_tests` as F's migration does, unless it exists. */
export async function createHardwareTestsTable(db: Kysely<Database>): Promise<void> {
  if ((await db.introspection.getTables()).some((t) => t.name === 'hardware_tests')) return;
  await sql`create table hardware_tests (
    id text primary key,
    server_id text not null references servers(id) on delete cascade,
    tenant_id text not null,
    session_id text,
    kind text not null,
    device text,
    params text not null,
    status text not null,
    progress integer not null,
    summary text,
    result text,
    output text not null,
    origin text not null,
    work_id text,
    cancel_requested integer not null,
    requested_by text,
    created_at text not null,
    updated_at text not null,
    started_at text,
    ended_at text
  )`.execute(db);
}

/** Inserts a finished test of a server. */
export async function insertHardwareTest(
  db: Kysely<Database>,
  test: { id: string; serverId: string; kind: string; device: string | null; status: string; summary: string; result: unknown },
): Promise<void> {
  const at = '2026-03-01T09:00:00.000Z';
  const server = await db.selectFrom('servers').select('tenant_id').where('id', '=', test.serverId).executeTakeFirstOrThrow();
  await sql`insert into hardware_tests (id, server_id, tenant_id, session_id, kind, device, params, status, progress, summary, result, output, origin, work_id,
                                        cancel_requested, requested_by, created_at, updated_at, started_at, ended_at)
    values (${test.id}, ${test.serverId}, ${server.tenant_id}, ${null}, ${test.kind}, ${test.device},
            ${JSON.stringify({ durationSeconds: null, sizeBytes: null, repair: false, selfTest: null })}, ${test.status}, ${100}, ${test.summary},
            ${JSON.stringify(test.result)}, ${''}, ${'api'}, ${null}, ${0}, ${null}, ${at}, ${at}, ${at}, ${at})`.execute(db);
}
