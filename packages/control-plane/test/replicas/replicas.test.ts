/**
 * Two `lifeboat serve` replicas (the real entry point, real Redfish driver) on one PostgreSQL, as
 * processes, against Redfish BMC simulators and played agents (issue 14, "Scale"): any replica serves
 * any request and any event stream, each job runs once, a replica killed with SIGKILL in the middle of
 * a job has it resumed by the other once the job's lease (2 s here) expires, and the rate limits are
 * one budget for both.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { LifeboatClient, type ServerEvent } from '@lifeboat/core';
import { api, freePort, playAgent, startControlPlaneProcess, waitFor, type ControlPlaneProcess } from '@lifeboat/test-support';
import { createTestDatabase, type TestDatabase } from '../../src/store/testing.js';
import { startRedfishBmc, type RedfishBmc } from '../drivers/redfish-bmc.js';

/** Every server event a stream of one server delivers, collected until `stop`. */
function watch(client: LifeboatClient, server: string): { events: ServerEvent[]; stop(): Promise<void> } {
  const events: ServerEvent[] = [];
  const stop = new AbortController();
  const reading = (async () => {
    for await (const event of client.events({ server, signal: stop.signal })) events.push(event);
  })();
  return {
    events,
    async stop() {
      stop.abort();
      await reading;
    },
  };
}

