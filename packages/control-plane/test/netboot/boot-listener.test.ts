/**
 * `--boot-listen` (issue 14, finding 1): the netboot endpoints and the agent API on a listener of
 * their own (the provisioning network), and off the API's; without it, everything stays on the API
 * listener as before. The real control plane, real sockets.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfig } from '../../src/config.js';
import { startControlPlane, type RunningControlPlane } from '../../src/main.js';
import { createLogger } from '../../src/http/logger.js';

async function get(url: string, init: RequestInit = {}): Promise<{ status: number; text: string }> {
  const response = await fetch(url, init);
  return { status: response.status, text: await response.text() };
}

describe('the boot listener', () => {
  const dirs: string[] = [];
  const running: RunningControlPlane[] = [];
  after(async () => {
    for (const r of running) await r.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  async function start(flags: string[]): Promise<{ cp: RunningControlPlane; admin: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-boot-listen-'));
    dirs.push(dir);
    const config = parseConfig(['--data', dir, '--listen', '127.0.0.1:0', '--console-listen', 'off', '--web', join(dir, 'no-web'), ...flags], {}, dir);
    const cp = await startControlPlane(config, { logger: createLogger('silent'), notice: () => undefined });
    running.push(cp);
    return { cp, admin: readFileSync(join(dir, 'admin.token'), 'utf8').trim() };
  }

  it('is off by default: the netboot routes answer on the API listener, as before', async () => {
    assert.equal(parseConfig([], {}).bootListen, null);
    const { cp } = await start([]);
    assert.equal(cp.bootListenUrl, null);
    assert.equal((await get(`${cp.url}/boot.ipxe`)).status, 200);
    const redeem = await get(`${cp.url}/v1/agent/redeem`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ serverId: 'x', bootToken: 'boot_x' }) });
    assert.equal(redeem.status, 401);
    assert.match(cp.bootUrl, /^http:\/\/10\.0\.2\.2:\d+$/);
    assert.equal(cp.bootUrl.split(':')[2], cp.url.split(':')[2], 'the boot URL is the API port');
  });

  it('with --boot-listen: netboot and the agent API there only, the API elsewhere', async () => {
    const { cp, admin } = await start(['--boot-listen', '127.0.0.1:0']);
    const boot = cp.bootListenUrl!;
    assert.ok(boot, 'a boot listener');
    assert.notEqual(boot, cp.url);
    assert.equal(cp.bootUrl, `http://10.0.2.2:${boot.split(':')[2]}`, 'the boot URL follows the boot listener');
    const redeemInit = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ serverId: 'x', bootToken: 'boot_x' }) };

    // The boot listener: scripts, the agent's first call, nothing of the user API.
    const script = await get(`${boot}/boot.ipxe`);
    assert.equal(script.status, 200);
    assert.ok(script.text.includes(`${cp.bootUrl}/v1/boot/`), script.text);
    assert.equal((await get(`${boot}/v1/boot/52:54:00:00:00:01.ipxe`)).status, 200);
    assert.equal((await get(`${boot}/v1/agent/redeem`, redeemInit)).status, 401, 'redeem is here (and refuses a made-up credential)');
    assert.equal((await get(`${boot}/v1/agent/heartbeat`, { method: 'POST', headers: { authorization: 'Bearer agent_x' } })).status, 401, 'the agent API is here');
    for (const path of ['/v1/servers', '/openapi.json', '/v1/auth/session', '/']) {
      const answer = await get(`${boot}${path}`, { headers: { authorization: `Bearer ${admin}` } });
      assert.equal(answer.status, 404, `${path} is not on the boot listener`);
      assert.equal(JSON.parse(answer.text).code, 'NOT_FOUND');
    }

    // The API listener: no netboot, no redeem.
    for (const path of ['/boot.ipxe', '/v1/boot/52:54:00:00:00:01.ipxe', '/v1/images/linux/vmlinuz']) {
      const answer = await get(`${cp.url}${path}`);
      assert.deepEqual([answer.status, JSON.parse(answer.text).code], [404, 'NOT_FOUND'], `${path} is not on the API listener`);
    }
    assert.equal((await get(`${cp.url}/v1/agent/redeem`, redeemInit)).status, 404);
    assert.equal((await get(`${cp.url}/v1/servers`, { headers: { authorization: `Bearer ${admin}` } })).status, 200);
    assert.equal((await get(`${cp.url}/healthz`)).status, 200);
    assert.equal((await get(`${boot}/healthz`)).status, 200);
  });

  it('refuses an address it cannot listen on, with the flag to fix', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-boot-listen-'));
    dirs.push(dir);
    const config = parseConfig(['--data', dir, '--listen', '127.0.0.1:0', '--console-listen', 'off', '--boot-listen', '192.0.2.123:8081'], {}, dir);
    await assert.rejects(startControlPlane(config, { logger: createLogger('silent'), notice: () => undefined }), { code: 'CONFIG_INVALID', message: /--boot-listen HOST:PORT/ });
  });
});
