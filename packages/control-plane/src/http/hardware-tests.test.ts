/**
 * Hardware tests through the API, in-process on every dialect: the agent is played by the test through
 * the agent API (long poll, progress, result, SSH-started tests); time is moved, not waited for.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { LifeboatClient, type HardwareTestEvent } from '@lifeboat/core';
import { waitFor } from '@lifeboat/test-support';
import { hashToken, newToken } from '../credentials/tokens.js';
import type { JobQueue } from '../jobs/job-queue.js';
import { DeadlineScheduler } from '../jobs/scheduler.js';
import { agentRestartedMessage, boundedOutput, cpuSilentMessage, rescueEndedMessage } from '../store/hardware-tests.js';
import { Store } from '../store/store.js';
import { testDialects } from '../store/testing.js';
import { putInRescue, startTestApp, type TestApp } from './testing.js';

const quiet = { error() {} };

for (const dialect of testDialects()) {
  describe(`hardware tests through the API (${dialect})`, { timeout: 120_000 }, () => {
    let store: Store;
    let app: FastifyInstance;
    let scheduler: DeadlineScheduler;
    let clock = new Date('2026-06-01T10:00:00.000Z');
    let testApp: TestApp;
    let queue: JobQueue;
    let admin: string;
    let acme: string;
    let globex: string;
    const agents = new Map<string, string>();

    const call = (method: string, url: string, token: string | undefined, body?: unknown) => testApp.call(method, url, token, body);
    const tick = (ms: number) => {
      clock = new Date(clock.getTime() + ms);
    };

    /** Puts a server in rescue as the enter job and the agent would, and returns the agent's token. */
    async function inRescue(name: string): Promise<string> {
      const token = await putInRescue(testApp, name, new Date(clock.getTime() + 3_600_000));
      agents.set(name, token);
      return token;
    }

    /** The work the agent's long poll delivers now. */
    async function poll(token: string): Promise<Array<{ id: string; kind: string; params: Record<string, unknown> }>> {
      const answer = await call('GET', '/v1/agent/work?waitSeconds=0', token);
      assert.equal(answer.status, 200);
      return answer.body?.jobs;
    }

    before(async () => {
      testApp = await startTestApp({ dialect, now: () => clock, lease: { defaultLeaseMs: 3_600_000, maxLeaseMs: 86_400_000 }, deadlines: { requestMs: 600_000, rescueMs: 600_000, exitMs: 600_000 } });
      ({ store, app, queue } = testApp);
      scheduler = new DeadlineScheduler({ store, queue, intervalMs: 1000, warnBeforeMs: 0, log: quiet });
      admin = testApp.admin;
      const acmeTenant = await store.tenants.add('acme');
      const globexTenant = await store.tenants.add('globex');
      acme = (await store.tokens.create({ name: 'acme', role: 'customer', tenantId: acmeTenant.id })).token;
      globex = (await store.tokens.create({ name: 'globex', role: 'customer', tenantId: globexTenant.id })).token;
      const bmc = { driver: 'ipmi' as const, url: 'ipmi://127.0.0.1:6230', user: 'admin', password: null };
      await store.servers.add({ name: 'web-1', tenantId: acmeTenant.id, macs: [], bmc, sshEndpoint: null, profiles: ['linux'] });
      await store.servers.add({ name: 'web-2', tenantId: acmeTenant.id, macs: [], bmc, sshEndpoint: null, profiles: ['linux'] });
      await store.servers.add({ name: 'web-3', tenantId: acmeTenant.id, macs: [], bmc, sshEndpoint: null, profiles: ['linux'] });
      await store.servers.add({ name: 'db-1', tenantId: globexTenant.id, macs: [], bmc, sshEndpoint: null, profiles: ['linux'] });
    });
    after(async () => {
      await testApp?.close();
    });

    it('refuses a test outside rescue with INVALID_STATE and a message', async () => {
      const answer = await call('POST', '/v1/servers/web-1/tests', acme, { kind: 'cpu' });
      assert.deepEqual([answer.status, answer.body?.code], [409, 'INVALID_STATE']);
      assert.match(answer.body?.message, /web-1 is not in rescue/);
    });

    it('checks the kind, the device, durations and sizes with BAD_REQUEST messages', async () => {
      await inRescue('web-1');
      const cases: Array<[object, RegExp]> = [
        [{ kind: 'smart' }, /smart test needs a device/],
        [{ kind: 'fsck' }, /fsck test needs a device/],
        [{ kind: 'cpu', duration: '0s' }, /at least 1s/],
        [{ kind: 'cpu', duration: '25h' }, /at most 24h/],
        [{ kind: 'cpu', duration: 'soon' }, /not a test duration/],
        [{ kind: 'memory', size: '0M' }, /more than 0/],
        [{ kind: 'memory', size: '2T' }, /at most 1T/],
        [{ kind: 'memory', size: 'lots' }, /not a size/],
        [{ kind: 'memory', duration: '60s' }, /only a cpu test takes a duration/],
        [{ kind: 'cpu', device: 'sda' }, /takes no device/],
        [{ kind: 'readtest', device: '../etc' }, /device/],
        [{ kind: 'burn-in' }, /kind/],
      ];
      for (const [body, message] of cases) {
        const answer = await call('POST', '/v1/servers/web-1/tests', acme, body);
        assert.deepEqual([answer.status, answer.body?.code], [400, 'BAD_REQUEST'], JSON.stringify(body));
        assert.match(answer.body?.message, message, JSON.stringify(body));
      }
      assert.deepEqual(await poll(agents.get('web-1')!), [], 'nothing was queued');
    });

    it('runs a test: queued, delivered, progress only goes up, output kept, passed with its result', async () => {
      const token = agents.get('web-1')!;
      const started = await call('POST', '/v1/servers/web-1/tests', acme, { kind: 'smart', device: 'sda' });
      assert.equal(started.status, 202, JSON.stringify(started.body));
      assert.deepEqual([started.body?.status, started.body?.kind, started.body?.device, started.body?.origin, started.body?.progress], ['queued', 'smart', 'sda', 'api', 0]);
      const [work, ...rest] = await poll(token);
      assert.equal(rest.length, 0);
      assert.equal(work!.kind, 'hardware_test');
      assert.deepEqual(work!.params, { testId: started.body?.id, kind: 'smart', device: 'sda', durationSeconds: null, sizeBytes: null, repair: false, selfTest: 'short' });

      const first = await call('POST', `/v1/agent/work/${work!.id}/progress`, token, { progress: 40, summary: 'self-test 40 %', output: 'smartctl 7.4\n' });
      assert.deepEqual([first.status, first.body], [200, { cancel: false }]);
      await call('POST', `/v1/agent/work/${work!.id}/progress`, token, { progress: 20, output: 'line 2\n' });
      const running = await call('GET', `/v1/servers/web-1/tests/${started.body?.id}`, acme);
      assert.deepEqual([running.body?.status, running.body?.progress, running.body?.summary], ['running', 40, 'self-test 40 %']);
      assert.ok(running.body?.startedAt);

      const outcome = { status: 'passed', summary: 'SMART overall-health: PASSED', result: { reallocated: 0, hours: 1234 }, output: 'done\n' };
      assert.equal((await call('POST', `/v1/agent/work/${work!.id}/result`, token, { state: 'completed', result: outcome })).status, 204);
      const done = await call('GET', `/v1/servers/web-1/tests/${started.body?.id}`, acme);
      assert.deepEqual([done.body?.status, done.body?.progress, done.body?.summary, done.body?.result], ['passed', 100, 'SMART overall-health: PASSED', { reallocated: 0, hours: 1234 }]);
      assert.ok(done.body?.endedAt);
      const output = await call('GET', `/v1/servers/web-1/tests/${started.body?.id}/output`, acme);
      assert.equal(output.status, 200);
      assert.match(output.type, /^text\/plain/);
      assert.equal(output.text, 'smartctl 7.4\nline 2\ndone\n');
      const late = await call('POST', `/v1/agent/work/${work!.id}/progress`, token, { progress: 99 });
      assert.deepEqual(late.body, { cancel: true }, 'work of a finished test is told to stop');
    });

    it('cancels a queued test at once and a running one through the next progress answer', async () => {
      const token = agents.get('web-1')!;
      const queued = await call('POST', '/v1/servers/web-1/tests', acme, { kind: 'memory', size: '256M' });
      const cancelled = await call('POST', `/v1/servers/web-1/tests/${queued.body?.id}/cancel`, acme);
      assert.deepEqual([cancelled.status, cancelled.body?.status], [200, 'cancelled']);
      assert.deepEqual(await poll(token), [], 'the cancelled test never reaches the agent');

      const cpu = await call('POST', '/v1/servers/web-1/tests', acme, { kind: 'cpu', duration: '10m' });
      const [work] = await poll(token);
      assert.equal(work!.params.durationSeconds, 600);
      await call('POST', `/v1/agent/work/${work!.id}/progress`, token, { progress: 5 });
      const asked = await call('POST', `/v1/servers/web-1/tests/${cpu.body?.id}/cancel`, acme);
      assert.deepEqual([asked.status, asked.body?.status], [200, 'running'], 'a running test runs until the agent stops it');
      const answer = await call('POST', `/v1/agent/work/${work!.id}/progress`, token, { progress: 6 });
      assert.deepEqual(answer.body, { cancel: true });
      await call('POST', `/v1/agent/work/${work!.id}/result`, token, { state: 'completed', result: { status: 'cancelled', summary: 'stopped by the user after 36 s', result: null } });
      assert.equal((await call('GET', `/v1/servers/web-1/tests/${cpu.body?.id}`, acme)).body?.status, 'cancelled');
      const again = await call('POST', `/v1/servers/web-1/tests/${cpu.body?.id}/cancel`, acme);
      assert.deepEqual([again.status, again.body?.code], [409, 'INVALID_STATE']);
      const actions = (await store.audit.list({ limit: 50 })).map((e) => e.action);
      assert.ok(actions.includes('test.start') && actions.includes('test.cancel'));
    });

    it('ends a test in error on a malformed outcome or a failed work, never a 500', async () => {
      const token = agents.get('web-1')!;
      const bad = await call('POST', '/v1/servers/web-1/tests', acme, { kind: 'partitions' });
      const failing = await call('POST', '/v1/servers/web-1/tests', acme, { kind: 'fsck', device: 'sda1', repair: true });
      const works = await poll(token);
      assert.equal(works.length, 2);
      assert.equal(works[1]!.params.repair, true);
      assert.equal((await call('POST', `/v1/agent/work/${works[0]!.id}/result`, token, { state: 'completed', result: { status: 'great' } })).status, 204);
      assert.equal((await call('POST', `/v1/agent/work/${works[1]!.id}/result`, token, { state: 'failed', message: 'e2fsck not found' })).status, 204);
      const malformed = (await call('GET', `/v1/servers/web-1/tests/${bad.body?.id}`, acme)).body!;
      assert.equal(malformed.status, 'error');
      assert.match(malformed.summary, /malformed outcome/);
      const failed = (await call('GET', `/v1/servers/web-1/tests/${failing.body?.id}`, acme)).body!;
      assert.deepEqual([failed.status, failed.summary], ['error', 'the test could not run: e2fsck not found']);
    });

    it('records a test started from SSH, its work already the agent\'s', async () => {
      const token = agents.get('web-1')!;
      const params = { kind: 'readtest', device: 'sdb', durationSeconds: null, sizeBytes: null, repair: false, selfTest: null };
      const created = await call('POST', '/v1/agent/tests', token, { params });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.deepEqual(await poll(token), [], 'not delivered again');
      assert.deepEqual((await call('POST', `/v1/agent/work/${created.body?.workId}/progress`, token, { progress: 10 })).body, { cancel: false });
      const view = (await call('GET', `/v1/servers/web-1/tests/${created.body?.testId}`, acme)).body!;
      assert.deepEqual([view.origin, view.status, view.device, view.progress], ['ssh', 'running', 'sdb', 10]);
      assert.deepEqual(view.params, { durationSeconds: null, sizeBytes: null, repair: false, selfTest: null });
      const noDevice = await call('POST', '/v1/agent/tests', token, { params: { ...params, device: null } });
      assert.deepEqual([noDevice.status, noDevice.body?.code], [400, 'BAD_REQUEST']);
    });

    it('keeps another tenant\'s servers and tests, and another session\'s work, out of reach', async () => {
      const mine = (await call('GET', '/v1/servers/web-1/tests', acme)).body!.tests[0];
      for (const [method, url] of [
        ['GET', '/v1/servers/web-1/tests'],
        ['POST', '/v1/servers/web-1/tests'],
        ['GET', `/v1/servers/web-1/tests/${mine.id}`],
        ['GET', `/v1/servers/web-1/tests/${mine.id}/output`],
        ['POST', `/v1/servers/web-1/tests/${mine.id}/cancel`],
      ] as const) {
        const answer = await call(method, url, globex, method === 'POST' && !url.endsWith('cancel') ? { kind: 'cpu' } : undefined);
        assert.deepEqual([answer.status, answer.body?.code], [404, 'SERVER_NOT_FOUND'], `${method} ${url}`);
      }
      const elsewhere = await call('GET', `/v1/servers/db-1/tests/${mine.id}`, admin);
      assert.deepEqual([elsewhere.status, elsewhere.body?.code], [404, 'TEST_NOT_FOUND']);
      const ops = await call('GET', `/v1/servers/web-1/tests/${mine.id}`, admin);
      assert.equal(ops.status, 200, 'operators see every tenant\'s tests');
      const other = await inRescue('web-2');
      const work = (await store.hardwareTests.byId(mine.id))!.workId;
      const foreign = await call('POST', `/v1/agent/work/${work}/progress`, other, { progress: 50 });
      assert.deepEqual([foreign.status, foreign.body?.code], [404, 'NOT_FOUND']);
    });

    it('fails a cpu test whose server stops answering, and refuses new tests with AGENT_UNAVAILABLE', async () => {
      const token = agents.get('web-2')!;
      const cpu = await call('POST', '/v1/servers/web-2/tests', acme, { kind: 'cpu', duration: '1h' });
      const [work] = await poll(token);
      await call('POST', `/v1/agent/work/${work!.id}/progress`, token, { progress: 1 });
      tick(60_000);
      await call('POST', `/v1/agent/work/${work!.id}/progress`, token, { progress: 2 });
      tick(60_000);
      await scheduler.tick();
      assert.equal((await call('GET', `/v1/servers/web-2/tests/${cpu.body?.id}`, acme)).body?.status, 'running', 'progress 60 s ago: still alive');
      tick(31_000);
      await scheduler.tick();
      const failed = (await call('GET', `/v1/servers/web-2/tests/${cpu.body?.id}`, acme)).body!;
      assert.deepEqual([failed.status, failed.summary], ['failed', cpuSilentMessage]);
      const ssh = (await call('GET', '/v1/servers/web-1/tests', acme)).body!.tests.find((t: { origin: string }) => t.origin === 'ssh');
      assert.deepEqual([ssh.status, ssh.summary], ['error', rescueEndedMessage], 'another kind on a silent agent: the rescue it ran in is gone');
      const refused = await call('POST', '/v1/servers/web-2/tests', acme, { kind: 'memory' });
      assert.deepEqual([refused.status, refused.body?.code], [503, 'AGENT_UNAVAILABLE']);
      assert.equal((await call('POST', '/v1/agent/heartbeat', token, {})).status, 200);
      assert.equal((await call('POST', '/v1/servers/web-2/tests', acme, { kind: 'memory' })).status, 202, 'back once it heartbeats');
    });

    it('ends the tests a restarted agent no longer runs in error at once; work not delivered yet goes to the new agent', async () => {
      const token = await inRescue('web-3');
      const memory = (await call('POST', '/v1/servers/web-3/tests', acme, { kind: 'memory', size: '64M' })).body!;
      const [memoryWork] = await poll(token);
      await call('POST', `/v1/agent/work/${memoryWork!.id}/progress`, token, { progress: 30 });
      const cpu = (await call('POST', '/v1/servers/web-3/tests', acme, { kind: 'cpu', duration: '5m' })).body!;
      assert.equal((await poll(token)).length, 1, 'the cpu test is delivered, not yet reported');
      const later = (await call('POST', '/v1/servers/web-3/tests', acme, { kind: 'readtest', device: 'sda' })).body!;
      // The agent restarts (same boot, same token): its first word is agent_started, before it takes work.
      assert.equal((await call('POST', '/v1/agent/events', token, { step: 'agent_started', detail: 'session resumed' })).status, 204);
      for (const test of [memory, cpu]) {
        const view = (await call('GET', `/v1/servers/web-3/tests/${test.id}`, acme)).body!;
        assert.deepEqual([view.status, view.summary], ['error', agentRestartedMessage], `${test.kind}: no 90 s wait`);
        assert.ok(view.endedAt);
      }
      assert.equal((await store.agentWork.byId(memoryWork!.id))?.state, 'failed');
      assert.deepEqual((await call('POST', `/v1/agent/work/${memoryWork!.id}/progress`, token, { progress: 40 })).body, { cancel: true }, 'a leftover is told to stop');
      assert.equal((await call('GET', `/v1/servers/web-3/tests/${later.id}`, acme)).body?.status, 'queued');
      const [next] = await poll(token);
      assert.equal(next!.params.testId, later.id, 'the queued test reaches the new agent');
      assert.equal((await call('POST', '/v1/agent/events', token, { step: 'agent_started' })).status, 204);
      assert.equal((await call('GET', `/v1/servers/web-3/tests/${later.id}`, acme)).body?.status, 'error', 'delivered to the agent that restarted: gone too');
    });

    it('streams test changes on /v1/events, a few per second per test, to the tenant only', async () => {
      const token = agents.get('web-2')!;
      const url = await app.listen({ port: 0, host: '127.0.0.1' });
      const streams = new AbortController();
      const seen: HardwareTestEvent[] = [];
      const foreign: unknown[] = [];
      const follow = async () => {
        for await (const event of new LifeboatClient({ url, token: acme }).events({ tests: true, signal: streams.signal })) if ('test' in event) seen.push(event);
      };
      const spy = async () => {
        for await (const event of new LifeboatClient({ url, token: globex }).events({ tests: true, signal: streams.signal })) foreign.push(event);
      };
      const running = [follow(), spy()];
      try {
        const queued = (await call('GET', '/v1/servers/web-2/tests', acme)).body!.tests[0];
        assert.deepEqual([queued.kind, queued.status], ['memory', 'queued']);
        const [work] = await poll(token);
        // The streams subscribe after their answer started: report until the first change arrives.
        await waitFor('the first test event', async () => {
          await call('POST', `/v1/agent/work/${work!.id}/progress`, token, { progress: 1 });
          return seen.length > 0;
        }, 10_000, 100);
        const first = seen.length;
        const started = Date.now();
        for (let progress = 2; progress <= 60; progress += 2) await call('POST', `/v1/agent/work/${work!.id}/progress`, token, { progress, summary: `${progress} %` });
        const elapsed = Date.now() - started;
        await waitFor('the last progress on the stream', () => seen.at(-1)?.test.progress === 60, 10_000, 20);
        const sent = seen.length - first;
        assert.ok(sent <= Math.ceil(elapsed / 250) + 1, `${sent} events for 30 reports in ${elapsed} ms`);
        assert.deepEqual([seen.at(-1)!.test.id, seen.at(-1)!.test.server, seen.at(-1)!.test.summary], [queued.id, 'web-2', '60 %']);
        assert.deepEqual(foreign, [], 'another tenant hears nothing of these tests');
      } finally {
        streams.abort();
        await Promise.all(running);
      }
    });

    it('ends running tests in error when the rescue ends, and keeps the history newest first', async () => {
      const token = agents.get('web-1')!;
      assert.equal((await call('POST', '/v1/agent/heartbeat', token, {})).status, 200);
      const running = (await call('POST', '/v1/servers/web-1/tests', acme, { kind: 'disk' })).body!;
      const [work] = await poll(token);
      await call('POST', `/v1/agent/work/${work!.id}/progress`, token, { progress: 3 });
      assert.equal((await call('POST', '/v1/servers/web-1/rescue/exit', acme)).status, 202);
      await scheduler.tick();
      const ended = (await call('GET', `/v1/servers/web-1/tests/${running.id}`, acme)).body!;
      assert.deepEqual([ended.status, ended.summary], ['error', rescueEndedMessage]);
      const history = (await call('GET', '/v1/servers/web-1/tests', acme)).body!.tests as Array<{ createdAt: string; status: string }>;
      assert.equal(history.length, 7);
      assert.deepEqual(history.map((t) => t.createdAt), history.map((t) => t.createdAt).sort().reverse());
      assert.ok(history.every((t) => ['passed', 'failed', 'cancelled', 'error'].includes(t.status)));
      const closed = await call('POST', '/v1/servers/web-1/tests', acme, { kind: 'cpu' });
      assert.deepEqual([closed.status, closed.body?.code], [409, 'INVALID_STATE']);
    });

    it('removes the tests with the server, as its sessions are', async () => {
      const server = (await store.servers.byName('web-1'))!;
      const session = (await store.sessions.latestFor(server.id))!;
      await store.sessions.transition(session.id, 'exited');
      assert.equal((await call('DELETE', '/v1/servers/web-1', admin)).status, 204);
      assert.deepEqual(await store.hardwareTests.list(server.id), []);
      assert.equal((await store.hardwareTests.list((await store.servers.byName('web-2'))!.id)).length, 2, "another server's history stays");
    });
  });
}

describe('kept test output', () => {
  it('keeps the last 1 MiB, cut at a character boundary and marked', () => {
    const kept = boundedOutput('a'.repeat(900_000), 'é'.repeat(200_000));
    assert.ok(Buffer.byteLength(kept) <= 1024 * 1024);
    assert.match(kept, /^\[earlier output dropped/);
    assert.ok(kept.endsWith('é'.repeat(1000)));
    assert.ok(!kept.includes('\uFFFD'));
    assert.equal(boundedOutput('ab', 'c'), 'abc');
  });
});
