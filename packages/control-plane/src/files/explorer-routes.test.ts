import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { waitFor } from '@lifeboat/test-support';
import { createLogger } from '../http/logger.js';
import { startTestApp, type TestApp } from '../http/testing.js';
import { StoreNetbootSource } from '../rescue/netboot-source.js';
import { Store } from '../store/store.js';

/**
 * The explorer's routes against a real control plane on a socket; the rescue system's agent is played
 * by the test through the agent API (long poll, results, the upload), as strict as the real one.
 */
describe('explorer routes (in-process, agent played through the agent API)', { timeout: 300_000 }, () => {
  let store: Store;
  let app: FastifyInstance;
  let url: string;
  let customer: string;
  let other: string;
  let agentToken: string;
  let testApp: TestApp;

  const api = async (path: string, token = customer) => {
    const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const body = Buffer.from(await response.arrayBuffer());
    return { status: response.status, headers: response.headers, body, json: () => JSON.parse(body.toString()) as Record<string, any> };
  };
  const agent = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}/v1/agent${path}`, {
      method,
      headers: { authorization: `Bearer ${agentToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, any>) : undefined };
  };
  /** The next piece of work the agent gets. */
  const nextWork = async () => {
    for (;;) {
      const { body } = await agent('GET', '/work?waitSeconds=5');
      const job = body?.jobs?.[0];
      if (job) return job as { id: string; kind: string; params: Record<string, any> };
    }
  };
  /** Streams `body` as the agent's upload of work `id` (curl -T - does the same: chunked). */
  const upload = (id: string, body: Readable, headers: Record<string, string>) =>
    new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${url}/v1/agent/work/${id}/upload`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${agentToken}`, 'content-type': 'application/octet-stream', ...headers },
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      body.pipe(req);
    });

  before(async () => {
    testApp = await startTestApp({ logger: createLogger('warn'), app: { explorerTiming: { answerMs: 3_000, pollMs: 20 } } });
    ({ store, app } = testApp);
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    const admin = testApp.admin;
    const acme = await store.tenants.add('acme', null);
    const globex = await store.tenants.add('globex', null);
    customer = (await store.tokens.create({ name: 'c', role: 'customer', tenantId: acme.id })).token;
    other = (await store.tokens.create({ name: 'o', role: 'customer', tenantId: globex.id })).token;
    const added = await fetch(`${url}/v1/servers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'web-1', tenant: 'acme', macs: ['52:54:00:12:34:56'], bmc: { url: 'ipmi://127.0.0.1:6231', user: 'admin', password: 'pw' } }),
    });
    assert.equal(added.status, 201);
    // Before rescue: the explorer is not there.
    assert.equal((await api('/v1/servers/web-1/files/sda1?path=/')).json().code, 'INVALID_STATE');
    const entered = await fetch(`${url}/v1/servers/web-1/rescue`, { method: 'POST', headers: { authorization: `Bearer ${customer}`, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(entered.status, 202);
    // What the enter job and the netboot do (no worker runs here), then the agent redeems and is ready.
    const server = (await store.servers.byName('web-1'))!;
    const session = (await store.sessions.openFor(server.id))!;
    await store.sessions.setNetboot(session.id, 'rescue');
    await store.sessions.transition(session.id, 'boot_started');
    const target = await new StoreNetbootSource(store).bootTargetFor('52:54:00:12:34:56', '127.0.0.1');
    assert.ok(target.kind === 'rescue');
    const redeemed = await fetch(`${url}/v1/agent/redeem`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ serverId: server.id, bootToken: target.bootToken }) });
    agentToken = ((await redeemed.json()) as { agentToken: string }).agentToken;
    assert.equal((await agent('POST', '/ready')).status, 204);
  });
  after(async () => {
    await testApp?.close();
  });

  it('lists a directory through the agent (device URL-encoded)', async () => {
    const answer = api('/v1/servers/web-1/files/vg0%2Froot?path=/var/log');
    const work = await nextWork();
    assert.deepEqual([work.kind, work.params], ['files_list', { device: 'vg0/root', path: '/var/log' }]);
    const entries = [{ name: 'syslog', type: 'file', size: 12, mode: '0640', mtime: '2026-11-30T00:00:00.000Z', target: null }];
    assert.equal((await agent('POST', `/work/${work.id}/result`, { state: 'completed', result: { path: '/var/log', entries, truncated: false } })).status, 204);
    const listing = await answer;
    assert.equal(listing.status, 200);
    assert.deepEqual(listing.json(), { server: 'web-1', device: 'vg0/root', path: '/var/log', entries, truncated: false });
  });

  it('answers the agent\'s error codes: PATH_INVALID, PATH_NOT_FOUND, DEVICE_BUSY', async () => {
    for (const [code, status] of [['PATH_INVALID', 400], ['PATH_NOT_FOUND', 404], ['DEVICE_BUSY', 409]] as const) {
      const answer = api('/v1/servers/web-1/files/sda1?path=/etc/x');
      const work = await nextWork();
      await agent('POST', `/work/${work.id}/result`, { state: 'failed', message: `${code} said the agent`, result: { code } });
      const got = await answer;
      assert.deepEqual([got.status, got.json().code, got.json().message], [status, code, `${code} said the agent`]);
    }
  });

  it('refuses bad input before the agent: relative path, bad device, length over 1 MiB', async () => {
    assert.equal((await api('/v1/servers/web-1/files/sda1?path=etc')).status, 400);
    assert.equal((await api('/v1/servers/web-1/files/sd%20a?path=/')).status, 400);
    assert.equal((await api('/v1/servers/web-1/files/sda1/content?path=/x&length=2000000')).status, 400);
  });

  it('hides another tenant\'s server like a missing one', async () => {
    const got = await api('/v1/servers/web-1/files/sda1?path=/', other);
    assert.deepEqual([got.status, got.json().code], [404, 'SERVER_NOT_FOUND']);
  });

  it('returns a range as bytes with the file size in a header', async () => {
    const answer = api('/v1/servers/web-1/files/sda1/content?path=/etc/fstab&offset=4&length=5');
    const work = await nextWork();
    assert.deepEqual(work.params, { device: 'sda1', path: '/etc/fstab', offset: 4, length: 5 });
    await agent('POST', `/work/${work.id}/result`, { state: 'completed', result: { path: '/etc/fstab', size: 100, offset: 4, data: Buffer.from([0, 1, 2, 255, 10]).toString('base64') } });
    const got = await answer;
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'application/octet-stream');
    assert.equal(got.headers.get('x-lifeboat-file-size'), '100');
    assert.deepEqual([...got.body], [0, 1, 2, 255, 10]);
  });

  it('returns the journal as text', async () => {
    const answer = api('/v1/servers/web-1/journal?device=sda1&priority=err');
    const work = await nextWork();
    assert.deepEqual(work.params, { device: 'sda1', lines: 200, boot: 0, priority: 'err' });
    await agent('POST', `/work/${work.id}/result`, { state: 'completed', result: { text: 'Nov 30 kernel: oops\n' } });
    const got = await answer;
    assert.equal(got.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(got.body.toString(), 'Nov 30 kernel: oops\n');
  });

  it('answers AGENT_UNAVAILABLE when the agent never answers or never uploads', async () => {
    const listing = await api('/v1/servers/web-1/files/sda1?path=/');
    assert.deepEqual([listing.status, listing.json().code], [503, 'AGENT_UNAVAILABLE']);
    const download = await api('/v1/servers/web-1/files/sda1/download?path=/etc');
    assert.deepEqual([download.status, download.json().code], [503, 'AGENT_UNAVAILABLE']);
    // The stale work is not delivered late, nor can anything be uploaded for it.
    const { body } = await agent('GET', '/work?waitSeconds=0');
    assert.deepEqual(body?.jobs, []);
  });

  it('relays a 1 GiB upload to the user with backpressure: the control plane\'s RSS grows by less than 64 MB', async () => {
    const size = 1024 * 1024 * 1024;
    const chunk = Buffer.alloc(256 * 1024);
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31 + 7) & 0xff;
    const sent = createHash('sha256');
    const received = createHash('sha256');
    let receivedBytes = 0;
    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    try {
      const download = new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
        const req = httpRequest(`${url}/v1/servers/web-1/files/sda1/download?path=/srv/big.img`, { headers: { authorization: `Bearer ${customer}` } }, (res) => {
          // A slow reader: backpressure must reach the agent instead of filling memory.
          res.on('data', (data: Buffer) => {
            received.update(data);
            receivedBytes += data.length;
            if (receivedBytes % (64 * 1024 * 1024) < data.length) {
              res.pause();
              setTimeout(() => res.resume(), 50);
            }
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      });
      const work = await nextWork();
      assert.deepEqual([work.kind, work.params], ['files_download', { device: 'sda1', path: '/srv/big.img' }]);
      let left = size;
      const body = new Readable({
        read() {
          if (left === 0) return void this.push(null);
          const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
          left -= piece.length;
          sent.update(piece);
          this.push(piece);
        },
      });
      const [uploaded, got] = await Promise.all([upload(work.id, body, { 'x-lifeboat-type': 'file', 'x-lifeboat-size': String(size) }), download]);
      await agent('POST', `/work/${work.id}/result`, { state: 'completed', result: { path: '/srv/big.img', type: 'file' } });
      assert.equal(uploaded, 204);
      assert.equal(got.status, 200);
      assert.equal(got.headers['content-length'], String(size));
      assert.match(String(got.headers['content-disposition']), /filename="big.img"/);
      assert.equal(receivedBytes, size);
      assert.equal(received.digest('hex'), sent.digest('hex'));
    } finally {
      clearInterval(sampler);
    }
    const growth = peak - baseline;
    console.log(`1 GiB relayed: RSS ${Math.round(baseline / 1e6)} MB before, peak growth ${Math.round(growth / 1e6)} MB`);
    assert.ok(growth < 64 * 1024 * 1024, `RSS grew by ${Math.round(growth / 1e6)} MB`);
  });

  it('a directory comes as a tar stream; an upload is accepted once per work id', async () => {
    const download = api('/v1/servers/web-1/files/sda1/download?path=/etc');
    const work = await nextWork();
    assert.equal(await upload(work.id, Readable.from([Buffer.from('tar bytes')]), { 'x-lifeboat-type': 'directory' }), 204);
    // tar and curl exited 0: the agent reports the work done, and only then does the answer end.
    await agent('POST', `/work/${work.id}/result`, { state: 'completed', result: { path: '/etc', type: 'directory' } });
    const got = await download;
    assert.equal(got.headers.get('content-type'), 'application/x-tar');
    assert.match(got.headers.get('content-disposition') ?? '', /filename="etc.tar"/);
    assert.equal(got.body.toString(), 'tar bytes');
    assert.equal(await upload(work.id, Readable.from([Buffer.from('again')]), {}), 404);
  });

  it('a tar that fails half-way cuts the answer: the user sees an error, not a short tar', async () => {
    const response = fetch(`${url}/v1/servers/web-1/files/sda1/download?path=/srv`, { headers: { authorization: `Bearer ${customer}` } });
    const work = await nextWork();
    // What `tar -c | curl -T -` sends when tar dies half-way: curl ends the chunked upload normally.
    const uploaded = upload(work.id, Readable.from([Buffer.alloc(10240, 1)]), { 'x-lifeboat-type': 'directory' });
    const started = await response;
    assert.equal(started.status, 200);
    const body = started.arrayBuffer();
    assert.equal(await uploaded, 204);
    await agent('POST', `/work/${work.id}/result`, { state: 'failed', message: 'the upload of /srv failed (status 2): tar: srv/disk.img: Read error', result: { code: 'PROGRAM_FAILED' } });
    await assert.rejects(body, /terminated/);
  });

  it('a user who disconnects mid-download aborts the agent\'s upload', { timeout: 30_000 }, async () => {
    const controller = new AbortController();
    const download = fetch(`${url}/v1/servers/web-1/files/sda1/download?path=/srv/big.img`, { headers: { authorization: `Bearer ${customer}` }, signal: controller.signal });
    const work = await nextWork();
    let pushed = 0;
    const body = new Readable({
      read() {
        pushed += 65536;
        this.push(Buffer.alloc(65536));
      },
    });
    const uploaded = upload(work.id, body, { 'x-lifeboat-type': 'file' });
    const response = await download;
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    // The agent's request ends (reset) instead of streaming forever into nowhere.
    await assert.rejects(uploaded);
    const at = pushed;
    await waitFor('the upload stopped', async () => body.destroyed || pushed === at, 5_000);
  });
});
