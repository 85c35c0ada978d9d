/**
 * `GET /metrics` of the real control plane (its bin, the real Redfish driver against the Redfish
 * simulator, a simulated server playing the agent): after a rescue entered and left, the figures moved;
 * a scrape without an operator token or the metrics token is refused, and the metrics token opens
 * nothing else.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { api, freePort, startControlPlaneProcess, waitFor, type ControlPlaneProcess } from '@lifeboat/test-support';
import { createTestImages } from '../src/netboot/testing.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../src/store/testing.js';
import { startRedfishBmc, type RedfishBmc } from './drivers/redfish-bmc.js';
import { redfishSimBmc, SimulatedServer } from './simulated-server.js';

const metricsToken = 'scraper-token-0123456789abcdef';

/** The value of one sample (`name{labels} value`), or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function scrape(url: string, token: string | undefined): Promise<{ status: number; text: string; type: string | null }> {
  const response = await fetch(`${url}/metrics`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, text: await response.text(), type: response.headers.get('content-type') };
}

for (const dialect of testDialects()) describe(`GET /metrics on ${dialect}`, { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-metrics-'));
  const images = createTestImages();
  let database: TestDatabase | undefined;
  let bmc: RedfishBmc | undefined;
  let plane: ControlPlaneProcess | undefined;
  let server: SimulatedServer | undefined;

  after(async () => {
    server?.stop();
    await plane?.stop('SIGKILL');
    await bmc?.stop();
    await database?.drop();
    images.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts a rescue entered and left, for operators and the scraper only', async () => {
    bmc = await startRedfishBmc();
    database = await createTestDatabase(dialect);
    const port = await freePort();
    const mac = '52:54:00:14:ee:01';
    server = new SimulatedServer(`http://127.0.0.1:${port}`, mac, redfishSimBmc(bmc));
    plane = await startControlPlaneProcess({
      dataDir: join(dir, 'data'),
      port,
      flags: ['--database', database.url, '--image', images.dirOf('linux'), '--exit-agent-timeout', '5s'],
      env: { LIFEBOAT_METRICS_TOKEN: metricsToken },
    });
    const { url } = plane;
    const token = plane.adminToken();

    const before = await scrape(url, token);
    assert.equal(before.status, 200);
    assert.match(before.type ?? '', /^text\/plain; version=0\.0\.4/);
    assert.equal(sample(before.text, 'lifeboat_rescue_sessions{state="rescue"}'), 0);
    assert.ok(sample(before.text, 'process_resident_memory_bytes')! > 0, 'the default process metrics');

    assert.equal((await api(url, token, 'POST', '/v1/tenants', { name: 'acme' })).status, 201);
    const bmcRecord = { url: `redfish://127.0.0.1:${bmc.port}${bmc.systemPath}`, user: bmc.user, password: bmc.password };
    assert.equal((await api(url, token, 'POST', '/v1/servers', { name: 'web-1', tenant: 'acme', macs: [mac], bmc: bmcRecord })).status, 201);
    const customer = await api(url, token, 'POST', '/v1/tokens', { name: 'acme-ci', role: 'customer', tenant: 'acme' });
    assert.equal(customer.status, 201, JSON.stringify(customer.body));

    assert.equal((await api(url, token, 'POST', '/v1/servers/web-1/rescue', {})).status, 202);
    await waitFor('the rescue to be up', async () => (await api(url, token, 'GET', '/v1/servers/web-1', undefined)).body.state === 'rescue');
    const inRescue = await scrape(url, metricsToken);
    assert.equal(inRescue.status, 200);
    assert.equal(sample(inRescue.text, 'lifeboat_rescue_sessions{state="rescue"}'), 1, 'the session in rescue, read from the database');
    // The rescue system fetches its kernel (the played agent does not: this test does, as the server).
    const serverId = (await api(url, token, 'GET', '/v1/servers/web-1', undefined)).body.id;
    assert.equal((await fetch(`${url}/v1/images/linux/vmlinuz?server=${serverId}`)).status, 200);
    assert.equal((await fetch(`${url}/v1/images/linux/no-such-file`)).status, 400);

    assert.equal((await api(url, token, 'POST', '/v1/servers/web-1/rescue/exit', undefined)).status, 202);
    await waitFor('the server to be back from its disk', async () => (await api(url, token, 'GET', '/v1/servers/web-1', undefined)).body.state === 'active');

    const { text } = await scrape(url, token);
    assert.equal(sample(text, 'lifeboat_rescue_sessions{state="rescue"}'), 0);
    assert.ok(sample(text, 'lifeboat_bmc_calls_total{driver="redfish",action="boot_device_network",result="ok"}')! >= 1, 'the enter set the boot device');
    assert.ok(sample(text, 'lifeboat_bmc_calls_total{driver="redfish",action="boot_device_disk",result="ok"}')! >= 1, 'the exit set it back');
    assert.ok(sample(text, 'lifeboat_bmc_call_duration_seconds_count{driver="redfish",action="power_state"}')! >= 1, 'BMC latency observed');
    assert.ok(sample(text, 'lifeboat_netboot_requests_total{kind="script",result="ok"}')! >= 1, 'the iPXE script');
    assert.equal(sample(text, 'lifeboat_netboot_requests_total{kind="vmlinuz",result="ok"}'), 1, 'the kernel');
    assert.equal(sample(text, 'lifeboat_boot_step_duration_seconds_count{task="enter_rescue",step="boot_device_set",result="completed"}'), 1);
    assert.equal(sample(text, 'lifeboat_boot_step_duration_seconds_count{task="exit_rescue",step="rebooted",result="completed"}'), 1);
    assert.match(text, /^# TYPE lifeboat_jobs_queued gauge$/m);
    assert.match(text, /^# TYPE lifeboat_jobs_oldest_age_seconds gauge$/m);
    assert.match(text, /^# TYPE lifeboat_mails_total counter$/m);
    for (const name of ['web-1', 'acme', mac, serverId, bmc.password]) assert.ok(!text.includes(name), `no ${name} in the metrics`);

    // Refused: no token, an unknown one, a customer's; the metrics token opens nothing else.
    const refused = await scrape(url, undefined);
    assert.equal(refused.status, 401);
    assert.equal(JSON.parse(refused.text).code, 'UNAUTHORIZED');
    assert.equal((await scrape(url, 'not-a-token-at-all-0000000000')).status, 401);
    assert.equal((await scrape(url, customer.body.token)).status, 403);
    assert.equal((await api(url, metricsToken, 'GET', '/v1/servers', undefined)).status, 401);
    assert.ok(!plane.output().includes(metricsToken), 'the metrics token is in no log line');
    assert.equal(await plane.stop('SIGTERM'), 0);
  });
});
