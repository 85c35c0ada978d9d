/**
 * Issue 14, "Faults": PostgreSQL unreachable for a while. A real TCP proxy sits between the control
 * plane (a child process, its real `main`) and the machine's PostgreSQL; the test cuts it (open
 * connections closed, new ones refused) and restores it. Meanwhile requests answer 503
 * `DATABASE_UNAVAILABLE` with `Retry-After`, promptly, never a 500; an enter job caught in the middle
 * of a BMC action finishes once the database is back without repeating the action; an event stream
 * opened before the outage carries the changes made after it.
 *
 * The outage lasts `LIFEBOAT_FAULT_OUTAGE_MS` (default 4 s; the 30 s with
 * LIFEBOAT_FAULT_OUTAGE_MS=30000): the behaviour is the same, the test asserts behaviour, not timing.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { api, freePort, startTcpProxy, waitFor, type ControlPlaneProcess, type TcpProxy } from '@lifeboat/test-support';
import { startRecordingControlPlane } from '../recording-control-plane.js';
import { createTestDatabase, testPostgresUrl, type TestDatabase } from '../../src/store/testing.js';

const outageMs = Number(process.env.LIFEBOAT_FAULT_OUTAGE_MS ?? 4000);

/** Reads a Server-Sent Events stream in the background; `events` grows as they arrive. */
function follow(url: string, token: string, signal: AbortSignal): { events: Array<{ event: string; data: any }>; connected: Promise<void> } {
  const events: Array<{ event: string; data: any }> = [];
  const connected = (async () => {
    const response = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal });
    assert.equal(response.status, 200);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    void (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.+)$/m.exec(block)?.[1];
          const data = /^data: (.+)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) });
        }
      }
    })();
  })();
  return { events, connected };
}

describe('PostgreSQL unreachable for a while (a TCP proxy cut and restored)', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-db-down-'));
  const streams = new AbortController();
  let proxy: TcpProxy | undefined;
  let database: TestDatabase | undefined;
  let controlPlane: ControlPlaneProcess | undefined;

  after(async () => {
    streams.abort();
    await controlPlane?.stop('SIGKILL');
    await proxy?.close();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 DATABASE_UNAVAILABLE meanwhile, then resumes the job and the event stream', async () => {
    const postgres = new URL(testPostgresUrl);
    proxy = await startTcpProxy({ host: postgres.hostname, port: Number(postgres.port || 5432) });
    database = await createTestDatabase('postgres');
    const proxied = new URL(database.url);
    proxied.host = `127.0.0.1:${proxy.port}`;
    const bmcLog = join(dir, 'bmc.log');
    const hold = join(dir, 'hold-power');
    controlPlane = await startRecordingControlPlane({
      dataDir: join(dir, 'data'),
      port: await freePort(),
      env: { RECORDING_BMC_LOG: bmcLog, RECORDING_BMC_HOLD: hold },
      flags: ['--job-lease', '2s', '--database', proxied.toString()],
    });
    const { url } = controlPlane;
    const token = controlPlane.adminToken();
    assert.equal((await api(url, token, 'POST', '/v1/tenants', { name: 'acme' })).status, 201);
    const added = await api(url, token, 'POST', '/v1/servers', { name: 'web-1', tenant: 'acme', macs: ['52:54:00:aa:14:01'], bmc: { url: 'ipmi://127.0.0.1:6230', user: 'admin', password: 'bmc-pw' } });
    assert.equal(added.status, 201);
    const stream = follow(`${url}/v1/events?server=web-1`, token, streams.signal);
    await stream.connected;
    await waitFor('the first event', () => stream.events.length > 0);

    // The enter job is in the middle of its power action when the database goes away.
    writeFileSync(hold, '');
    assert.equal((await api(url, token, 'POST', '/v1/servers/web-1/rescue', {})).status, 202);
    await waitFor('the power action to start', () => existsSync(bmcLog) && readFileSync(bmcLog, 'utf8').includes('setPower:cycle:start'));
    await proxy.cut();
    const cutAt = Date.now();

    // Every request during the outage answers, promptly, 503 with the stable code.
    const answers: Array<{ status: number; code: string; retryAfter: string | null }> = [];
    let released = false;
    while (Date.now() - cutAt < outageMs) {
      for (const [method, path, body] of [
        ['GET', '/v1/servers', undefined],
        ['GET', '/v1/servers/web-1', undefined],
        ['POST', '/v1/tenants', { name: `t${answers.length}` }],
      ] as const) {
        const response = await fetch(`${url}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          ...(body ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(15_000),
        });
        answers.push({ status: response.status, code: ((await response.json()) as { code: string }).code, retryAfter: response.headers.get('retry-after') });
      }
      // The BMC finishes its power action while the database is still away.
      if (!released) {
        rmSync(hold);
        released = true;
        await waitFor('the power action to finish', () => readFileSync(bmcLog, 'utf8').includes('setPower:cycle:done'));
      }
    }
    assert.ok(answers.length >= 3);
    for (const answer of answers) assert.deepEqual(answer, { status: 503, code: 'DATABASE_UNAVAILABLE', retryAfter: '5' });
    assert.equal((await fetch(`${url}/healthz`)).status, 200, 'the process is alive');

    await proxy.restore();
    await waitFor('the rescue boot to have started', async () => (await api(url, token, 'GET', '/v1/servers/web-1')).body?.state === 'preparing_rescue', 60_000);
    const calls = readFileSync(bmcLog, 'utf8').trim().split('\n');
    assert.equal(calls.filter((c) => c === 'setPower:cycle:start').length, 1, 'the power cycle done during the outage is not repeated');
    const tasks = await api(url, token, 'GET', '/v1/servers/web-1/tasks');
    assert.equal(tasks.body.tasks[0].steps.find((s: { name: string }) => s.name === 'power_cycled').state, 'completed');

    // The stream opened before the outage hears what happened after it.
    await waitFor('the stream to show preparing_rescue', () => stream.events.some((e) => e.event === 'server' && e.data.server.state === 'preparing_rescue'), 30_000);
    const after = await api(url, token, 'GET', '/v1/servers');
    assert.equal(after.status, 200);
    assert.doesNotMatch(controlPlane.output(), /"level":50[^\n]*"msg":"request failed"/, 'no request failed as an internal error');
    assert.equal(await controlPlane.stop('SIGTERM'), 0);
  });
});
