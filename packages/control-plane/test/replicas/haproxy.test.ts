/**
 * docs/examples/haproxy.cfg, run as it is (haproxy started by PID on free ports) in front of two real
 * replicas on one PostgreSQL: requests, event streams, the played agent's boot and the SSH console port
 * go through it, and one replica is stopped in the middle without a client seeing an error. The
 * replicas believe the load balancer's X-Forwarded-For (`--trust-proxy`), so address limits count the
 * client, not the load balancer.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { LifeboatClient, type ServerEvent } from '@lifeboat/core';
import { api, freePort, playAgent, sshBanner, startControlPlaneProcess, waitFor, type ControlPlaneProcess } from '@lifeboat/test-support';
import { createTestDatabase, type TestDatabase } from '../../src/store/testing.js';
import { startRedfishBmc, type RedfishBmc } from '../drivers/redfish-bmc.js';

const haproxyConfig = fileURLToPath(new URL('../../../../docs/examples/haproxy.cfg', import.meta.url));

/** A server's events through `url`, reconnecting when a stream ends (as EventSource does), until `stop`. */
function watch(url: string, token: string, server: string): { events: ServerEvent[]; connections: () => number; stop(): Promise<void> } {
  const events: ServerEvent[] = [];
  const stop = new AbortController();
  const client = new LifeboatClient({ url, token });
  let connections = 0;
  const reading = (async () => {
    while (!stop.signal.aborted) {
      connections++;
      try {
        for await (const event of client.events({ server, signal: stop.signal })) events.push(event);
      } catch (error) {
        if (!stop.signal.aborted) throw error;
      }
    }
  })();
  return {
    events,
    connections: () => connections,
    async stop() {
      stop.abort();
      await reading;
    },
  };
}

