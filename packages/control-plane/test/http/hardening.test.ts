/**
 * Issue 14's found defects 2 and 4-7, against a real control plane listening on a socket (on SQLite
 * and PostgreSQL): bad input answers 4xx in the product's `{code, message}` shape on every route, slow
 * clients are cut off, answers carry no-store and security headers, revoking a token ends its streams.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@lifeboat/test-support';
import { parseConfig } from '../../src/config.js';
import { startControlPlane, type RunningControlPlane } from '../../src/main.js';
import { createTestImages } from '../../src/netboot/testing.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../../src/store/testing.js';

/** One raw HTTP exchange: what the server wrote until it closed the connection. */
function rawExchange(url: string, write: (socket: import('node:net').Socket) => void): Promise<{ status: number; headers: string; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => write(socket));
    let data = '';
    socket.on('data', (chunk) => (data += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', body = ''] = data.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), headers: head.toLowerCase(), body });
    });
  });
}

for (const dialect of testDialects()) {
  describe(`hardening of the HTTP API on ${dialect}`, { timeout: 120_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-harden-'));
    const dataDir = join(dir, 'data');
    const images = createTestImages();
    let database: TestDatabase;
    let plane: RunningControlPlane;
    let admin: string;

    const call = async (method: string, path: string, token: string | undefined, body?: unknown) => {
      const response = await fetch(`${plane.url}${path}`, {
        method,
        headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, any>) : undefined };
    };

    before(async () => {
      database = await createTestDatabase(dialect);
      const flags = ['--data', dataDir, '--listen', '127.0.0.1:0', '--console-listen', '127.0.0.1:0', '--log-level', 'warn', '--database', database.url, '--image', images.dirOf('linux'), '--http-request-timeout', '2s'];
      plane = await startControlPlane(parseConfig(flags, {}, dir));
      admin = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
      assert.equal((await call('POST', '/v1/tenants', admin, { name: 'acme' })).status, 201);
      const added = await call('POST', '/v1/servers', admin, { name: 'web-1', tenant: 'acme', macs: ['52:54:00:00:14:01'], bmc: { url: 'ipmi://127.0.0.1:1', user: 'u', password: 'p' } });
      assert.equal(added.status, 201);
    });
    after(async () => {
      await plane?.close();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
      images.remove();
    });

    it('answers a NUL character with 400 BAD_REQUEST on every kind of route, never 500', async () => {
      const cases: Array<[string, string, string | undefined, unknown]> = [
        // No token needed: the agent's redeem and the netboot script.
        ['POST', '/v1/agent/redeem', undefined, { serverId: 'a\u0000b', bootToken: 'lbb_x' }],
        ['POST', '/v1/agent/redeem', undefined, { serverId: '00000000-0000-0000-0000-000000000000', bootToken: '\u0000' }],
        ['GET', '/v1/images/linux/vmlinuz?server=a%00b', undefined, undefined],
        // With a token: path, query and body (values and keys).
        ['GET', '/v1/servers/web%001', admin, undefined],
        ['GET', '/v1/audit?server=web%001', admin, undefined],
        ['POST', '/v1/tenants', admin, { name: 'globex', email: 'a\u0000@example.org' }],
        ['POST', '/v1/servers/web-1/incidents', admin, { message: 'disk\u0000 failing' }],
        ['POST', '/v1/servers/web-1/incidents', admin, { message: 'disk failing', attachment: { 'k\u0000': 1 } }],
        ['DELETE', '/v1/tokens/a%00b', admin, undefined],
      ];
      for (const [method, path, token, body] of cases) {
        const answer = await call(method, path, token, body);
        assert.deepEqual([answer.status, answer.body?.code], [400, 'BAD_REQUEST'], `${method} ${path} ${JSON.stringify(body)}`);
        assert.equal(typeof answer.body?.message, 'string');
      }
    });

    it('refuses a lease too long for a date, an extension of 0 and bad profile names with 400', async () => {
      const tooLong = await call('POST', '/v1/servers/web-1/rescue', admin, { expiresIn: '99999999999d' });
      assert.deepEqual([tooLong.status, tooLong.body?.code], [400, 'BAD_REQUEST']);
      const extendZero = await call('POST', '/v1/servers/web-1/rescue/extend', admin, { expiresIn: '0s' });
      assert.deepEqual([extendZero.status, extendZero.body?.code], [400, 'BAD_REQUEST']);
      for (const profile of ['li nux', 'linux\n', '../linux', 'a/b', 'x'.repeat(4096)]) {
        const answer = await call('POST', '/v1/servers', admin, { name: 'web-9', tenant: 'acme', macs: ['52:54:00:00:14:09'], bmc: { url: 'ipmi://127.0.0.1:1' }, profiles: [profile] });
        assert.deepEqual([answer.status, answer.body?.code], [400, 'BAD_REQUEST'], JSON.stringify(profile));
      }
      const many = await call('POST', '/v1/servers', admin, { name: 'web-9', tenant: 'acme', macs: ['52:54:00:00:14:09'], bmc: { url: 'ipmi://127.0.0.1:1' }, profiles: Array.from({ length: 17 }, (_, i) => `p${i}`) });
      assert.deepEqual([many.status, many.body?.code], [400, 'BAD_REQUEST']);
      assert.equal((await call('GET', '/v1/servers/web-9', admin)).status, 404, 'nothing was registered');
    });

    it('serves the local disk, not a 500, to a server whose stored profile cannot be netbooted', async () => {
      // Registered before names were checked: straight into the store, as an older release did.
      const tenant = await plane.store.tenants.byName('acme');
      const server = await plane.store.servers.add({ name: 'old-1', tenantId: tenant.id, macs: ['52:54:00:00:14:02'], bmc: { driver: 'ipmi', url: 'ipmi://127.0.0.1:1', user: 'u', password: null }, sshEndpoint: null, profiles: ['li nux\n'] });
      const session = await plane.store.sessions.open({ serverId: server.id, profile: 'li nux\n', email: null, sshKeys: [], passwordHash: null, expiresAt: new Date(Date.now() + 3_600_000), requestedBy: 'test' });
      await plane.store.sessions.setNetboot(session.id, 'rescue');
      const response = await fetch(`${plane.url}/v1/boot/52-54-00-00-14-02.ipxe`);
      assert.equal(response.status, 200);
      const script = await response.text();
      assert.match(script, /^#!ipxe/);
      assert.doesNotMatch(script, /li nux/);
      assert.match(script, /sanboot|exit/, 'the local disk script');
    });

    it('limits the size of incident details and attachments, agent work params and the inventory (413 PAYLOAD_TOO_LARGE)', async () => {
      const attachment = await call('POST', '/v1/servers/web-1/incidents', admin, { message: 'smart errors', attachment: { log: 'x'.repeat(100_000) } });
      assert.deepEqual([attachment.status, attachment.body?.code], [413, 'PAYLOAD_TOO_LARGE']);
      const detail = await call('POST', '/v1/servers/web-1/incidents', admin, { detail: 'x'.repeat(20_000) });
      assert.deepEqual([detail.status, detail.body?.code], [400, 'BAD_REQUEST']);
      const params = await call('POST', '/v1/servers/web-1/rescue/work', admin, { kind: 'disks', params: { blob: 'x'.repeat(100_000) } });
      assert.deepEqual([params.status, params.body?.code], [413, 'PAYLOAD_TOO_LARGE']);
      const kind = await call('POST', '/v1/servers/web-1/rescue/work', admin, { kind: 'k'.repeat(10_000) });
      assert.deepEqual([kind.status, kind.body?.code], [400, 'BAD_REQUEST']);
      // The agent's inventory: refused while the body arrives, before the token is even looked at.
      const inventory = await call('POST', '/v1/agent/inventory', 'lba_unknown', { disks: 'x'.repeat(2 * 1024 * 1024) });
      assert.deepEqual([inventory.status, inventory.body?.code], [413, 'PAYLOAD_TOO_LARGE']);
      const small = await call('POST', '/v1/servers/web-1/incidents', admin, { message: 'smart errors', attachment: { log: 'x'.repeat(1000) } });
      assert.equal(small.status, 201);
    });

    it('answers %ff and a 100 KB URL in the product shape', async () => {
      const badUrl = await call('GET', '/v1/servers/%ff', admin);
      assert.deepEqual([badUrl.status, badUrl.body?.code], [400, 'BAD_REQUEST']);
      const unauthenticated = await call('GET', '/v1/boot/%ff.ipxe', undefined);
      assert.deepEqual([unauthenticated.status, unauthenticated.body?.code], [400, 'BAD_REQUEST']);
      const long = await rawExchange(plane.url, (socket) => socket.write(`GET /v1/servers?x=${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`));
      assert.equal(long.status, 431);
      assert.equal(JSON.parse(long.body).code, 'HEADERS_TOO_LARGE');
      assert.match(long.headers, /content-type: application\/json/);
    });

    it('cuts off a request whose body comes one byte at a time (408 REQUEST_TIMEOUT)', async () => {
      let timer: NodeJS.Timeout | undefined;
      let sent = 0;
      const started = Date.now();
      const answer = await rawExchange(plane.url, (socket) => {
        socket.write('POST /v1/agent/redeem HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{');
        // One byte a second, far slower than the 2 s this server gives a whole request; never finished.
        timer = setInterval(() => {
          if (!socket.destroyed) socket.write(' ');
          sent++;
        }, 1000);
        socket.on('close', () => clearInterval(timer));
      });
      clearInterval(timer);
      assert.equal(answer.status, 408);
      assert.equal(JSON.parse(answer.body).code, 'REQUEST_TIMEOUT');
      assert.ok(sent < 30, `cut off after ${sent} bytes (${Date.now() - started} ms)`);
    });

    it('sends no-store and security headers on every answer, secrets included', async () => {
      const token = await call('POST', '/v1/tokens', admin, { tenant: 'acme', role: 'customer' });
      assert.equal(token.status, 201);
      const health = await call('GET', '/healthz', undefined);
      const missing = await call('GET', '/v1/nothing', admin);
      const denied = await call('GET', '/v1/servers', 'lb_nope');
      for (const answer of [token, health, missing, denied]) {
        assert.equal(answer.headers.get('cache-control'), 'no-store');
        assert.equal(answer.headers.get('x-content-type-options'), 'nosniff');
        assert.equal(answer.headers.get('referrer-policy'), 'no-referrer');
      }
      // Image files keep their own caching (revalidated by ETag), and get the other headers.
      const image = await fetch(`${plane.url}/v1/images/linux/vmlinuz`);
      await image.arrayBuffer();
      assert.equal(image.headers.get('cache-control'), 'no-cache');
      assert.equal(image.headers.get('x-content-type-options'), 'nosniff');
    });

    if (dialect === 'sqlite') {
      it('keeps the SQLite files and the data directory to their owner', async () => {
        assert.equal(statSync(dataDir).mode & 0o777, 0o700);
        const db = new URL(database.url.replace(/^sqlite:/, 'file:')).pathname;
        for (const file of [db, `${db}-wal`, `${db}-shm`]) {
          assert.ok(existsSync(file), file);
          assert.equal(statSync(file).mode & 0o777, 0o600, file);
        }
      });
    }

    it('ends the event streams of a token when it is revoked', async () => {
      const created = await call('POST', '/v1/tokens', admin, { role: 'technician' });
      assert.equal(created.status, 201);
      const response = await fetch(`${plane.url}/v1/events`, { headers: { authorization: `Bearer ${created.body?.token}` } });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('cache-control'), 'no-store');
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let received = '';
      let ended = false;
      const reading = (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          received += decoder.decode(value);
        }
        ended = true;
      })();
      await waitFor('the stream to open', () => received.includes(': connected'));
      // While valid it gets events.
      assert.equal((await call('POST', '/v1/servers/web-1/rescue', admin, { sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0 test'] })).status, 202);
      await waitFor('an event before the revocation', () => received.includes('event: server'));
      assert.equal((await call('DELETE', `/v1/tokens/${created.body?.id}`, admin)).status, 204);
      await waitFor('the stream to end', () => ended, 10_000);
      await reading;
      const before = received;
      assert.equal((await call('POST', '/v1/servers/web-1/rescue/exit', admin)).status, 202);
      assert.equal(received, before, 'no event after the revocation');
      assert.equal((await fetch(`${plane.url}/v1/events`, { headers: { authorization: `Bearer ${created.body?.token}` } })).status, 401);
    });
  });
}
