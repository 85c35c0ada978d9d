/**
 * Work that never reached an agent is not lost (on every dialect): a long poll whose client went away
 * (before its answer, or while it was written) gives its work back to the next poll, and a restarted
 * agent is given again what its predecessor took without answering when that can run twice, a bounded
 * number of times; the rest fails at once instead of hanging until a timeout. Real sockets on loopback.
 */
import assert from 'node:assert/strict';
import { request as httpRequest, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@lifeboat/test-support';
import { filesListWork } from '@lifeboat/core/api';
import { maxRedeliveries, workAgentRestartedMessage } from '../store/records.js';
import { testDialects } from '../store/testing.js';
import { createLogger } from './logger.js';
import { putInRescue, startTestApp, type TestApp } from './testing.js';

for (const dialect of testDialects()) {
  describe(`agent work that did not reach its agent (${dialect})`, { timeout: 60_000 }, () => {
    let testApp: TestApp;
    let url: string;
    let agent: string;
    let sessionId: string;
    const logLines: string[] = [];

    before(async () => {
      const logger = createLogger('debug', { write: (line: string) => void logLines.push(line) });
      testApp = await startTestApp({ dialect, logger });
      const { store } = testApp;
      const tenant = await store.tenants.add('acme');
      await store.servers.add({ name: 'web-1', tenantId: tenant.id, macs: [], bmc: { driver: 'ipmi', url: 'ipmi://127.0.0.1:6230', user: 'admin', password: null }, sshEndpoint: null, profiles: ['linux'] });
      agent = await putInRescue(testApp, 'web-1', new Date(Date.now() + 3_600_000));
      const server = await store.servers.byName('web-1');
      sessionId = (await store.sessions.openFor(server?.id ?? ''))?.id ?? '';
      url = await testApp.listen();
    });
    after(async () => {
      await testApp?.close();
    });

    /** The agent's answer to `id`. */
    const answer = async (id: string): Promise<void> => {
      assert.equal((await testApp.call('POST', `/v1/agent/work/${id}/result`, agent, { state: 'completed' })).status, 204);
    };
    const queue = (kind: string, params: object = {}) => testApp.store.agentWork.add(sessionId, kind, params);
    const stateOf = async (id: string) => (await testApp.store.agentWork.byId(id))?.state;
    /** Whether the control plane said it gave `id` back (its log line). */
    const givenBack = (id: string) => logLines.some((line) => line.includes('pending again') && line.includes(id));
    /** A poll by the test as the agent, through app.inject. */
    const poll = async (waitSeconds = 0): Promise<Array<{ id: string; kind: string }>> => {
      const answer = await testApp.call('GET', `/v1/agent/work?waitSeconds=${waitSeconds}`, agent);
      assert.equal(answer.status, 200);
      return answer.body?.jobs;
    };
    /**
     * A long poll over a real socket that the client drops; `when`: at once once sent (the agent died
     * while it waited), or as the answer goes out (it died while the answer was written).
     */
    const droppedPoll = (when: 'waiting' | 'answer'): void => {
      const request = httpRequest(`${url}/v1/agent/work?waitSeconds=5`, { headers: { authorization: `Bearer ${agent}` } });
      request.on('error', () => undefined);
      if (when === 'waiting') request.on('finish', () => request.destroy());
      request.end();
    };

    it('a poll whose agent died while it waited takes nothing: the work queued after is the next poll\'s', async () => {
      const ended = logLines.length;
      droppedPoll('waiting');
      // The poll's handler ends as soon as its client is gone (before, it went on and took the next
      // work within half a second, answering it to nobody).
      await waitFor('the dead poll to end', () => logLines.slice(ended).some((line) => line.includes('its client went away')), 10_000, 20);
      const id = await queue('smart', { disk: 'sda' });
      assert.equal(await stateOf(id), 'pending');
      assert.deepEqual((await poll()).map((j) => j.id), [id]);
      assert.equal(await stateOf(id), 'delivered');
      await answer(id);
    });

    it('work whose answer was cut while it was written is given to the next poll', async () => {
      const id = await queue('smart', { disk: 'sdb' });
      // The network fails as the answer goes out: the socket is gone before its bytes are.
      const cut = (req: { url?: string; socket: { destroy(): void } }, res: ServerResponse): void => {
        if (!req.url?.startsWith('/v1/agent/work')) return;
        const end = res.end.bind(res);
        res.end = ((...args: Parameters<ServerResponse['end']>) => {
          req.socket.destroy();
          return end(...args);
        }) as ServerResponse['end'];
      };
      testApp.app.server.prependListener('request', cut);
      try {
        droppedPoll('answer');
        await waitFor('the work given back', () => givenBack(id), 10_000, 50);
      } finally {
        testApp.app.server.removeListener('request', cut);
      }
      assert.equal(await stateOf(id), 'pending');
      assert.deepEqual((await poll()).map((j) => j.id), [id]);
      await answer(id);
    });

    it('a restarted agent is given again the reads its predecessor took, a bounded number of times; other work fails at once', async () => {
      const read = await queue(filesListWork, { device: 'sda1', path: '/' });
      const other = await queue('smart', { disk: 'sdc' });
      assert.deepEqual((await poll()).map((j) => j.id).sort(), [read, other].sort());
      const restart = async (): Promise<void> => {
        const answer = await testApp.call('POST', '/v1/agent/events', agent, { step: 'agent_started' });
        assert.equal(answer.status, 204);
      };
      await restart();
      assert.equal(await stateOf(read), 'pending', 'a read runs twice without harm: given again');
      const failed = await testApp.store.agentWork.byId(other);
      assert.deepEqual([failed?.state, failed?.message], ['failed', workAgentRestartedMessage], 'work of another kind is not run twice');
      // An item that kills its agent every time is given again maxRedeliveries times, then fails.
      for (let i = 1; i < maxRedeliveries; i++) {
        assert.deepEqual((await poll()).map((j) => j.id), [read]);
        await restart();
        assert.equal(await stateOf(read), 'pending', `given again after restart ${i + 1}`);
      }
      assert.deepEqual((await poll()).map((j) => j.id), [read]);
      await restart();
      assert.equal(await stateOf(read), 'failed');
      assert.deepEqual(await poll(), [], 'nothing left for the agent');
    });

    it('work answered before the restart is left as it is', async () => {
      const id = await queue(filesListWork, { device: 'sda1', path: '/etc' });
      assert.deepEqual((await poll()).map((j) => j.id), [id]);
      assert.equal((await testApp.call('POST', `/v1/agent/work/${id}/result`, agent, { state: 'completed', result: { path: '/etc', entries: [], truncated: false } })).status, 204);
      assert.equal((await testApp.call('POST', '/v1/agent/events', agent, { step: 'agent_started' })).status, 204);
      assert.equal(await stateOf(id), 'completed');
    });
  });
}
