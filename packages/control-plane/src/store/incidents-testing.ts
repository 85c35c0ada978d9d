/**
 * Test support for attachments until engineer F's `hardware_tests` migration is merged: the table as
 * that migration creates it (the columns `AttachableTests` reads), and a row as F's store writes one.
 * Used by tests only; the merge replaces both with F's migration and store.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/** Creates `hardware_tests` (the columns of `HardwareTestView`, snake_case, JSON as text). */
export async function createHardwareTestsTable(db: Kysely<Database>): Promise<void> {
  await sql`create table hardware_tests (
    id text primary key,
    server_id text not null references servers(id) on delete cascade,
    session_id text,
    kind text not null,
    device text,
    status text not null,
    progress integer not null,
    summary text,
    result text,
    origin text not null,
    params text not null,
    created_at text not null,
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
  await sql`insert into hardware_tests (id, server_id, session_id, kind, device, status, progress, summary, result, origin, params, created_at, started_at, ended_at)
    values (${test.id}, ${test.serverId}, ${null}, ${test.kind}, ${test.device}, ${test.status}, ${100}, ${test.summary}, ${JSON.stringify(test.result)}, ${'api'},
            ${JSON.stringify({ durationSeconds: null, sizeBytes: null, repair: false, selfTest: null })}, ${at}, ${at}, ${at})`.execute(db);
}
