/**
 * Issue 14, finding 3's rate limits, in-process: failed authentication per address, enters per
 * token, boot scripts and redeems per address answer `429 RATE_LIMITED` with `Retry-After`, and only
 * for the address or token that used its budget. Small limits and a clock the test moves.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../../src/http/testing.js';
import { RequestLimiters, defaultRateLimits } from '../../src/http/rate-limiter.js';
import { netbootRoutes } from '../../src/netboot/routes.js';
import { StoreNetbootSource } from '../../src/rescue/netboot-source.js';
import { parseConfig } from '../../src/config.js';

describe('rate limits', () => {
  let testApp: TestApp;
  let now = 1_000_000;
  let customer: string;
  let other: string;

  async function from(address: string, method: 'GET' | 'POST', url: string, token?: string, body?: object) {
    const response = await testApp.app.inject({ method, url, remoteAddress: address, headers: token ? { authorization: `Bearer ${token}` } : {}, ...(body ? { payload: body } : {}) });
    const json = String(response.headers['content-type']).startsWith('application/json') ? (response.json() as Record<string, unknown>) : undefined;
    return { status: response.statusCode, code: json?.code, retryAfter: response.headers['retry-after'] };
  }

  before(async () => {
    const limiters = new RequestLimiters(
      { authFailures: { count: 3, windowMs: 60_000 }, enters: { count: 2, windowMs: 60_000 }, bootScripts: { count: 4, windowMs: 60_000 }, redeems: { count: 3, windowMs: 30_000 } },
      () => now,
    );
    testApp = await startTestApp({ app: { limiters } });
    await testApp.app.register((instance) => netbootRoutes(instance, { source: new StoreNetbootSource(testApp.store), images: testApp.images.registry, bootUrl: 'http://10.0.0.1:8080', scriptLimiter: limiters.bootScripts }));
    const { admin } = testApp;
    await testApp.call('POST', '/v1/tenants', admin, { name: 'acme' });
    customer = (await testApp.call('POST', '/v1/tokens', admin, { tenant: 'acme', role: 'customer' })).body?.token;
    other = (await testApp.call('POST', '/v1/tokens', admin, { tenant: 'acme', role: 'customer' })).body?.token;
    for (const [i, name] of ['web-1', 'web-2', 'web-3'].entries()) {
      const added = await testApp.call('POST', '/v1/servers', admin, { name, tenant: 'acme', macs: [`52:54:00:00:01:0${i}`], bmc: { url: 'ipmi://127.0.0.1:6230', user: 'admin', password: 'pw' } });
      assert.equal(added.status, 201, JSON.stringify(added.body));
    }
  });
  after(async () => {
    await testApp?.close();
  });

  it('limits failed authentication per address, right token included, then lets it through again', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await from('10.1.0.1', 'GET', '/v1/servers', 'lb_wrong')).status, 401);
    const limited = await from('10.1.0.1', 'GET', '/v1/servers', customer);
    assert.deepEqual([limited.status, limited.code, limited.retryAfter], [429, 'RATE_LIMITED', '20']);
    assert.equal((await from('10.1.0.1', 'GET', '/v1/servers', undefined)).status, 401, 'no credential: not a guess, not limited');
    assert.equal((await from('10.1.0.2', 'GET', '/v1/servers', customer)).status, 200, 'another address is not limited');
    // The agent API counts into the same budget.
    assert.equal((await from('10.1.0.2', 'GET', '/v1/agent/work?waitSeconds=0', 'agent_wrong')).status, 401);
    assert.equal((await from('10.1.0.2', 'POST', '/v1/agent/heartbeat', 'agent_wrong')).status, 401);
    assert.equal((await from('10.1.0.2', 'POST', '/v1/agent/heartbeat', 'agent_wrong')).status, 401);
    assert.equal((await from('10.1.0.2', 'POST', '/v1/agent/heartbeat', 'agent_wrong')).code, 'RATE_LIMITED');
    now += 20_000;
    assert.equal((await from('10.1.0.1', 'GET', '/v1/servers', customer)).status, 200, 'after Retry-After');
  });

  it('limits rescue enters per token before any work', async () => {
    assert.equal((await from('10.2.0.1', 'POST', '/v1/servers/web-1/rescue', customer, {})).status, 202);
    assert.equal((await from('10.2.0.1', 'POST', '/v1/servers/web-1/rescue', customer, {})).code, 'INVALID_STATE');
    const limited = await from('10.2.0.2', 'POST', '/v1/servers/web-2/rescue', customer, {});
    assert.deepEqual([limited.status, limited.code, limited.retryAfter], [429, 'RATE_LIMITED', '30']);
    assert.equal((await testApp.store.servers.byName('web-2'))?.state, 'active', 'nothing done');
    assert.equal((await from('10.2.0.1', 'POST', '/v1/servers/web-2/rescue', other, {})).status, 202, 'another token has its own budget');
  });

  it('limits boot scripts per address, not image files', async () => {
    for (let i = 0; i < 4; i++) assert.equal((await from('10.3.0.1', 'GET', i % 2 ? '/boot.ipxe' : '/v1/boot/52:54:00:00:00:01.ipxe')).status, 200);
    const limited = await from('10.3.0.1', 'GET', '/v1/boot/52:54:00:00:00:01.ipxe');
    assert.deepEqual([limited.status, limited.code, limited.retryAfter], [429, 'RATE_LIMITED', '15']);
    assert.equal((await from('10.3.0.2', 'GET', '/boot.ipxe')).status, 200);
    assert.equal((await from('10.3.0.1', 'GET', '/v1/images/linux/vmlinuz')).status, 200, 'image files are the boot storm: not limited');
  });

  it('limits redeems per address', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await from('10.4.0.1', 'POST', '/v1/agent/redeem', undefined, { serverId: 'nope', bootToken: `boot_${i}` })).code, 'BOOT_TOKEN_INVALID');
    const limited = await from('10.4.0.1', 'POST', '/v1/agent/redeem', undefined, { serverId: 'nope', bootToken: 'boot_x' });
    assert.deepEqual([limited.status, limited.code, limited.retryAfter], [429, 'RATE_LIMITED', '10']);
    assert.equal((await from('10.4.0.2', 'POST', '/v1/agent/redeem', undefined, { serverId: 'nope', bootToken: 'boot_x' })).code, 'BOOT_TOKEN_INVALID');
  });

  it('takes its figures from the configuration: COUNT/DURATION or off', () => {
    assert.deepEqual(parseConfig([], {}).limits, defaultRateLimits);
    const config = parseConfig(['--limit-boot-scripts', '10000/1m', '--limit-enters', 'off'], { LIFEBOAT_LIMIT_REDEEMS: '50/10s' });
    assert.deepEqual(config.limits, { ...defaultRateLimits, bootScripts: { count: 10_000, windowMs: 60_000 }, enters: null, redeems: { count: 50, windowMs: 10_000 } });
    assert.throws(() => parseConfig(['--limit-auth-failures', 'lots'], {}), { code: 'CONFIG_INVALID', message: /--limit-auth-failures: expected COUNT\/DURATION/ });
  });
});
