/**
 * The console gateway end to end with real parts: the control plane (`startControlPlane`), the real
 * OpenSSH client with keys made by ssh-keygen, a `ws` WebSocket client, the ssh2 client library for 50
 * viewers, and a TCP serial port on loopback as the console (the boundary a serial concentrator gives).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import WebSocket from 'ws';
import { waitFor } from '@lifeboat/test-support';
import { parseConfig, startControlPlane, type RunningControlPlane } from '../../src/index.js';

/** A serial port exported on TCP: what the console prints is written to the accepted socket. */
class SerialPeer {
  readonly server: NetServer;
  socket: Socket | undefined;
  received = Buffer.alloc(0);
  connections = 0;

  constructor() {
    this.server = createServer((socket) => {
      this.connections++;
      this.socket = socket;
      socket.on('data', (d: Buffer) => {
        this.received = Buffer.concat([this.received, d]);
      });
      socket.on('error', () => undefined);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return (this.server.address() as { port: number }).port;
  }

  async print(text: string | Buffer): Promise<void> {
    const socket = await waitFor('the console connection', () => this.socket);
    socket.write(text);
  }
}

/** A running `ssh` process with what it printed. */
interface SshViewer {
  readonly child: ChildProcessWithoutNullStreams;
  stdout: string;
  stderr: string;
  readonly exited: Promise<number | null>;
}

describe('SSH console gateway', { timeout: 180_000 }, () => {
  let dir: string;
  let cp: RunningControlPlane;
  let admin: string;
  let peer: SerialPeer;
  let gatewayPort: number;
  let knownHosts: string;
  const keys: Record<'acme' | 'globex' | 'stranger', string> = { acme: '', globex: '', stranger: '' };
  const tokens: Record<'acme' | 'globex', string> = { acme: '', globex: '' };
  const viewers: SshViewer[] = [];

  async function call(method: string, path: string, token: string, body?: unknown) {
    const response = await fetch(`${cp.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, any>) : undefined };
  }

  function ssh(key: string, user: string, args: string[] = []): SshViewer {
    const child = spawn('ssh', [
      '-F', '/dev/null', '-p', String(gatewayPort), '-i', key,
      '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', `UserKnownHostsFile=${knownHosts}`,
      '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-e', 'none',
      `${user}@127.0.0.1`, ...args,
    ]);
    const viewer: SshViewer = {
      child,
      stdout: '',
      stderr: '',
      exited: new Promise((resolve) => child.once('close', (code) => resolve(code))),
    };
    child.stdout.on('data', (d: Buffer) => (viewer.stdout += d.toString('latin1')));
    child.stderr.on('data', (d: Buffer) => (viewer.stderr += d.toString('latin1')));
    viewers.push(viewer);
    return viewer;
  }

  const attached = (viewer: SshViewer) => waitFor('the console banner', () => viewer.stderr.includes('~. at the start of a line detaches'), 20_000, 50);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-console-'));
    peer = new SerialPeer();
    const consolePort = await peer.listen();
    // In this test's process: the test reads the store and the gateway's host key directly.
    const dataDir = join(dir, 'data');
    cp = await startControlPlane(parseConfig(['--data', dataDir, '--listen', '127.0.0.1:0', '--console-listen', '127.0.0.1:0', '--log-level', process.env.GW_LOG ?? 'warn'], {}, dataDir));
    admin = readFileSync(join(dir, 'data', 'admin.token'), 'utf8').trim();
    for (const name of ['acme', 'globex'] as const) {
      assert.equal((await call('POST', '/v1/tenants', admin, { name })).status, 201);
      tokens[name] = (await call('POST', '/v1/tokens', admin, { role: 'customer', tenant: name })).body?.token;
    }
    const acme = await cp.store.tenants.byName('acme');
    await cp.store.servers.add({
      name: 'web-1',
      tenantId: acme.id,
      macs: ['52:54:00:00:12:01'],
      bmc: { driver: 'ipmi', url: 'ipmi://127.0.0.1:1', user: 'admin', password: 'unused' },
      sshEndpoint: null,
      profiles: ['linux'],
      console: `tcp://127.0.0.1:${consolePort}`,
    });
    for (const name of Object.keys(keys) as (keyof typeof keys)[]) {
      keys[name] = join(dir, `id_${name}`);
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@test`, '-f', keys[name]]);
    }
    for (const name of ['acme', 'globex'] as const) {
      const added = await call('POST', '/v1/keys', tokens[name], { name: 'laptop', publicKey: readFileSync(`${keys[name]}.pub`, 'utf8') });
      assert.equal(added.status, 201, JSON.stringify(added.body));
    }
    const info = await call('GET', '/v1/console', tokens.acme);
    gatewayPort = Number(String(info.body?.listen).split(':').pop());
    knownHosts = join(dir, 'known_hosts');
    writeFileSync(knownHosts, `${info.body?.knownHostsLine}\n`);
  });

  after(async () => {
    for (const viewer of viewers) viewer.child.kill('SIGKILL');
    await cp?.close();
    peer?.socket?.destroy();
    await new Promise((r) => peer?.server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes its host key: a known_hosts line and the SHA256 fingerprint ssh-keygen prints for it', async () => {
    const info = (await call('GET', '/v1/console', tokens.acme)).body ?? {};
    assert.equal(info.listen, `127.0.0.1:${gatewayPort}`);
    assert.equal(info.sshCommandExample, `ssh -p ${gatewayPort} SERVER@127.0.0.1`);
    assert.equal(info.hostKeyFingerprint, cp.consoleGateway?.hostKeyFingerprint);
    const printed = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', knownHosts], { encoding: 'utf8' });
    assert.ok(printed.includes(String(info.hostKeyFingerprint)), printed);
    // Every OpenSSH client below checks the gateway against this line alone (StrictHostKeyChecking=yes).
  });

  it('attaches read-only with the scrollback, and a second viewer sees the same live bytes', async () => {
    const first = ssh(keys.acme, 'web-1');
    await attached(first);
    await peer.print('SeaBIOS (version 1.16)\r\niPXE initialising devices...\r\n');
    await waitFor('the first viewer to see the boot', () => first.stdout.includes('iPXE initialising devices'), 20_000, 50);
    const second = ssh(keys.acme, 'web-1');
    await attached(second);
    await waitFor('the scrollback', () => second.stdout.includes('SeaBIOS (version 1.16)\r\niPXE initialising devices...'), 20_000, 50);
    await peer.print('Linux version 6.1.0\r\n');
    for (const viewer of [first, second]) await waitFor('the live line', () => viewer.stdout.endsWith('Linux version 6.1.0\r\n'), 20_000, 50);
    assert.match(first.stderr, /read-only/);
    // A read-only viewer's keystrokes never reach the console.
    first.child.stdin.write('reboot\r');
    second.child.stdin.write('halt\r');
    await peer.print('login: ');
    await waitFor('the prompt', () => first.stdout.endsWith('login: '), 20_000, 50);
    assert.equal(peer.received.length, 0);
    first.child.stdin.write('\r~.');
    assert.equal(await first.exited, 0);
    assert.match(first.stderr, /detached \(~\.\)/);
    second.child.kill('SIGTERM');
    await second.exited;
  });

  it('gives the writer seat to one viewer with -- --write, refuses a second naming the holder, frees it on ~.', async () => {
    const writer = ssh(keys.acme, 'web-1', ['--', '--write']);
    await attached(writer);
    assert.match(writer.stderr, /writer/);
    writer.child.stdin.write('root\r');
    await waitFor('the keystrokes at the console', () => peer.received.toString().includes('root\r'), 20_000, 50);
    const refused = ssh(keys.acme, 'web-1', ['--', '--write']);
    assert.equal(await refused.exited, 1);
    assert.match(refused.stderr, /being written by key laptop of acme over SSH/);
    // `~` inside a line and `~~` at a line start are typed, `~.` detaches and is not.
    writer.child.stdin.write('echo ~.x\r~~\r~.');
    assert.equal(await writer.exited, 0);
    assert.ok(peer.received.toString().endsWith('echo ~.x\r~\r'), JSON.stringify(peer.received.toString()));
    const next = ssh(keys.acme, 'web-1', ['--', '--write']);
    await attached(next);
    assert.match(next.stderr, /writer/);
    next.child.stdin.end();
    next.child.kill('SIGTERM');
    await next.exited;
  });

  it('refuses another tenant’s key, an unregistered key and an unknown server the same way', async () => {
    const attempts = [ssh(keys.globex, 'web-1'), ssh(keys.stranger, 'web-1'), ssh(keys.acme, 'no-such-server'), ssh(keys.globex, 'no-such-server')];
    const codes = await Promise.all(attempts.map((a) => a.exited));
    assert.deepEqual(codes, [255, 255, 255, 255], attempts.map((a) => a.stderr).join(' | '));
    const messages = new Set(attempts.map((a) => a.stderr.replace(/no-such-server|web-1/g, 'NAME')));
    assert.equal(messages.size, 1, [...messages].join(' | '));
    assert.match([...messages][0] ?? '', /Permission denied \(publickey\)/);
    // No password, no other command.
    const other = ssh(keys.acme, 'web-1', ['cat', '/etc/passwd']);
    assert.equal(await other.exited, 2);
    assert.match(other.stderr, /the only command is --write/);
  });

  it('audits every attach and detach with the key, its fingerprint and the mode', async () => {
    const events = (await call('GET', '/v1/audit?server=web-1&limit=100', admin)).body?.events as { action: string; actor: string; detail: Record<string, unknown> }[];
    const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${keys.acme}.pub`], { encoding: 'utf8' }).split(' ')[1];
    const attaches = events.filter((e) => e.action === 'console.attach');
    const detaches = events.filter((e) => e.action === 'console.detach');
    assert.equal(attaches.length, 4);
    assert.equal(detaches.length, 4);
    assert.deepEqual(attaches.map((e) => e.detail.mode).sort(), ['read', 'read', 'write', 'write']);
    for (const e of [...attaches, ...detaches]) {
      assert.equal(e.detail.fingerprint, fingerprint);
      assert.equal(e.detail.key, 'laptop');
      assert.equal(e.detail.via, 'ssh');
      assert.match(e.actor, /^ssh-key:/);
    }
    assert.ok(detaches.some((e) => e.detail.reason === 'detached (~.)'));
    assert.equal(events.filter((e) => e.action === 'console.refused').length, 1);
  });