describe('two control plane replicas on one PostgreSQL', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-replicas-'));
  let database: TestDatabase;
  let sql: pg.Client;
  const bmcs: RedfishBmc[] = [];
  // replicas[0] is A, replicas[1] is B; a killed one is replaced in place.
  const replicas: ControlPlaneProcess[] = [];
  const ports: number[] = [];
  let token: string;
  const started: ControlPlaneProcess[] = [];

  const flagsOf = () => ['--database', database.url, '--job-lease', '2s', '--scheduler-interval', '1s', '--limit-auth-failures', '6/1h'];
  async function startReplica(i: number): Promise<ControlPlaneProcess> {
    const replica = await startControlPlaneProcess({ dataDir: join(dir, `replica-${i}`), port: ports[i]!, flags: flagsOf() });
    started.push(replica);
    replicas[i] = replica;
    return replica;
  }
  const macOf = (i: number) => `52:54:00:7e:00:0${i}`;
  const serverOf = async (replica: ControlPlaneProcess, name: string) => (await api(replica.url, token, 'GET', `/v1/servers/${name}`)).body;
  /** `rescue.enter` jobs by server name: state, attempts, holder. */
  async function enterJobs(): Promise<Map<string, Array<{ state: string; attempts: number; lockedBy: string | null }>>> {
    const { rows } = await sql.query(
      `SELECT v.name, j.state, j.attempts, j.locked_by FROM jobs j JOIN rescue_sessions s ON s.id = (j.params::json ->> 'sessionId') JOIN servers v ON v.id = s.server_id WHERE j.kind = 'rescue.enter'`,
    );
    const jobs = new Map<string, Array<{ state: string; attempts: number; lockedBy: string | null }>>();
    for (const row of rows) jobs.set(row.name, [...(jobs.get(row.name) ?? []), { state: row.state, attempts: Number(row.attempts), lockedBy: row.locked_by }]);
    return jobs;
  }

  before(async () => {
    database = await createTestDatabase('postgres');
    sql = new pg.Client({ connectionString: database.url });
    for (let i = 0; i < 4; i++) bmcs.push(await startRedfishBmc());
    ports.push(await freePort(), await freePort());
    await startReplica(0);
    // Every replica seals and opens BMC passwords with the same key: B gets A's.
    mkdirSync(join(dir, 'replica-1'), { recursive: true, mode: 0o700 });
    copyFileSync(join(dir, 'replica-0', 'secret.key'), join(dir, 'replica-1', 'secret.key'));
    await startReplica(1);
    token = replicas[0]!.adminToken();
    await sql.connect();
  });
  after(async () => {
    for (const replica of started) await replica.stop('SIGKILL');
    await sql?.end().catch(() => {});
    for (const bmc of bmcs) await bmc.stop();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves any request on any replica', async () => {
    const [a, b] = replicas as [ControlPlaneProcess, ControlPlaneProcess];
    assert.equal((await api(a.url, token, 'POST', '/v1/tenants', { name: 'acme' })).status, 201);
    for (const [i, bmc] of bmcs.entries()) {
      const on = i % 2 === 0 ? b : a;
      const added = await api(on.url, token, 'POST', '/v1/servers', {
        name: `web-${i + 1}`, tenant: 'acme', macs: [macOf(i + 1)], bmc: { url: `redfish://127.0.0.1:${bmc.port}${bmc.systemPath}`, user: bmc.user, password: bmc.password },
      });
      assert.equal(added.status, 201, JSON.stringify(added.body));
    }
    for (const replica of [a, b]) {
      const listed = await api(replica.url, token, 'GET', '/v1/servers');
      assert.deepEqual(listed.body.servers.map((s: { name: string }) => s.name).sort(), ['web-1', 'web-2', 'web-3', 'web-4']);
    }
    const missing = await api(b.url, token, 'GET', '/v1/servers/web-9');
    assert.deepEqual([missing.status, missing.body.code], [404, 'SERVER_NOT_FOUND']);
  });

  it('runs each job once whichever replica was asked, and streams a change made on one replica from the other', async () => {
    const [a, b] = replicas as [ControlPlaneProcess, ControlPlaneProcess];
    const onB = watch(new LifeboatClient({ url: b.url, token }), 'web-1');
    try {
      // The stream sends the server's state first: it is open.
      await waitFor('the stream on B to open', () => onB.events.length > 0);
      const entered = await Promise.all(['web-1', 'web-2', 'web-3'].map((name, i) => api((i % 2 === 0 ? a : b).url, token, 'POST', `/v1/servers/${name}/rescue`, {})));
      assert.deepEqual(entered.map((e) => e.status), [202, 202, 202]);
      await waitFor('B\'s stream to show web-1 preparing rescue (entered on A, run by either)', () => onB.events.some((e) => e.server.state === 'preparing_rescue'));
      // Agents of the rescue systems: web-1's talks to A, the others to B.
      for (const [i, name] of ['web-1', 'web-2', 'web-3'].entries()) {
        await waitFor(`${name} preparing rescue`, async () => (await serverOf(b, name))?.state === 'preparing_rescue');
        await playAgent((i === 0 ? a : b).url, macOf(i + 1));
      }
      await waitFor('B\'s stream to show web-1 in rescue (the agent was on A)', () => onB.events.some((e) => e.server.state === 'rescue'));
    } finally {
      await onB.stop();
    }
    for (const name of ['web-1', 'web-2', 'web-3']) assert.equal((await serverOf(a, name)).state, 'rescue');
    for (const bmc of bmcs.slice(0, 3)) {
      assert.deepEqual(bmc.state.resets, ['On'], 'each BMC powered on once (it was off)');
      assert.equal(bmc.state.bootTarget, 'Pxe');
      assert.deepEqual(bmc.violations, []);
    }
    const jobs = await enterJobs();
    for (const name of ['web-1', 'web-2', 'web-3']) assert.deepEqual(jobs.get(name), [{ state: 'completed', attempts: 1, lockedBy: null }], `${name}'s enter job ran once`);
  });

  it('resumes the job of a replica killed with SIGKILL on the other replica once its lease expires', async () => {
    const bmc = bmcs[3]!;
    bmc.holdResets();
    const entered = await api(replicas[0]!.url, token, 'POST', '/v1/servers/web-4/rescue', {});
    assert.equal(entered.status, 202);
    await waitFor('the power-on to reach the BMC', () => bmc.state.heldResets === 1);
    // Whichever replica claimed the job is the one killed: `locked_by` is HOST:PID:RANDOM.
    const holder = (await enterJobs()).get('web-4')?.[0]?.lockedBy;
    const pid = Number(holder?.split(':')[1]);
    const killed = replicas.findIndex((r) => r.child.pid === pid);
    assert.ok(killed >= 0, `the job is held by a replica (${holder})`);
    const survivor = replicas[1 - killed]!;
    await replicas[killed]!.stop('SIGKILL');
    // The BMC answers now; the killed replica's request is gone and never applied. Released only once
    // the BMC has seen its client go (the kernel closes a killed process's sockets a moment after the
    // exit): released earlier, the power-on would apply, and the survivor would rightly wait for a netboot.
    await waitFor('the BMC to see the killed replica\'s request go', () => bmc.state.abandonedResets === 1);
    bmc.releaseResets();
    await waitFor('web-4 preparing rescue (resumed by the survivor)', async () => (await serverOf(survivor, 'web-4'))?.state === 'preparing_rescue', 60_000);
    assert.deepEqual(bmc.state.resets, ['On'], 'powered on once');
    assert.equal(bmc.state.bootTarget, 'Pxe');
    const [job] = (await enterJobs()).get('web-4') ?? [];
    assert.deepEqual(job, { state: 'completed', attempts: 2, lockedBy: null }, 'claimed again after the lease, completed once');
    const tasks = await api(survivor.url, token, 'GET', '/v1/servers/web-4/tasks');
    const steps = Object.fromEntries(tasks.body.tasks[0].steps.map((s: { name: string; state: string }) => [s.name, s.state]));
    assert.deepEqual([steps.validated, steps.boot_device_set, steps.power_cycled], ['completed', 'completed', 'completed']);
    await playAgent(survivor.url, macOf(4));
    assert.equal((await serverOf(survivor, 'web-4')).state, 'rescue');
    // Back to two replicas for what follows.
    await startReplica(killed);
  });

  // Last: afterwards 127.0.0.1 may not authenticate for the rest of the hour.
  it('spends one rate limit budget on both replicas', async () => {
    const [a, b] = replicas as [ControlPlaneProcess, ControlPlaneProcess];
    for (const replica of [a, b, a, b, a, b]) assert.equal((await api(replica.url, 'lb_wrong', 'GET', '/v1/servers')).status, 401);
    for (const replica of [a, b]) {
      const limited = await fetch(`${replica.url}/v1/servers`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(limited.status, 429, 'six failures, three on each replica, used the budget of six');
      assert.equal(((await limited.json()) as { code: string }).code, 'RATE_LIMITED');
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
    }
  });
});