/** GET `path` from a given local address (a client other than the load balancer's 127.0.0.1). */
function getFrom(localAddress: string, base: string, path: string, token: string): Promise<{ status: number; code?: string; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { localAddress, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => {
        const retryAfter = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, code: body.startsWith('{') ? (JSON.parse(body) as { code?: string }).code : undefined, ...(retryAfter ? { retryAfter: String(retryAfter) } : {}) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('two replicas behind HAProxy with docs/examples/haproxy.cfg', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-haproxy-'));
  let database: TestDatabase;
  const bmcs: RedfishBmc[] = [];
  const replicas: ControlPlaneProcess[] = [];
  const started: ControlPlaneProcess[] = [];
  const ports: Array<{ api: number; ssh: number }> = [];
  let lb: { url: string; sshPort: number; child: ChildProcess; output: () => string };
  let token: string;

  async function startReplica(i: number): Promise<ControlPlaneProcess> {
    const flags = ['--database', database.url, '--job-lease', '2s', '--trust-proxy', '127.0.0.1', '--limit-auth-failures', '4/1h', '--console-listen', `127.0.0.1:${ports[i]!.ssh}`];
    const replica = await startControlPlaneProcess({ dataDir: join(dir, `replica-${i}`), port: ports[i]!.api, flags });
    started.push(replica);
    replicas[i] = replica;
    return replica;
  }

  before(async () => {
    database = await createTestDatabase('postgres');
    for (let i = 0; i < 2; i++) bmcs.push(await startRedfishBmc());
    for (let i = 0; i < 2; i++) ports.push({ api: await freePort(), ssh: await freePort() });
    await startReplica(0);
    mkdirSync(join(dir, 'replica-1'), { recursive: true, mode: 0o700 });
    copyFileSync(join(dir, 'replica-0', 'secret.key'), join(dir, 'replica-1', 'secret.key'));
    await startReplica(1);
    token = replicas[0]!.adminToken();

    const [lbPort, lbSshPort] = [await freePort(), await freePort()];
    const child = spawn('haproxy', ['-db', '-f', haproxyConfig], {
      env: {
        ...process.env,
        LIFEBOAT_LB_LISTEN: `127.0.0.1:${lbPort}`,
        LIFEBOAT_LB_SSH_LISTEN: `127.0.0.1:${lbSshPort}`,
        LIFEBOAT_REPLICA_1: `127.0.0.1:${ports[0]!.api}`,
        LIFEBOAT_REPLICA_2: `127.0.0.1:${ports[1]!.api}`,
        LIFEBOAT_REPLICA_1_SSH: `127.0.0.1:${ports[0]!.ssh}`,
        LIFEBOAT_REPLICA_2_SSH: `127.0.0.1:${ports[1]!.ssh}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    lb = { url: `http://127.0.0.1:${lbPort}`, sshPort: lbSshPort, child, output: () => output };
    await waitFor('HAProxy to answer /healthz', async () => {
      if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}: ${output}`);
      return (await fetch(`${lb.url}/healthz`).catch(() => undefined))?.ok;
    });
  });
  after(async () => {
    if (lb && lb.child.exitCode === null && lb.child.signalCode === null) {
      const exited = new Promise((resolve) => lb.child.once('exit', resolve));
      lb.child.kill('SIGTERM');
      await exited;
    }
    for (const replica of started) await replica.stop('SIGKILL');
    for (const bmc of bmcs) await bmc.stop();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves requests and event streams through HAProxy while one replica stops', async () => {
    assert.equal((await api(lb.url, token, 'POST', '/v1/tenants', { name: 'acme' })).status, 201);
    for (const [i, bmc] of bmcs.entries()) {
      const added = await api(lb.url, token, 'POST', '/v1/servers', {
        name: `web-${i + 1}`, tenant: 'acme', macs: [`52:54:00:7f:00:0${i + 1}`], bmc: { url: `redfish://127.0.0.1:${bmc.port}${bmc.systemPath}`, user: bmc.user, password: bmc.password },
      });
      assert.equal(added.status, 201, JSON.stringify(added.body));
    }
    // Two streams: leastconn puts them on the two replicas.
    const streams = ['web-1', 'web-2'].map((name) => watch(lb.url, token, name));
    try {
      await waitFor('both streams to open', () => streams.every((s) => s.events.length > 0));
      const statuses: number[] = [];
      let stopped: Promise<number | null> | undefined;
      for (let i = 0; i < 60; i++) {
        if (i === 20) stopped = replicas[1]!.stop('SIGTERM');
        statuses.push((await api(lb.url, token, 'GET', '/v1/servers')).status);
        if (i === 40) assert.equal(await stopped, 0, 'the stopped replica shut down cleanly');
      }
      assert.deepEqual(new Set(statuses), new Set([200]), 'every request answered, before, while and after a replica stopped');

      // Changes made now (on the replica left) reach both streams, the one that was on the stopped replica reconnected.
      for (const [i, name] of ['web-1', 'web-2'].entries()) {
        assert.equal((await api(lb.url, token, 'POST', `/v1/servers/${name}/rescue`, {})).status, 202);
        await waitFor(`${name} preparing rescue`, async () => (await api(lb.url, token, 'GET', `/v1/servers/${name}`)).body?.state === 'preparing_rescue');
        // The rescue system boots through the load balancer too: script, redeem, ready.
        await playAgent(lb.url, `52:54:00:7f:00:0${i + 1}`);
      }
      for (const [i, stream] of streams.entries()) await waitFor(`stream ${i + 1} to show rescue`, () => stream.events.some((e) => e.server.state === 'rescue'));
      assert.ok(streams.some((s) => s.connections() === 2), 'one stream was on the stopped replica and reconnected');
    } finally {
      for (const stream of streams) await stream.stop();
    }
  });

  it('lets the replicas count the client, not the load balancer, against address limits', async () => {
    await startReplica(1);
    for (let i = 0; i < 4; i++) assert.equal((await getFrom('127.0.0.2', lb.url, '/v1/servers', 'lb_wrong')).status, 401);
    const limited = await getFrom('127.0.0.2', lb.url, '/v1/servers', token);
    assert.deepEqual([limited.status, limited.code], [429, 'RATE_LIMITED']);
    assert.ok(Number(limited.retryAfter) > 0);
    assert.equal((await getFrom('127.0.0.3', lb.url, '/v1/servers', token)).status, 200, 'another client through the same load balancer is not limited');
  });

  it('forwards the SSH console port to a replica\'s gateway', async () => {
    assert.equal(await sshBanner(lb.sshPort), true);
  });
});
