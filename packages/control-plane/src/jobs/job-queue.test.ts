import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LifeboatError } from '@lifeboat/core';
import { SecretBox } from '../credentials/secret-box.js';
import { Store } from '../store/store.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../store/testing.js';
import { backoffDelay, JobQueue } from './job-queue.js';
import { DeadlineScheduler, deadlineJob } from './scheduler.js';
import { PermanentJobError, Worker, type WorkerLog } from './worker.js';

const deadlines = { requestMs: 60_000, rescueMs: 600_000, exitMs: 300_000 };
const quiet: WorkerLog = { info() {}, warn() {}, error() {} };

for (const dialect of testDialects()) {
  describe(`jobs on ${dialect}`, { timeout: 120_000 }, () => {
    let database: TestDatabase;
    let dir: string;
    let clock = new Date('2026-03-01T10:00:00.000Z');
    const now = () => clock;
    const stores: Store[] = [];

    async function openStore(): Promise<Store> {
      const store = await Store.open({ databaseUrl: database.url, secretBox: SecretBox.fromKeyFile(join(dir, 'secret.key')), deadlines, now });
      stores.push(store);
      return store;
    }

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'lifeboat-jobs-'));
      database = await createTestDatabase(dialect);
    });
    after(async () => {
      for (const store of stores) await store.close();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('runs every job exactly once across two workers on two connections', async () => {
      const a = await openStore();
      const b = await openStore();
      const queueA = new JobQueue(a.database.db, a.dialect, () => new Date());
      const queueB = new JobQueue(b.database.db, b.dialect, () => new Date());
      const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => queueA.add('count', { i })));
      const runs: Array<[string, string]> = [];
      const handler = (worker: string) => async ({ job }: { job: { id: string } }) => {
        runs.push([worker, job.id]);
        await new Promise((r) => setImmediate(r));
      };
      const stop = new AbortController();
      const options = { leaseMs: 30_000, backoff: { baseMs: 10, maxMs: 100 }, pollMs: 20, log: quiet, concurrency: 3 };
      const workers = [
        new Worker({ ...options, queue: queueA, handlers: { count: handler('a') } }).run(stop.signal),
        new Worker({ ...options, queue: queueB, handlers: { count: handler('b') } }).run(stop.signal),
      ];
      while (runs.length < ids.length) await new Promise((r) => setTimeout(r, 20));
      // Let any duplicate claim surface before stopping.
      for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 20));
      stop.abort();
      await Promise.all(workers);
      assert.deepEqual(runs.map(([, id]) => id).sort(), [...ids].sort());
      for (const id of ids) assert.equal((await queueA.byId(id))?.state, 'completed');
    });

    it('lets another worker reclaim a job whose lease expired after a crash', async () => {
      const store = await openStore();
      const queue = new JobQueue(store.database.db, store.dialect, now);
      const id = await queue.add('crashy', {});
      const claimed = await queue.claim('crashed-worker', 10_000, ['crashy']);
      assert.equal(claimed?.id, id);
      assert.equal(await queue.claim('second-worker', 10_000, ['crashy']), undefined, 'a held lease blocks others');
      clock = new Date(clock.getTime() + 10_001);
      const reclaimed = await queue.claim('second-worker', 10_000, ['crashy']);
      assert.equal(reclaimed?.id, id);
      assert.equal(reclaimed?.attempts, 2);
      assert.equal(await queue.complete(id, 'crashed-worker'), false, 'the crashed worker lost the job');
      assert.equal(await queue.renew(id, 'crashed-worker', 10_000), false);
      assert.equal(await queue.complete(id, 'second-worker'), true);
      assert.equal((await queue.byId(id))?.state, 'completed');
    });

    it('retries with exponential backoff, then gives up', async () => {
      const store = await openStore();
      const queue = new JobQueue(store.database.db, store.dialect, now);
      const backoff = { baseMs: 1000, maxMs: 3000 };
      assert.deepEqual([1, 2, 3, 4].map((n) => backoffDelay(backoff, n)), [1000, 2000, 3000, 3000]);
      const id = await queue.add('flaky', { n: 1 }, { maxAttempts: 3 });
      const attempts: number[] = [];
      const gaveUp: string[] = [];
      const worker = new Worker({
        queue,
        handlers: {
          flaky: async ({ job }) => {
            attempts.push(job.attempts);
            throw new Error('BMC busy');
          },
        },
        onGiveUp: { flaky: async (job) => void gaveUp.push(job.id) },
        leaseMs: 60_000,
        backoff,
        pollMs: 10,
        log: quiet,
      });
      assert.equal(await worker.runOnce(), true);
      let job = (await queue.byId(id))!;
      assert.equal(job.state, 'pending');
      assert.equal(job.lastError, 'BMC busy');
      assert.equal(job.runAt.getTime(), clock.getTime() + 1000);
      assert.equal(await worker.runOnce(), false, 'not before its backoff');
      clock = new Date(clock.getTime() + 1000);
      assert.equal(await worker.runOnce(), true);
      job = (await queue.byId(id))!;
      assert.equal(job.runAt.getTime(), clock.getTime() + 2000);
      clock = new Date(clock.getTime() + 2000);
      assert.equal(await worker.runOnce(), true);
      job = (await queue.byId(id))!;
      assert.equal(job.state, 'failed');
      assert.deepEqual(attempts, [1, 2, 3]);
      assert.deepEqual(gaveUp, [id]);
    });

    it('fails a job at once when retrying cannot help', async () => {
      const store = await openStore();
      const queue = new JobQueue(store.database.db, store.dialect, now);
      const id = await queue.add('bad', {});
      const worker = new Worker({
        queue,
        handlers: { bad: async () => { throw new LifeboatError('BMC_INVALID', 'no such BMC driver'); } },
        leaseMs: 60_000,
        backoff: { baseMs: 1000, maxMs: 1000 },
        pollMs: 10,
        log: quiet,
      });
      await worker.runOnce();
      assert.equal((await queue.byId(id))?.state, 'failed');
    });

    it('fails a job for good at a PermanentJobError, with the message of the error it wraps', async () => {
      const store = await openStore();
      const queue = new JobQueue(store.database.db, store.dialect, now);
      const id = await queue.add('refused', {}, { maxAttempts: 5 });
      const gaveUp: unknown[] = [];
      const worker = new Worker({
        queue,
        handlers: { refused: async () => { throw new PermanentJobError(new LifeboatError('BMC_AUTH_FAILED', 'the BMC refused the user name or password')); } },
        onGiveUp: { refused: async (_job, error) => void gaveUp.push(error) },
        leaseMs: 60_000,
        backoff: { baseMs: 1000, maxMs: 1000 },
        pollMs: 10,
        log: quiet,
      });
      await worker.runOnce();
      const job = await queue.byId(id);
      assert.equal(job?.state, 'failed');
      assert.equal(job?.attempts, 1, 'not retried');
      assert.equal(job?.lastError, 'the BMC refused the user name or password');
      assert.equal(((gaveUp[0] as Error).cause as LifeboatError).code, 'BMC_AUTH_FAILED');
    });

    it('never starts a job twice at once when its lease expired while the same worker runs it', async () => {
      const store = await openStore();
      const queue = new JobQueue(store.database.db, store.dialect, now);
      const id = await queue.add('long', {});
      let starts = 0;
      let finish!: () => void;
      const finished = new Promise<void>((resolve) => (finish = resolve));
      const worker = new Worker({
        queue,
        handlers: {
          long: async () => {
            starts++;
            await finished;
          },
        },
        leaseMs: 60_000,
        backoff: { baseMs: 1000, maxMs: 1000 },
        pollMs: 5,
        log: quiet,
      });
      const stop = new AbortController();
      const running = worker.run(stop.signal);
      while (starts === 0) await new Promise((r) => setTimeout(r, 5));
      // The lease runs out (as when the database was unreachable and it could not be renewed): the
      // worker's own claim loop takes the job again, and must not start it beside the run in progress.
      clock = new Date(clock.getTime() + 60_001);
      while ((await queue.byId(id))?.attempts !== 2) await new Promise((r) => setTimeout(r, 5));
      finish();
      while ((await queue.byId(id))?.state !== 'completed') await new Promise((r) => setTimeout(r, 5));
      stop.abort();
      await running;
      assert.equal(starts, 1);
    });

    it('keeps one unfinished job per dedupe key', async () => {
      const store = await openStore();
      const queue = new JobQueue(store.database.db, store.dialect, now);
      const first = await queue.add('enter', {}, { dedupeKey: 'enter:s1' });
      assert.equal(await queue.add('enter', {}, { dedupeKey: 'enter:s1' }), first);
      const claimed = await queue.claim('w', 1000, ['enter']);
      await queue.complete(claimed!.id, 'w');
      assert.notEqual(await queue.add('enter', {}, { dedupeKey: 'enter:s1' }), first);
    });

    it('never claims a job whose lock key a running job holds, until that job ends or resumes', async () => {
      const store = await openStore();
      const queue = new JobQueue(store.database.db, store.dialect, now);
      const first = await queue.add('bmc', { n: 1 }, { lockKey: 'server:k1' });
      const second = await queue.add('bmc', { n: 2 }, { lockKey: 'server:k1' });
      const other = await queue.add('bmc', { n: 3 }, { lockKey: 'server:k2' });
      assert.equal((await queue.claim('w1', 10_000, ['bmc']))?.id, first);
      assert.equal((await queue.claim('w2', 10_000, ['bmc']))?.id, other, 'another server\'s job runs beside it');
      assert.equal(await queue.claim('w2', 10_000, ['bmc']), undefined, 'the second job of server k1 waits');
      assert.equal(await queue.complete(other, 'w2'), true);
      clock = new Date(clock.getTime() + 10_001);
      assert.equal((await queue.claim('w2', 10_000, ['bmc']))?.id, first, 'w1 crashed: its job resumes first, never its key\'s next job');
      assert.equal(await queue.claim('w3', 10_000, ['bmc']), undefined, 'the resumed job holds the key again');
      assert.equal(await queue.complete(first, 'w2'), true);
      assert.equal((await queue.claim('w3', 10_000, ['bmc']))?.id, second, 'the key is free once its holder completed');
      assert.equal((await queue.byId(second))?.lockKey, 'server:k1');
    });

    it('never runs two jobs of one server at once across two workers on two connections', async () => {
      const a = await openStore();
      const b = await openStore();
      const queueA = new JobQueue(a.database.db, a.dialect, () => new Date());
      const queueB = new JobQueue(b.database.db, b.dialect, () => new Date());
      const servers = ['s1', 's2', 's3'];
      const ids = await Promise.all(Array.from({ length: 24 }, (_, i) => queueA.add('serial', { i }, { lockKey: `server:${servers[i % 3]}` })));
      const holding = new Map<string, number>();
      let overlaps = 0;
      let mostAtOnce = 0;
      let done = 0;
      const handler = async ({ job }: { job: { lockKey: string | null } }) => {
        const key = job.lockKey!;
        const count = (holding.get(key) ?? 0) + 1;
        holding.set(key, count);
        if (count > 1) overlaps++;
        mostAtOnce = Math.max(mostAtOnce, [...holding.values()].reduce((x, y) => x + y, 0));
        // Yield to the event loop several times, as a BMC round trip would, so that overlaps could show.
        for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 2));
        holding.set(key, holding.get(key)! - 1);
        done++;
      };
      const stop = new AbortController();
      const options = { leaseMs: 30_000, backoff: { baseMs: 10, maxMs: 100 }, pollMs: 5, log: quiet, concurrency: 4 };
      const workers = [
        new Worker({ ...options, queue: queueA, handlers: { serial: handler } }).run(stop.signal),
        new Worker({ ...options, queue: queueB, handlers: { serial: handler } }).run(stop.signal),
      ];
      while (done < ids.length) await new Promise((r) => setTimeout(r, 10));
      stop.abort();
      await Promise.all(workers);
      assert.equal(overlaps, 0, 'two jobs of one server ran at once');
      assert.ok(mostAtOnce > 1, 'jobs of different servers did run at once');
      for (const id of ids) assert.equal((await queueA.byId(id))?.state, 'completed');
    });

    it('gives up while the failed job still holds its lock key: the give-up handler never runs beside the next job', async () => {
      const store = await openStore();
      const queue = new JobQueue(store.database.db, store.dialect, now);
      const failing = await queue.add('rollback-on-failure', {}, { lockKey: 'server:g1', maxAttempts: 1 });
      const next = await queue.add('next', {}, { lockKey: 'server:g1' });
      const seen: Array<string | undefined> = [];
      const worker = new Worker({
        queue,
        handlers: { 'rollback-on-failure': async () => { throw new Error('BMC busy'); } },
        onGiveUp: { 'rollback-on-failure': async () => void seen.push((await queue.claim('other-worker', 10_000, ['next']))?.id) },
        leaseMs: 60_000,
        backoff: { baseMs: 1000, maxMs: 1000 },
        pollMs: 10,
        log: quiet,
      });
      assert.equal(await worker.runOnce(), true);
      assert.deepEqual(seen, [undefined], 'during the give-up handler the next job of the server was not claimable');
      assert.equal((await queue.byId(failing))?.state, 'failed');
      assert.equal((await queue.claim('other-worker', 10_000, ['next']))?.id, next, 'and is once the failed job let go');
    });

    it('enqueues a deadline job once per passed deadline', async () => {
      const store = await openStore();
      const queue = new JobQueue(store.database.db, store.dialect, now);
      const tenant = await store.tenants.add('deadline-tenant');
      const server = await store.servers.add({ name: 'dl-1', tenantId: tenant.id, macs: [], bmc: { driver: 'ipmi', url: 'ipmi://127.0.0.1:1', user: 'u', password: null }, sshEndpoint: null, profiles: ['linux'] });
      const session = await store.sessions.open({ serverId: server.id, profile: 'linux', email: null, sshKeys: [], passwordHash: null, expiresAt: new Date(clock.getTime() + 86_400_000), requestedBy: null });
      await store.sessions.transition(session.id, 'boot_started');
      const scheduler = new DeadlineScheduler({ store, queue, intervalMs: 1000, warnBeforeMs: 0, log: quiet });
      assert.equal(await scheduler.tick(), 0);
      clock = new Date(clock.getTime() + deadlines.rescueMs);
      assert.equal(await scheduler.tick(), 1);
      await scheduler.tick();
      const job = await queue.claim('w', 1000, [deadlineJob]);
      assert.deepEqual(job?.params, { sessionId: session.id, state: 'preparing_rescue' });
      assert.equal(await queue.claim('w', 1000, [deadlineJob]), undefined, 'two ticks enqueued one job');
    });
  });
}
