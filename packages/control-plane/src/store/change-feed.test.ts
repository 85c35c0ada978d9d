// The PostgreSQL change feed across a dropped LISTEN connection: a session that changed while the
// listener was away is announced once it listens again (the notification itself was lost).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { waitFor } from '@lifeboat/test-support';
import { SecretBox } from '../credentials/secret-box.js';
import { Store } from './store.js';
import { createTestDatabase } from './testing.js';

test('a session changed while the listener was disconnected is announced when it listens again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-feed-'));
  const database = await createTestDatabase('postgres');
  const store = await Store.open({ databaseUrl: database.url, secretBox: SecretBox.fromKeyFile(join(dir, 'secret.key')), deadlines: { requestMs: 60_000, rescueMs: 600_000, exitMs: 600_000 } });
  try {
    const tenant = await store.tenants.add('acme');
    const server = await store.servers.add({ name: 'web-1', tenantId: tenant.id, macs: ['52:54:00:00:00:01'], bmc: { driver: 'ipmi', url: 'ipmi://127.0.0.1', user: 'admin', password: null }, sshEndpoint: null, profiles: ['linux'] });
    const session = await store.sessions.open({ serverId: server.id, profile: 'linux', email: null, sshKeys: [], passwordHash: null, expiresAt: new Date(Date.now() + 3_600_000), requestedBy: null });
    const heard: string[] = [];
    store.changes.on('server', (id) => heard.push(id));
    const listening = async () => (await sql<{ pid: number }>`select pid from pg_stat_activity where datname = current_database() and query like 'LISTEN %'`.execute(store.database.db)).rows;
    await waitFor('the listener', async () => ((await listening()).length === 1 ? true : undefined));

    // The listener's connection is cut; the session changes before it is back, with no notification
    // reaching anyone (as when the database came back before the listener did).
    const [listener] = await listening();
    await sql`select pg_terminate_backend(${listener!.pid})`.execute(store.database.db);
    await waitFor('the listener to be gone', async () => ((await listening()).length === 0 ? true : undefined));
    await store.database.db.updateTable('rescue_sessions').set({ updated_at: new Date().toISOString() }).where('id', '=', session.id).execute();
    heard.length = 0;

    await waitFor('the listener to be back and announce the server', async () => (heard.includes(server.id) ? true : undefined), 15_000);
  } finally {
    await store.close();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  }
});
