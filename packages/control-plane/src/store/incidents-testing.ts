/**
 * Test support: finished hardware tests of a server, made through the real store as a rescue makes
 * them (a session, a test started from SSH, its outcome), the session then ended. Used by tests only.
 */
import type { Store } from './store.js';

/** What a finished test says. */
export interface FinishedTest {
  readonly kind: 'smart' | 'cpu' | 'memory' | 'disk' | 'readtest' | 'partitions' | 'fsck';
  readonly device: string | null;
  readonly status: 'passed' | 'failed' | 'error' | 'cancelled';
  readonly summary: string;
  readonly result: unknown;
}

/** Runs one rescue session of `serverId` in which `tests` ran and ended; returns their ids, in order. */
export async function finishedTests(store: Store, serverId: string, tests: readonly FinishedTest[]): Promise<string[]> {
  const server = await store.servers.byId(serverId);
  if (!server) throw new Error(`no server ${serverId}`);
  const session = await store.sessions.open({ serverId, profile: 'linux', email: null, sshKeys: [], passwordHash: null, expiresAt: new Date(store.now().getTime() + 3_600_000), requestedBy: 'test' });
  const ids: string[] = [];
  for (const test of tests) {
    const params = { kind: test.kind, device: test.device, durationSeconds: null, sizeBytes: null, repair: false, selfTest: test.kind === 'smart' ? ('short' as const) : null };
    const created = await store.hardwareTests.create({ serverId, tenantId: server.tenantId, sessionId: session.id, params, origin: 'ssh', requestedBy: null });
    await store.hardwareTests.finish(created.id, { status: test.status, summary: test.summary, result: test.result });
    ids.push(created.id);
  }
  await store.sessions.transition(session.id, 'request_exit');
  await store.sessions.transition(session.id, 'exited');
  return ids;
}
