/**
 * The rescue desktop's routes against real parts: a desktop host (network namespace, OpenSSH's sshd,
 * TigerVNC's Xtigervnc on 127.0.0.1:5900 inside, as in the windows rescue) that authorizes the control
 * plane's desktop key with the agent's `authorized_keys` line. Through the WebSocket, a real RFB
 * handshake reaches the VNC server; the key can do nothing else (no command, no other forward); a host
 * key the agent did not report is refused; a rescue without a desktop, a cross-site page and another
 * tenant are refused before the upgrade; the audit log records each viewer; a burst of opens gets exactly
 * the viewer limit and `DESKTOP_FULL` for the rest.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { desktopAuthorizedKeyLine, type AgentConfig } from '@lifeboat/core';
import { startDesktopHost, waitFor, type DesktopHost } from '@lifeboat/test-support';
import { desktopClientKey } from '../../src/desktop/desktop-key.js';
import { putInRescue, startTestApp, type TestApp } from '../../src/http/testing.js';

/** Reads WebSocket binary frames as one byte stream. */
class FrameReader {
  #buffer = Buffer.alloc(0);
  #waiters: Array<() => void> = [];
  constructor(socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, data]);
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }
  async read(bytes: number, timeoutMs = 10_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.#buffer.length < bytes) {
      if (Date.now() > deadline) throw new Error(`only ${this.#buffer.length} of ${bytes} bytes arrived`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
    const out = this.#buffer.subarray(0, bytes);
    this.#buffer = this.#buffer.subarray(bytes);
    return out;
  }
}

/**
 * Opens the desktop WebSocket; resolves when it is open (its reader attached before: the server's first
 * bytes may come in the packet of the upgrade's answer), rejects with the HTTP refusal's status and body.
 */