  it('serves the console on a WebSocket with the API token: scrollback first, writer frames, 404 for another tenant', async () => {
    const url = `${cp.url.replace('http', 'ws')}/v1/servers/web-1/console/ws?write=1`;
    const foreign = new WebSocket(url, { headers: { authorization: `Bearer ${tokens.globex}` } });
    const status = await new Promise<number>((resolve) => foreign.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    assert.equal(status, 404);
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${tokens.acme}` } });
    let binary = Buffer.alloc(0);
    let text = '';
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) binary = Buffer.concat([binary, data]);
      else text += data.toString();
    });
    await waitFor('the scrollback on the WebSocket', () => binary.toString().includes('SeaBIOS (version 1.16)'), 20_000, 50);
    assert.match(text, /writer/);
    socket.send(Buffer.from('ws-typed\r'));
    await waitFor('the WebSocket keystrokes', () => peer.received.toString().endsWith('ws-typed\r'), 20_000, 50);
    await peer.print('after-ws\r\n');
    await waitFor('live bytes on the WebSocket', () => binary.toString().endsWith('after-ws\r\n'), 20_000, 50);
    const closed = new Promise((r) => socket.once('close', r));
    socket.send(Buffer.from('\r~.'));
    await closed;
    assert.ok(peer.received.toString().endsWith('ws-typed\r\r'), 'the escape never reaches the console');
    const events = await waitFor('the WebSocket detach in the audit log', async () => {
      const list = (await call('GET', '/v1/audit?server=web-1&limit=100', admin)).body?.events as { action: string; detail: Record<string, unknown> }[];
      return list.some((e) => e.action === 'console.detach' && e.detail.via === 'websocket') ? list : undefined;
    });
    assert.ok(events.some((e) => e.action === 'console.attach' && e.detail.via === 'websocket' && e.detail.mode === 'write' && e.detail.role === 'customer'));
  });

  it('holds 50 viewers on one console, each receiving every byte in order', async () => {
    const info = (await call('GET', '/v1/console', tokens.acme)).body ?? {};
    const hostKey = String(info.knownHostsLine).split(' ').slice(1).join(' ');
    const privateKey = readFileSync(keys.acme);
    const marker = Buffer.from(`\r\nBEGIN-${randomBytes(6).toString('hex')}\r\n`);
    const payload = Buffer.concat([marker, randomBytes(256 * 1024)]);
    const received: Buffer[] = [];
    const clients: ssh2.Client[] = [];
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        new Promise<void>((resolve, reject) => {
          const client = new ssh2.Client();
          clients.push(client);
          received[i] = Buffer.alloc(0);
          client
            .on('ready', () => {
              client.shell(false, (error, stream) => {
                if (error) return reject(error);
                stream.on('data', (d: Buffer) => (received[i] = Buffer.concat([received[i] ?? Buffer.alloc(0), d])));
                stream.stderr.once('data', () => resolve());
              });
            })
            .on('error', reject)
            .connect({
              host: '127.0.0.1',
              port: gatewayPort,
              username: 'web-1',
              privateKey,
              hostVerifier: (key: Buffer) => `ssh-ed25519 ${key.toString('base64')}` === hostKey,
            });
        }),
      ),
    );
    try {
      await peer.print(payload);
      for (let i = 0; i < 50; i++) {
        const start = await waitFor(`viewer ${i} to see the marker`, () => {
          const at = (received[i] ?? Buffer.alloc(0)).indexOf(marker);
          return at >= 0 ? at : undefined;
        }, 60_000, 50);
        await waitFor(`viewer ${i} to receive the payload`, () => (received[i]?.length ?? 0) >= start + payload.length, 60_000, 50);
        assert.ok(received[i]?.subarray(start).equals(payload), `viewer ${i} received the bytes in order`);
      }
    } finally {
      for (const client of clients) client.end();
    }
  });
});
