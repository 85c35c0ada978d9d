/**
 * Test databases: a fresh SQLite file or a fresh PostgreSQL database per call, dropped afterwards,
 * so that tests run in parallel without seeing each other. `DIALECTS=sqlite,postgres` (the default)
 * picks the dialects a suite runs on. Used by tests only.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { DialectName } from './database.js';

/** The PostgreSQL server tests use (trust auth). */
export const testPostgresUrl = process.env.LIFEBOAT_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432';

/** Dialects to run store tests on. */
export function testDialects(): DialectName[] {
  const names = (process.env.DIALECTS ?? 'sqlite,postgres').split(',').map((d) => d.trim()).filter(Boolean);
  for (const name of names) if (name !== 'sqlite' && name !== 'postgres') throw new Error(`unknown dialect ${name} in DIALECTS`);
  return names as DialectName[];
}

/** A throw-away database. */
export interface TestDatabase {
  readonly dialect: DialectName;
  readonly url: string;
  /** Drops it. */
  drop(): Promise<void>;
}

/** Creates an empty database of a dialect. */
export async function createTestDatabase(dialect: DialectName): Promise<TestDatabase> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-db-'));
    return { dialect, url: `sqlite:${join(dir, 'lifeboat.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `lifeboat_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: `${testPostgresUrl}/postgres` });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    dialect,
    url: `${testPostgresUrl}/${name}`,
    drop: async () => {
      const client = new pg.Client({ connectionString: `${testPostgresUrl}/postgres` });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
