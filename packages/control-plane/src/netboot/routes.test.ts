import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { directoryImageRegistry } from './image-registry.js';
import type { BootTarget, NetbootSource } from './netboot-source.js';
import { netbootRoutes } from './routes.js';

const rescueMac = '52:54:00:12:34:56';
const diskMac = '52:54:00:ab:cd:ef';

/** The seam: a NetbootSource that knows one server in rescue and records every step. */
class TestSource implements NetbootSource {
  readonly steps: Array<{ serverId: string; step: string; address: string; detail: string | undefined }> = [];
  readonly askedFrom: string[] = [];
  tokens = 0;
  async bootTargetFor(mac: string, address: string): Promise<BootTarget> {
    this.askedFrom.push(address);
    if (mac !== rescueMac) return { kind: 'disk' };
    this.tokens++;
    return { kind: 'rescue', serverId: 'srv-1', sessionId: 'ses-1', imageId: 'img-abc', bootToken: `bt_${this.tokens}_Zx-9` };
  }
  async recordBootStep(serverId: string, step: string, address: string, detail?: string): Promise<void> {
    this.steps.push({ serverId, step, address, detail });
  }
}

describe('netboot routes', () => {
  let app: FastifyInstance;
  let root: string;
  let source: TestSource;
  const kernel = randomBytes(300_000);
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'lifeboat-netboot-'));
    mkdirSync(join(root, 'img-abc'));
    writeFileSync(join(root, 'img-abc', 'vmlinuz'), kernel);
    writeFileSync(join(root, 'img-abc', 'initrd'), 'initrd-bytes');
    writeFileSync(join(root, 'img-abc', 'rootfs.squashfs'), '');
    writeFileSync(join(root, 'img-abc', 'manifest.json'), '{"secret":"not served"}');
    writeFileSync(join(root, 'outside'), 'not served');
    symlinkSync(join(root, 'img-abc'), join(root, 'img-link'));
    source = new TestSource();
    app = Fastify();
    await app.register(netbootRoutes, { source, images: directoryImageRegistry(root), bootUrl: 'http://10.0.2.2:8080/', retry: { attempts: 4, delaySeconds: 2 } });
    await app.ready();
  });
  after(async () => {
    await app?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('serves boot.ipxe, which chains to the per-MAC script with a retry loop', async () => {
    const res = await app.inject('/boot.ipxe');
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    assert.ok(res.body.startsWith('#!ipxe\n'));
    assert.match(res.body, /^chain --replace --autofree http:\/\/10\.0\.2\.2:8080\/v1\/boot\/\$\{netX\/mac\}\.ipxe \|\| goto retry$/m);
    assert.match(res.body, /^iseq \$\{lifeboat-attempt\} 4 && goto give-up \|\|$/m);
    assert.match(res.body, /^sleep 2$/m);
    assert.match(res.body, /^goto fetch$/m);
    assert.match(res.body, /^sanboot --no-describe --drive 0x80 \|\|\nexit$/m);
  });

  it('answers a server being rescued with its kernel, initrd and command line, and records the step', async () => {
    const res = await app.inject(`/v1/boot/${rescueMac.toUpperCase()}.ipxe`);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
    const kernelLine = res.body.split('\n').find((line) => line.startsWith('kernel '));
    assert.equal(
      kernelLine,
      'kernel --name vmlinuz http://10.0.2.2:8080/v1/images/img-abc/vmlinuz?server=srv-1 initrd=initrd console=ttyS0,115200 ' +
        'lifeboat.url=http://10.0.2.2:8080 lifeboat.server=srv-1 lifeboat.token=bt_1_Zx-9 ' +
        'lifeboat.rootfs=http://10.0.2.2:8080/v1/images/img-abc/rootfs.squashfs?server=srv-1 || goto retry',
    );
    assert.match(res.body, /^initrd --name initrd http:\/\/10\.0\.2\.2:8080\/v1\/images\/img-abc\/initrd\?server=srv-1 \|\| goto retry$/m);
    assert.match(res.body, /^boot \|\| goto retry$/m);
    assert.match(res.body, /^goto fetch$/m);
    assert.deepEqual(source.steps.at(-1), { serverId: 'srv-1', step: 'ipxe_script_served', address: '127.0.0.1', detail: 'rescue image img-abc' });
    assert.equal(source.askedFrom.at(-1), '127.0.0.1', 'the source is told who asked');
  });

  it('tells other and unknown MACs (any notation) to boot the local disk, and records no step for them', async () => {
    const recorded = source.steps.length;
    for (const mac of [diskMac, '52-54-00-99-99-99']) {
      const res = await app.inject(`/v1/boot/${mac}.ipxe`);
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /^sanboot --no-describe --drive 0x80 \|\|\nexit$/m);
      assert.doesNotMatch(res.body, /kernel|lifeboat\.token/);
    }
    assert.equal(source.steps.length, recorded, 'no timeline is touched by a local-disk answer');
    assert.equal((await app.inject('/v1/boot/not-a-mac.ipxe')).statusCode, 400);
    assert.equal((await app.inject(`/v1/boot/${rescueMac}.txt`)).statusCode, 400);
  });

  it('streams a whole image file with Content-Length and ETag, and records the fetch', async () => {
    const res = await app.inject('/v1/images/img-abc/vmlinuz?server=srv-1');
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-length'], String(kernel.length));
    assert.equal(res.headers['accept-ranges'], 'bytes');
    assert.match(String(res.headers.etag), /^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$/);
    assert.ok(res.rawPayload.equals(kernel));
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(source.steps.some((s) => s.step === 'kernel_fetched' && s.serverId === 'srv-1' && s.detail?.startsWith(`${kernel.length} bytes`)));
    const initrd = await app.inject('/v1/images/img-abc/initrd?server=srv-1');
    assert.equal(initrd.body, 'initrd-bytes');
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(source.steps.some((s) => s.step === 'initrd_fetched' && s.serverId === 'srv-1'));
    const empty = await app.inject('/v1/images/img-abc/rootfs.squashfs');
    assert.equal(empty.statusCode, 200);
    assert.equal(empty.headers['content-length'], '0');
  });

  it('answers Range requests with 206, suffix ranges, and 416 beyond the end', async () => {
    const part = await app.inject({ url: '/v1/images/img-abc/vmlinuz', headers: { range: 'bytes=100-199' } });
    assert.equal(part.statusCode, 206);
    assert.equal(part.headers['content-range'], `bytes 100-199/${kernel.length}`);
    assert.equal(part.headers['content-length'], '100');
    assert.ok(part.rawPayload.equals(kernel.subarray(100, 200)));
    const open = await app.inject({ url: '/v1/images/img-abc/vmlinuz', headers: { range: `bytes=${kernel.length - 10}-` } });
    assert.ok(open.rawPayload.equals(kernel.subarray(kernel.length - 10)));
    const suffix = await app.inject({ url: '/v1/images/img-abc/vmlinuz', headers: { range: 'bytes=-5' } });
    assert.equal(suffix.statusCode, 206);
    assert.ok(suffix.rawPayload.equals(kernel.subarray(kernel.length - 5)));
    const beyond = await app.inject({ url: '/v1/images/img-abc/vmlinuz', headers: { range: `bytes=${kernel.length}-` } });
    assert.equal(beyond.statusCode, 416);
    assert.equal(beyond.headers['content-range'], `bytes */${kernel.length}`);
    const several = await app.inject({ url: '/v1/images/img-abc/initrd', headers: { range: 'bytes=0-1,4-5' } });
    assert.equal(several.statusCode, 200, 'several ranges: the whole file');
    assert.equal(several.body, 'initrd-bytes');
    const stale = await app.inject({ url: '/v1/images/img-abc/initrd', headers: { range: 'bytes=0-1', 'if-range': '"stale"' } });
    assert.equal(stale.statusCode, 200, 'If-Range with another ETag: the whole file');
  });

  it('answers If-None-Match with 304 and HEAD with headers only', async () => {
    const first = await app.inject('/v1/images/img-abc/initrd');
    const etag = String(first.headers.etag);
    const again = await app.inject({ url: '/v1/images/img-abc/initrd', headers: { 'if-none-match': etag } });
    assert.equal(again.statusCode, 304);
    assert.equal(again.body, '');
    const head = await app.inject({ method: 'HEAD', url: '/v1/images/img-abc/vmlinuz' });
    assert.equal(head.statusCode, 200);
    assert.equal(head.headers['content-length'], String(kernel.length));
    assert.equal(head.body, '');
  });

  it('serves nothing outside an image: unknown files, ids and traversal attempts get 404 or 400', async () => {
    const cases: Array<[string, number]> = [
      ['/v1/images/img-abc/manifest.json', 400],
      ['/v1/images/img-none/vmlinuz', 404],
      ['/v1/images/..%2Foutside/vmlinuz', 400],
      ['/v1/images/img-abc/..%2F..%2Foutside', 400],
      ['/v1/images/%2E%2E/outside', 404],
      ['/v1/images/img-abc/../outside', 404],
      ['/v1/images/.hidden/vmlinuz', 400],
    ];
    for (const [url, status] of cases) {
      const res = await app.inject(url);
      assert.equal(res.statusCode, status, url);
      assert.doesNotMatch(res.body, /not served/);
    }
    const missing = await app.inject('/v1/images/img-none/vmlinuz');
    assert.equal(JSON.parse(missing.body).code, 'IMAGE_NOT_FOUND');
  });
});
