/**
 * Lifeboat behind Debian's nginx, with the configuration of docs/examples/nginx-netboot.conf as it is
 * (issue 14, boot storm): nginx sends the image bytes (X-Accel-Redirect), Lifeboat still answers the
 * scripts and the agent API, records the fetches on the timeline, and binds the boot credential to the
 * server's address that nginx forwards (--trust-proxy), not to nginx's own or to a header a client
 * made up. Clients at 127.0.0.2 (the server), 127.0.0.3 (someone else), real sockets throughout.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { freePort, startNginx, waitFor, type Nginx } from '@lifeboat/test-support';
import { parseConfig } from '../../src/config.js';
import { startControlPlane, type RunningControlPlane } from '../../src/main.js';
import { createLogger } from '../../src/http/logger.js';
import { acceptingBmc } from '../../src/drivers/power/testing.js';

const template = fileURLToPath(new URL('../../../../docs/examples/nginx-netboot.conf', import.meta.url));
const mac = '52:54:00:aa:00:01';
const serverAddress = '127.0.0.2';
const otherAddress = '127.0.0.3';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** One HTTP request from a chosen local address. */
function from(localAddress: string, url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method ?? 'GET', localAddress, headers: init.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

const redeem = (address: string, url: string, serverId: string, bootToken: string, headers: Record<string, string> = {}) =>
  from(address, `${url}/v1/agent/redeem`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ serverId, bootToken }) });


