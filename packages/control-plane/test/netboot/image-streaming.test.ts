/**
 * A boot storm must not load image files into memory per request: several servers fetch a 256 MiB
 * file at once over real HTTP, and the control plane's resident memory stays far below one copy.
 */
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { directoryImageRegistry } from '../../src/netboot/image-registry.js';
import { netbootRoutes } from '../../src/netboot/routes.js';

const size = 256 * 1024 * 1024;

function fetchAll(url: string, headers: Record<string, string> = {}): Promise<{ status: number; bytes: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, headers: res.headers }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

describe('image files under a boot storm', () => {
  let app: FastifyInstance;
  let root: string;
  let base: string;
  const steps: string[] = [];
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'lifeboat-storm-'));
    mkdirSync(join(root, 'img'));
    writeFileSync(join(root, 'img', 'rootfs.squashfs'), '');
    truncateSync(join(root, 'img', 'rootfs.squashfs'), size); // sparse: costs no disk
    app = Fastify();
    await app.register(netbootRoutes, {
      source: { bootTargetFor: async () => ({ kind: 'disk' }), recordBootStep: async (serverId, step) => void steps.push(`${step}:${serverId}`) },
      images: directoryImageRegistry(root),
      bootUrl: 'http://127.0.0.1',
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await app?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('streams four 256 MiB downloads at once without holding the file in memory', async () => {
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    try {
      const results = await Promise.all([1, 2, 3, 4].map((n) => fetchAll(`${base}/v1/images/img/rootfs.squashfs?server=srv-${n}`)));
      for (const result of results) {
        assert.equal(result.status, 200);
        assert.equal(result.bytes, size);
        assert.equal(result.headers['content-length'], String(size));
      }
    } finally {
      clearInterval(sampler);
    }
    const grownMiB = (peak - before) / 1024 / 1024;
    assert.ok(grownMiB < 128, `resident memory grew by ${grownMiB.toFixed(0)} MiB while serving 1 GiB`);
    assert.deepEqual(steps.sort(), ['rootfs_fetched:srv-1', 'rootfs_fetched:srv-2', 'rootfs_fetched:srv-3', 'rootfs_fetched:srv-4']);
    console.log(`# 4 x 256 MiB served; resident memory grew by ${grownMiB.toFixed(1)} MiB`);
  });

  it('resumes an interrupted download with a Range request over HTTP', async () => {
    const tail = await fetchAll(`${base}/v1/images/img/rootfs.squashfs`, { range: `bytes=${size - 4096}-` });
    assert.equal(tail.status, 206);
    assert.equal(tail.bytes, 4096);
    assert.equal(tail.headers['content-range'], `bytes ${size - 4096}-${size - 1}/${size}`);
  });
});
