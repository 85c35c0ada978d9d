import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SecretBox } from '../credentials/secret-box.js';
import { Store } from '../store/store.js';
import { endOnRevoke } from './revocable-streams.js';

describe('streams that end on revocation', () => {
  let dir: string;
  let store: Store;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-revoke-'));
    store = await Store.open({ databaseUrl: `sqlite:${join(dir, 'lifeboat.db')}`, secretBox: SecretBox.fromKeyFile(join(dir, 'secret.key')), deadlines: { requestMs: 1, rescueMs: 1, exitMs: 1 } });
  });
  after(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ends a stream once when its own token is revoked, not when another is', async () => {
    const mine = (await store.tokens.create({ name: 'tech', role: 'technician', tenantId: null })).record;
    const other = (await store.tokens.create({ name: 'op', role: 'operator', tenantId: null })).record;
    let ended = 0;
    endOnRevoke(store, { tokenId: mine.id }, () => ended++);
    await store.tokens.revoke(other.id);
    assert.equal(ended, 0);
    await store.tokens.revoke(mine.id);
    await store.tokens.revoke(mine.id);
    assert.equal(ended, 1);
    assert.equal(store.changes.listenerCount('token'), 0, 'it stopped listening');
  });

  it('finds a revocation it was not told about when it re-reads the token', async () => {
    const { record } = await store.tokens.create({ name: 'tech', role: 'technician', tenantId: null });
    // Revoked behind the feed's back (another replica whose notification was lost).
    await store.database.db.updateTable('api_tokens').set({ revoked_at: new Date().toISOString() }).where('id', '=', record.id).execute();
    const ended = new Promise<void>((resolve) => endOnRevoke(store, { tokenId: record.id }, resolve, 50));
    // The re-read's timer is unref'd (it must not keep a control plane alive): this one keeps the test's
    // event loop running until the stream ends, and fails it if that never happens.
    let guard: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      guard = setTimeout(() => reject(new Error('the stream did not end within 10 s of the revocation')), 10_000);
    });
    try {
      await Promise.race([ended, timedOut]);
    } finally {
      clearTimeout(guard);
    }
  });

  it('keeps a browser session\'s stream open while the session lives; ends it once signed out or expired', async () => {
    const user = await store.users.add({ name: 'alice', role: 'operator', tenantId: null, email: null, password: 'a password long enough' });
    const hour = { idleMs: 3_600_000, maxMs: 3_600_000 };
    const live = (await store.browserSessions.create(user, hour)).session;
    const signedOut = (await store.browserSessions.create(user, hour)).session;
    const expired = (await store.browserSessions.create(user, { idleMs: 3_600_000, maxMs: 1 })).session;
    // Before: the stream re-read the principal's `user:NAME` as an API token, found none, and ended.
    let liveEnded = 0;
    const stopLive = endOnRevoke(store, { browserSessionId: live.id }, () => liveEnded++, 20);
    await store.browserSessions.remove(signedOut.id);
    const ends = Promise.all(
      [signedOut, expired].map((session) => new Promise<void>((resolve) => endOnRevoke(store, { browserSessionId: session.id }, resolve, 20))),
    );
    let guard: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      guard = setTimeout(() => reject(new Error('the ended sessions\' streams did not end within 10 s')), 10_000);
    });
    try {
      await Promise.race([ends, timedOut]);
    } finally {
      clearTimeout(guard);
    }
    // The live session's stream started first with the same period: it was re-read at least as often.
    assert.equal(liveEnded, 0, 'the live session\'s stream is still open');
    stopLive();
    await store.browserSessions.remove(live.id);
  });

  it('stops watching when the stream ends first', async () => {
    const { record } = await store.tokens.create({ name: 'tech', role: 'technician', tenantId: null });
    let ended = 0;
    const stop = endOnRevoke(store, { tokenId: record.id }, () => ended++);
    stop();
    await store.tokens.revoke(record.id);
    assert.equal(ended, 0);
  });
});