describe('Lifeboat behind nginx (docs/examples/nginx-netboot.conf)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-nginx-front-'));
  const image = join(dir, 'image');
  const kernel = randomBytes(3 * 1024 * 1024 + 17);
  let cp: RunningControlPlane;
  let nginx: Nginx;
  let front: string;
  let admin: string;

  before(async () => {
    mkdirSync(image);
    writeFileSync(join(image, 'vmlinuz'), kernel);
    writeFileSync(join(image, 'initrd'), randomBytes(64 * 1024));
    writeFileSync(join(image, 'rootfs.squashfs'), randomBytes(1024));
    const flags = ['--data', join(dir, 'data'), '--listen', '127.0.0.1:0', '--boot-listen', '127.0.0.1:0', '--console-listen', 'off', '--web', join(dir, 'no-web'), '--image', image];
    const port = await freePort();
    front = `http://127.0.0.1:${port}`;
    flags.push('--boot-url', front, '--trust-proxy', '127.0.0.1', '--image-accel-redirect', '/lifeboat-files');
    cp = await startControlPlane(parseConfig(flags, {}, dir), { logger: createLogger('silent'), notice: () => undefined, powerDrivers: acceptingBmc });
    nginx = await startNginx(template, { LISTEN: `127.0.0.1:${port}`, LIFEBOAT: cp.bootListenUrl!.replace(/^http:\/\//, '') }, `127.0.0.1:${port}`);
    admin = readFileSync(join(dir, 'data', 'admin.token'), 'utf8').trim();
  });
  after(async () => {
    await nginx?.stop();
    await cp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${cp.url}${path}`, { method, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: response.status, body: (await response.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  it('serves the rescue through nginx: script, kernel by sendfile with Range, redeem bound to the server behind it', async () => {
    assert.equal((await api('POST', '/v1/tenants', { name: 'acme' })).status, 201);
    assert.equal((await api('POST', '/v1/servers', { name: 'web-1', tenant: 'acme', macs: [mac], bmc: { url: 'ipmi://127.0.0.1:623' } })).status, 201);
    assert.equal((await api('POST', '/v1/servers/web-1/rescue', {})).status, 202);

    // The server asks nginx for its script; a client header naming another address changes nothing.
    const script = await waitFor('the rescue script through nginx', async () => {
      const answer = await from(serverAddress, `${front}/v1/boot/${mac}.ipxe`, { headers: { 'x-forwarded-for': otherAddress } });
      assert.equal(answer.status, 200);
      const text = answer.body.toString();
      return text.includes('lifeboat.token=') ? text : undefined;
    });
    const serverId = /lifeboat\.server=(\S+)/.exec(script)![1]!;
    const bootToken = /lifeboat\.token=(\S+)/.exec(script)![1]!;
    const kernelUrl = /kernel --name vmlinuz (\S+)/.exec(script)![1]!;
    assert.ok(kernelUrl.startsWith(`${front}/v1/images/`), kernelUrl);

    // The kernel: nginx's bytes, whole and in a range; the header that told nginx never reaches the server.
    const whole = await from(serverAddress, kernelUrl);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers['x-accel-redirect'], undefined);
    assert.equal(whole.body.length, kernel.length);
    assert.equal(createHash('sha256').update(whole.body).digest('hex'), createHash('sha256').update(kernel).digest('hex'));
    const part = await from(serverAddress, kernelUrl, { headers: { range: 'bytes=1000-1999' } });
    assert.equal(part.status, 206);
    assert.deepEqual(part.body, kernel.subarray(1000, 2000));

    // The internal location is not reachable from outside.
    assert.equal((await from(serverAddress, `${front}/lifeboat-files${image}/vmlinuz`)).status, 404);
    assert.equal((await from(serverAddress, `${front}/lifeboat-files/etc/passwd`)).status, 404);

    // Someone else behind the same nginx: refused and shown; the server itself: accepted.
    assert.equal((await redeem(otherAddress, front, serverId, bootToken)).status, 401);
    assert.equal((await redeem(otherAddress, front, serverId, bootToken, { 'x-forwarded-for': serverAddress })).status, 401, 'nginx overwrites the header');
    const alerts = (await api('GET', '/v1/servers/web-1/rescue')).body.alerts as { kind: string; address: string }[];
    assert.ok(alerts.some((a) => a.kind === 'redeem_other_address' && a.address === otherAddress), JSON.stringify(alerts));
    assert.ok(!alerts.some((a) => a.address === '127.0.0.1'), 'nginx itself is never the client');
    const redeemed = await redeem(serverAddress, front, serverId, bootToken);
    assert.equal(redeemed.status, 200, redeemed.body.toString());

    // The timeline: the script and the kernel fetch, by the server's address.
    const tasks = (await api('GET', '/v1/servers/web-1/tasks')).body.tasks as { steps: { name: string; state: string; detail?: string | null }[] }[];
    const steps = Object.fromEntries((tasks[0]?.steps ?? []).map((s) => [s.name, s]));
    assert.equal(steps.ipxe_script_served?.state, 'completed');
    assert.equal(steps.kernel_fetched?.state, 'completed', JSON.stringify(steps));
    assert.match(String(steps.kernel_fetched?.detail), new RegExp(`${kernel.length} bytes, handed to the front web server`));
  });

  it('a client that reaches Lifeboat directly gets no bytes and no trust in its header', async () => {
    const direct = await from(otherAddress, `${cp.bootListenUrl}/v1/images/linux/vmlinuz`, { headers: { 'x-forwarded-for': serverAddress } });
    assert.equal(direct.status, 200);
    assert.equal(direct.body.length, 0, 'the bytes are nginx\'s to send');
    assert.match(String(direct.headers['x-accel-redirect']), /^\/lifeboat-files\/.+\/vmlinuz$/);
    const missing = await from(otherAddress, `${cp.bootListenUrl}/v1/images/nope/vmlinuz`);
    assert.equal(missing.status, 404);
  });

  it('refuses a prefix or a proxy list it cannot use, naming the flag', () => {
    assert.throws(() => parseConfig(['--image-accel-redirect', 'files'], {}), /--image-accel-redirect/);
    assert.throws(() => parseConfig(['--image-accel-redirect', '/files/'], {}), /--image-accel-redirect/);
    assert.throws(() => parseConfig(['--trust-proxy', '10.0.0.1,nginx'], {}), /--trust-proxy: .*nginx/);
    assert.throws(() => parseConfig(['--trust-proxy', '10.0.0.0/33'], {}), /--trust-proxy/);
    assert.deepEqual(parseConfig(['--trust-proxy', '10.0.0.0/8, ::1'], {}).trustProxy, ['10.0.0.0/8', '::1']);
    assert.deepEqual(parseConfig([], {}).trustProxy, []);
  });
});
