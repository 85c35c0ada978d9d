/**
 * The agent's client when the control plane is not there yet: it retries with backoff until the
 * control plane answers, takes a 4xx answer as final, and gives up only when its budget says so.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePort, startControlPlaneProcess, waitFor, type ControlPlaneProcess } from '@lifeboat/test-support';
import { AgentApiError, ControlPlaneClient } from '../src/control-plane-client.js';
import { Stop } from '../src/platform.js';
import { nodePlatform } from '../src/platform-node.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-client-'));
let running: ControlPlaneProcess | undefined;
after(async () => {
  await running?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('retries while nothing listens, then takes the control plane\'s 401 as final', async () => {
  const port = await freePort();
  const retries: string[] = [];
  const client = new ControlPlaneClient(nodePlatform, `http://127.0.0.1:${port}`, {
    retry: { initialMs: 100, maxMs: 400, totalMs: 60_000 },
    onRetry: (what, attempt, error) => retries.push(`${what} ${attempt} ${error}`),
  });
  // The assertion holds the promise from the start: it may settle while the control plane starts.
  const refused = assert.rejects(client.redeem('no-such-server', 'not-a-token'), (e: unknown) => e instanceof AgentApiError && e.code === 'BOOT_TOKEN_INVALID' && e.status === 401);
  // The control plane comes up once the agent has been refused a few times, on the port it was told about.
  await waitFor('three refused attempts', () => retries.length >= 3, 20_000, 20);
  running = await startControlPlaneProcess({ dataDir: join(dir, 'data'), port });
  await refused;
  assert.ok(retries.length >= 3, retries.join('\n'));
  assert.match(retries[0] ?? '', /^POST \/redeem 1 .*ECONNREFUSED/);
  assert.equal(retries.some((r) => r.includes('not-a-token')), false, 'the boot token is in no retry message');
});

test('gives up with CONTROL_PLANE_UNREACHABLE when its time budget is spent', async () => {
  const port = await freePort();
  const client = new ControlPlaneClient(nodePlatform, `http://127.0.0.1:${port}`, { retry: { initialMs: 50, maxMs: 100, totalMs: 500 } });
  await assert.rejects(client.heartbeat(), (e: unknown) => e instanceof AgentApiError && e.code === 'CONTROL_PLANE_UNREACHABLE');
});

test('stops waiting at once when aborted', async () => {
  const port = await freePort();
  const stop = new Stop();
  const client = new ControlPlaneClient(nodePlatform, `http://127.0.0.1:${port}`, { stop, retry: { initialMs: 10_000, maxMs: 10_000, totalMs: Infinity } });
  const started = Date.now();
  const call = client.ready();
  setTimeout(() => stop.stop(new Error('shutdown')), 200);
  await assert.rejects(call, /shutdown/);
  assert.ok(Date.now() - started < 5000);
});