function openDesktop(url: string, name: string, headers: Record<string, string>): Promise<WebSocket & { reader: FrameReader }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/servers/${name}/desktop/ws`, { headers });
    const reader = new FrameReader(socket);
    socket.once('open', () => resolve(Object.assign(socket, { reader })));
    socket.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk));
      response.on('end', () => reject(Object.assign(new Error(`refused: ${response.statusCode} ${body}`), { status: response.statusCode, body: JSON.parse(body || '{}') })));
    });
    socket.once('error', reject);
  });
}

/**
 * Plays noVNC's side of the RFB handshake up to the server's init message; returns the desktop's size
 * and name. A viewer that leaves before it is through counts as a failed attempt for Xtigervnc, which
 * then refuses this address for a while (its blacklist): the tests' viewers always finish it.
 */
async function handshake(socket: WebSocket & { reader: FrameReader }): Promise<{ width: number; height: number; name: string }> {
  const { reader } = socket;
  const version = (await reader.read(12)).toString();
  if (version === 'RFB 003.003\n') {
    // A refusal: the security type 0 and the reason.
    await reader.read(4);
    throw new Error(`the VNC server refused the viewer: ${(await reader.read((await reader.read(4)).readUInt32BE(0))).toString()}`);
  }
  assert.equal(version, 'RFB 003.008\n');
  socket.send(Buffer.from('RFB 003.008\n'));
  const count = (await reader.read(1))[0]!;
  const types = [...(await reader.read(count))];
  assert.deepEqual(types, [1], 'the rescue\'s VNC server offers security type None only (it listens on 127.0.0.1 alone)');
  socket.send(Buffer.from([1]));
  assert.equal((await reader.read(4)).readUInt32BE(0), 0, 'security result OK');
  socket.send(Buffer.from([1])); // ClientInit, shared
  const init = await reader.read(24);
  const name = (await reader.read(init.readUInt32BE(20))).toString();
  return { width: init.readUInt16BE(0), height: init.readUInt16BE(2), name };
}

describe('rescue desktop', () => {
  let t: TestApp;
  let url: string;
  let host: DesktopHost;
  let acme: string;
  let globex: string;
  let config: AgentConfig | undefined;
  const keyDir = mkdtempSync(join(tmpdir(), 'lifeboat-desktop-test-'));

  before(async () => {
    host = await startDesktopHost();
    t = await startTestApp();
    url = await t.listen();
    for (const tenant of ['acme', 'globex']) assert.equal((await t.call('POST', '/v1/tenants', t.admin, { name: tenant })).status, 201);
    acme = (await t.call('POST', '/v1/tokens', t.admin, { tenant: 'acme', role: 'customer' })).body?.token;
    globex = (await t.call('POST', '/v1/tokens', t.admin, { tenant: 'globex', role: 'customer' })).body?.token;
    const bmc = { url: 'ipmi://127.0.0.1:6230', user: 'admin', password: 'pw' };
    for (const [name, mac] of [['win-1', '52:54:00:de:5c:01'], ['lin-1', '52:54:00:de:5c:02']] as const) {
      const added = await t.call('POST', '/v1/servers', t.admin, { name, tenant: 'acme', macs: [mac], bmc, sshEndpoint: host.sshEndpoint, profiles: ['linux', 'windows'] });
      assert.equal(added.status, 201, added.text);
    }
  });

  after(async () => {
    await t?.close();
    await host?.close();
    rmSync(keyDir, { recursive: true, force: true });
  });

  it('says why a server not in rescue has no desktop, and refuses the WebSocket before the upgrade', async () => {
    const view = await t.call('GET', '/v1/servers/win-1/desktop', acme);
    assert.equal(view.status, 200, view.text);
    assert.deepEqual(view.body, { server: 'win-1', available: false, reason: 'not-in-rescue', profile: null, websocket: '/v1/servers/win-1/desktop/ws', tunnel: null, viewers: 0, viewerLimit: 8 });
    const refused = await openDesktop(url, 'win-1', { authorization: `Bearer ${acme}` }).catch((e: { status: number; body: { code: string; message: string } }) => e);
    assert.ok(!(refused instanceof WebSocket));
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, 'DESKTOP_UNAVAILABLE');
    assert.match(refused.body.message, /--profile windows/);
  });

  it('gives a linux rescue no desktop key and no desktop', async () => {
    let linuxConfig: AgentConfig | undefined;
    await putInRescue(t, 'lin-1', new Date(Date.now() + 3_600_000), { profile: 'linux', onConfig: (c) => (linuxConfig = c) });
    assert.equal(linuxConfig?.desktopKey, undefined);
    assert.doesNotMatch(linuxConfig?.motd ?? '', /desktop/);
    const view = await t.call('GET', '/v1/servers/lin-1/desktop', acme);
    assert.deepEqual([view.body?.available, view.body?.reason, view.body?.profile], [false, 'no-desktop-profile', 'linux']);
    const refused = await openDesktop(url, 'lin-1', { authorization: `Bearer ${acme}` }).catch((e: { status: number; body: { code: string } }) => e);
    assert.deepEqual([(refused as { status: number }).status, (refused as { body: { code: string } }).body.code], [409, 'DESKTOP_UNAVAILABLE']);
  });

  it('waits for the rescue\'s host keys before it offers the desktop', async () => {
    const agent = await putInRescue(t, 'win-1', new Date(Date.now() + 3_600_000), { profile: 'windows', onConfig: (c) => (config = c) });
    assert.match(config?.desktopKey ?? '', /^ssh-ed25519 [A-Za-z0-9+/]+=*$/);
    assert.match(config?.motd ?? '', /ssh -N -L 5900:127\.0\.0\.1:5900/);
    assert.equal((await t.call('GET', '/v1/servers/win-1/desktop', acme)).body?.reason, 'no-host-keys');
    const reported = await t.call('POST', '/v1/agent/host-keys', agent, { hostKeys: host.hostKeys });
    assert.equal(reported.status, 200, reported.text);
    host.authorize([desktopAuthorizedKeyLine(config!.desktopKey!)]);
    const view = await t.call('GET', '/v1/servers/win-1/desktop', acme);
    assert.deepEqual(view.body, {
      server: 'win-1',
      available: true,
      reason: null,
      profile: 'windows',
      websocket: '/v1/servers/win-1/desktop/ws',
      tunnel: `ssh -N -L 5900:127.0.0.1:5900 root@${host.sshEndpoint.replace(/:22$/, '')}`,
      viewers: 0,
      viewerLimit: 8,
    });
  });

  it('carries a real RFB session to the rescue\'s VNC server', async () => {
    const socket = await openDesktop(url, 'win-1', { authorization: `Bearer ${acme}` });
    try {
      assert.deepEqual(await handshake(socket), { width: 1024, height: 640, name: 'Lifeboat test desktop' });
      assert.equal((await t.call('GET', '/v1/servers/win-1/desktop', acme)).body?.viewers, 1);
    } finally {
      socket.close();
    }
    await waitFor('the viewer to be counted out', async () => (await t.call('GET', '/v1/servers/win-1/desktop', acme)).body?.viewers === 0);
    const audit = await waitFor('desktop.closed in the audit log', async () => {
      const entries = (await t.call('GET', '/v1/audit?limit=50', t.admin)).body?.events as Array<{ action: string; detail: Record<string, unknown> }>;
      return entries.some((e) => e.action === 'desktop.closed') ? entries : undefined;
    });
    const opened = audit.find((e) => e.action === 'desktop.opened');
    const closed = audit.find((e) => e.action === 'desktop.closed');
    assert.equal(opened?.detail.via, 'websocket');
    assert.ok(Number(closed?.detail.bytesOut) > 24, JSON.stringify(closed));
  });

  it('lets a burst of 12 simultaneous opens have exactly 8 viewers, and refuses 4 with DESKTOP_FULL', async () => {
    const attempts = await Promise.allSettled(Array.from({ length: 12 }, () => openDesktop(url, 'win-1', { authorization: `Bearer ${acme}` })));
    const opened = attempts.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
    try {
      const refused = attempts.flatMap((a) => (a.status === 'rejected' ? [a.reason as { status: number; body: { code: string; message: string } }] : []));
      assert.equal(opened.length, 8, refused.map((r) => JSON.stringify(r.body)).join('\n'));
      assert.deepEqual(refused.map((r) => [r.status, r.body.code]), Array.from({ length: 4 }, () => [409, 'DESKTOP_FULL']));
      assert.match(refused[0]!.body.message, /already has 8 viewers/);
      // Each of the 8 is a real session: the VNC server greets every one.
      for (const socket of opened) assert.equal((await handshake(socket)).name, 'Lifeboat test desktop');
      const view = (await t.call('GET', '/v1/servers/win-1/desktop', acme)).body;
      assert.deepEqual([view?.viewers, view?.viewerLimit], [8, 8]);
      const ninth = await openDesktop(url, 'win-1', { authorization: `Bearer ${acme}` }).catch((e: { status: number; body: { code: string } }) => e);
      assert.deepEqual([(ninth as { status: number }).status, (ninth as { body: { code: string } }).body.code], [409, 'DESKTOP_FULL']);
      // One leaves: its seat is free again.
      opened.pop()!.close();
      await waitFor('a seat to free up', async () => (await t.call('GET', '/v1/servers/win-1/desktop', acme)).body?.viewers === 7);
      const again = await openDesktop(url, 'win-1', { authorization: `Bearer ${acme}` });
      opened.push(again);
      assert.equal((await handshake(again)).name, 'Lifeboat test desktop');
    } finally {
      for (const socket of opened) socket.close();
    }
    await waitFor('every seat given back', async () => (await t.call('GET', '/v1/servers/win-1/desktop', acme)).body?.viewers === 0);
  });

  it('gives the seat back when the forward cannot open', async () => {
    host.authorize([]);
    try {
      for (let i = 0; i < 9; i++) {
        const refused = await openDesktop(url, 'win-1', { authorization: `Bearer ${acme}` }).catch((e: { status: number; body: { code: string } }) => e);
        assert.deepEqual([(refused as { status: number }).status, (refused as { body: { code: string } }).body.code], [503, 'DESKTOP_UNREACHABLE']);
      }
      assert.equal((await t.call('GET', '/v1/servers/win-1/desktop', acme)).body?.viewers, 0);
    } finally {
      host.authorize([desktopAuthorizedKeyLine(config!.desktopKey!)]);
    }
  });

  it('authorizes the desktop key for the VNC forward only: no command, no other port', async () => {
    const keyFile = join(keyDir, 'desktop-key');
    writeFileSync(keyFile, (await desktopClientKey(t.store)).privateKey, { mode: 0o600 });
    const marker = join(keyDir, 'shell-ran');
    const [address] = host.sshEndpoint.split(':');
    const options = ['-i', keyFile, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=10'];
    const shell = spawnSync('ssh', [...options, `root@${address}`, `touch ${marker}`], { encoding: 'utf8', timeout: 30_000 });
    assert.notEqual(shell.status, 0);
    assert.equal(existsSync(marker), false, 'the forced command ran instead of the one asked');
    // A forward to the rescue's sshd itself (any port but 5900) is refused by permitopen.
    const forward = spawnSync('ssh', [...options, '-N', '-o', 'ExitOnForwardFailure=yes', '-W', '127.0.0.1:22', `root@${address}`], { encoding: 'utf8', timeout: 30_000, input: '' });
    assert.notEqual(forward.status, 0);
    assert.match(forward.stderr, /administratively prohibited|open failed/);
  });

  it('refuses a rescue that presents a host key its agent did not report', async () => {
    const server = await t.store.servers.byName('win-1');
    const session = await t.store.sessions.openFor(server!.id);
    const other = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keyDir, 'other')], { encoding: 'utf8' });
    assert.equal(other.status, 0);
    const otherKey = spawnSync('cat', [join(keyDir, 'other.pub')], { encoding: 'utf8' }).stdout.trim().split(' ').slice(0, 2).join(' ');
    await t.store.sessions.setHostKeys(session!.id, [{ type: 'ssh-ed25519', publicKey: otherKey, fingerprint: 'SHA256:AAAA' }]);
    try {
      const refused = await openDesktop(url, 'win-1', { authorization: `Bearer ${acme}` }).catch((e: { status: number; body: { code: string; message: string } }) => e);
      assert.ok(!(refused instanceof WebSocket));
      assert.equal(refused.status, 503);
      assert.equal(refused.body.code, 'DESKTOP_UNREACHABLE');
      assert.match(refused.body.message, /host key its agent did not report/);
    } finally {
      await t.store.sessions.setHostKeys(session!.id, host.hostKeys);
    }
  });

  it('answers another tenant exactly as for a missing server', async () => {
    const foreign = await openDesktop(url, 'win-1', { authorization: `Bearer ${globex}` }).catch((e: { status: number; body: unknown }) => e);
    const missing = await openDesktop(url, 'nope-1', { authorization: `Bearer ${globex}` }).catch((e: { status: number; body: unknown }) => e);
    assert.equal((foreign as { status: number }).status, 404);
    assert.deepEqual((foreign as { body: { code: string } }).body.code, 'SERVER_NOT_FOUND');
    assert.equal((await t.call('GET', '/v1/servers/win-1/desktop', globex)).status, 404);
    assert.equal((missing as { status: number }).status, 404);
  });

  it('refuses a browser session\'s upgrade from a page of another origin', async () => {
    const created = await t.call('POST', '/v1/users', t.admin, { name: 'alice', role: 'customer', tenant: 'acme', password: 'correct horse battery staple' });
    assert.equal(created.status, 201, created.text);
    const signIn = await fetch(`${url}/v1/auth/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'alice', password: 'correct horse battery staple' }) });
    assert.equal(signIn.status, 200);
    const cookie = String(signIn.headers.get('set-cookie')).split(';')[0]!;
    const crossSite = await openDesktop(url, 'win-1', { cookie, origin: 'https://evil.example' }).catch((e: { status: number; body: { code: string } }) => e);
    assert.ok(!(crossSite instanceof WebSocket));
    assert.deepEqual([crossSite.status, crossSite.body.code], [403, 'ORIGIN_REFUSED']);
    const sameSite = await openDesktop(url, 'win-1', { cookie, origin: url });
    assert.equal((await handshake(sameSite)).name, 'Lifeboat test desktop');
    sameSite.close();
  });
});
