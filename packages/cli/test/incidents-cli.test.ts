// `lifeboat incidents ...` as a script runs it, against a control plane process: a customer opens an
// incident with an attached test result, a technician finds it in the queue, comments and resolves it;
// another tenant's customer gets the 404 with its code and a non-zero exit.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api, freePort, playAgent, startControlPlaneProcess, startTestBmc, type ControlPlaneProcess, type TestBmc } from '@lifeboat/test-support';
import { runLifeboat } from './run-cli.js';

const lifeboat = (args: string[], env: NodeJS.ProcessEnv) => runLifeboat(args, env, 60_000);

describe('lifeboat incidents', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-incidents-cli-'));
  let plane: ControlPlaneProcess;
  let bmc: TestBmc;
  let acmeEnv: NodeJS.ProcessEnv;
  let globexEnv: NodeJS.ProcessEnv;
  let technicianEnv: NodeJS.ProcessEnv;
  let id: string;
  let smartId: string;
  const mac = '52:54:00:cc:01:01';

  before(async () => {
    plane = await startControlPlaneProcess({ dataDir: join(dir, 'data'), port: await freePort() });
    bmc = await startTestBmc({ controlPlaneUrl: plane.url, mac });
    const admin = plane.adminToken();
    const base: NodeJS.ProcessEnv = { ...process.env, LIFEBOAT_URL: plane.url, LIFEBOAT_DATA: join(dir, 'nowhere') };
    const token = async (body: object) => ((await api(plane.url, admin, 'POST', '/v1/tokens', body)).body as { token: string }).token;
    for (const name of ['acme', 'globex']) assert.equal((await api(plane.url, admin, 'POST', '/v1/tenants', { name })).status, 201);
    acmeEnv = { ...base, LIFEBOAT_TOKEN: await token({ tenant: 'acme', role: 'customer', name: 'acme-ops' }) };
    globexEnv = { ...base, LIFEBOAT_TOKEN: await token({ tenant: 'globex', role: 'customer' }) };
    technicianEnv = { ...base, LIFEBOAT_TOKEN: await token({ role: 'technician', name: 'alice' }) };
    const added = await api(plane.url, admin, 'POST', '/v1/servers', { name: 'web-1', tenant: 'acme', macs: [mac], bmc: bmc.record });
    assert.equal(added.status, 201);
    // A failed SMART test of web-1, run in rescue (the agent played through the agent API) and kept after it.
    assert.equal((await lifeboat(['rescue', 'enter', 'web-1', '--json'], acmeEnv)).code, 0);
    const agent = await playAgent(plane.url, mac);
    const started = await agent.call('POST', '/tests', { params: { kind: 'smart', device: 'sda', durationSeconds: null, sizeBytes: null, repair: false, selfTest: 'short' } });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    smartId = started.body.testId;
    const outcome = { status: 'failed', summary: 'SMART overall health: FAILED', result: { reallocated: 812 } };
    assert.equal((await agent.call('POST', `/work/${started.body.workId}/result`, { state: 'completed', result: outcome })).status, 204);
  });
  after(async () => {
    await plane?.stop('SIGTERM');
    await bmc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('open NAME --message TEXT --attach TEST_ID --json prints the incident with its attachment', async () => {
    const opened = await lifeboat(['incidents', 'open', 'web-1', '--message', 'sda fails SMART\nsince this morning', '--attach', smartId, '--json'], acmeEnv);
    assert.equal(opened.code, 0, opened.stderr);
    assert.equal(opened.json.state, 'open');
    assert.equal(opened.json.title, 'sda fails SMART');
    assert.deepEqual(opened.json.tests.map((t: { id: string; status: string }) => [t.id, t.status]), [[smartId, 'failed']]);
    id = opened.json.id;
    const missing = await lifeboat(['incidents', 'open', 'web-1', '--message', 'x', '--attach', 'nope'], acmeEnv);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /TEST_NOT_FOUND/);
    const usage = await lifeboat(['incidents', 'open', 'web-1'], acmeEnv);
    assert.notEqual(usage.code, 0);
    assert.match(usage.stderr, /--message is required/);
  });

  it('list shows the technician the queue; show, comment and resolve work it', async () => {
    const queue = await lifeboat(['incidents', 'list', '--json'], technicianEnv);
    assert.equal(queue.code, 0, queue.stderr);
    assert.deepEqual(queue.json.incidents.map((i: { id: string; tenant: string }) => [i.id, i.tenant]), [[id, 'acme']]);
    const text = await lifeboat(['incidents', 'list'], technicianEnv);
    assert.match(text.stdout, /^ID\s+STATE\s+SERVER/m);
    assert.match(text.stdout, new RegExp(`${id}\\s+open\\s+web-1\\s+acme`));
    assert.equal((await lifeboat(['incidents', 'comment', id, '--message', 'swapping sda tonight'], technicianEnv)).code, 0);
    assert.equal((await lifeboat(['incidents', 'comment', id, '--message', 'thanks'], acmeEnv)).code, 0);
    const resolved = await lifeboat(['incidents', 'resolve', id, '--message', 'sda replaced', '--json'], technicianEnv);
    assert.equal(resolved.code, 0, resolved.stderr);
    assert.deepEqual([resolved.json.state, resolved.json.resolution], ['resolved', 'sda replaced']);
    const shown = await lifeboat(['incidents', 'show', id], acmeEnv);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /state:\s+resolved/);
    assert.match(shown.stdout, new RegExp(`${smartId}\\s+smart sda\\s+failed\\s+SMART overall health: FAILED`));
    assert.match(shown.stdout, /alice \(technician\): swapping sda tonight[\s\S]*acme-ops \(customer\): thanks[\s\S]*alice \(technician\): sda replaced/);
    const json = await lifeboat(['incidents', 'show', id, '--json'], acmeEnv);
    assert.equal(json.json.comments.length, 3);
  });

  it('another tenant gets INCIDENT_NOT_FOUND and a non-zero exit on show, comment and resolve', async () => {
    assert.deepEqual((await lifeboat(['incidents', 'list', '--json'], globexEnv)).json.incidents, []);
    for (const args of [['show', id], ['comment', id, '--message', 'x'], ['resolve', id]]) {
      const answer = await lifeboat(['incidents', ...args, '--json'], globexEnv);
      assert.notEqual(answer.code, 0, args.join(' '));
      assert.match(answer.stderr, /INCIDENT_NOT_FOUND/, args.join(' '));
    }
  });
});
