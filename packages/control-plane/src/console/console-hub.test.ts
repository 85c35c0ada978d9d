import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { LifeboatError, type Server } from '@lifeboat/core';
import { consoleDriverFactory } from './console-driver.js';
import { ConsoleHubs, type ConsoleViewer } from './console-hub.js';

/**
 * A serial port on loopback, as a concentrator exports one: counts its connections, records what was
 * typed, and lets the test print bytes or drop the line.
 */
class SerialPeer {
  readonly #server: NetServer;
  readonly sockets: Socket[] = [];
  connections = 0;
  typed = Buffer.alloc(0);
  #waiters: Array<() => void> = [];

  constructor() {
    this.#server = createServer((socket) => {
      this.connections++;
      this.sockets.push(socket);
      socket.on('data', (chunk) => {
        this.typed = Buffer.concat([this.typed, chunk]);
        this.#wake();
      });
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.splice(this.sockets.indexOf(socket), 1);
        this.#wake();
      });
      this.#wake();
    });
  }

  async listen(): Promise<number> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    return (this.#server.address() as AddressInfo).port;
  }

  /** Prints bytes on every open line. */
  print(data: string | Buffer): void {
    for (const socket of this.sockets) socket.write(data);
  }

  /** Drops every open line (a concentrator restarting). */
  hangUp(): void {
    for (const socket of [...this.sockets]) socket.destroy();
  }

  /** Resolves when `check` holds, re-checked at every connection, byte and close. */
  async until(check: () => boolean): Promise<void> {
    while (!check()) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  async close(): Promise<void> {
    this.hangUp();
    this.#server.close();
    await once(this.#server, 'close');
  }
}

/** A viewer that keeps what it saw and can wait for it. */
class RecordingViewer implements ConsoleViewer {
  seen = Buffer.alloc(0);
  closed: string | null = null;
  statuses: string[] = [];
  /** Answer of onData (false: backed up). */
  keepingUp = true;
  #waiters: Array<() => void> = [];

  onData(chunk: Buffer): boolean {
    this.seen = Buffer.concat([this.seen, chunk]);
    this.#wake();
    return this.keepingUp;
  }

  onClose(reason: string): void {
    this.closed = reason;
    this.#wake();
  }

  onStatus(status: 'reconnecting' | 'connected'): void {
    this.statuses.push(status);
    this.#wake();
  }

  async until(check: () => boolean): Promise<void> {
    while (!check()) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

function labServer(consoleUrl: string | null, id = 'srv-1'): Server {
  return {
    id,
    name: `web-${id}`,
    tenantId: 't-1',
    macs: [],
    bmc: { driver: 'redfish', url: 'redfish://127.0.0.1:1/redfish/v1/Systems/1', user: 'u', credentialsRef: null },
    sshEndpoint: null,
    console: consoleUrl,
    profiles: ['linux'],
    state: 'active',
    createdAt: new Date(),
  };
}

const noSecrets = { bmcPassword: async () => '' };

describe('console hubs over a TCP serial port', { timeout: 30_000 }, () => {
  let peer: SerialPeer;
  let server: Server;
  let hubs: ConsoleHubs;

  before(async () => {
    peer = new SerialPeer();
    server = labServer(`tcp://127.0.0.1:${await peer.listen()}`);
  });
  after(async () => {
    await peer.close();
  });
  afterEach(async () => {
    await hubs?.close();
    await peer.until(() => peer.sockets.length === 0);
    peer.connections = 0;
    peer.typed = Buffer.alloc(0);
  });

  function newHubs(options: { lingerMs?: number; viewerQueueBytes?: number; scrollbackBytes?: number } = {}): ConsoleHubs {
    hubs = new ConsoleHubs({ drivers: consoleDriverFactory(noSecrets), lingerMs: 50, backoff: { baseMs: 20, maxMs: 200 }, ...options });
    return hubs;
  }

  it('shares one connection between viewers and delivers every byte to each, in order', async () => {
    newHubs();
    const viewers = [new RecordingViewer(), new RecordingViewer(), new RecordingViewer()];
    const attachments = await Promise.all(viewers.map((v, i) => hubs.attach(server, v, { write: false, who: `viewer-${i}` })));
    assert.equal(peer.connections, 1);
    let expected = '';
    for (let i = 0; i < 500; i++) {
      const line = `line ${i} ${'x'.repeat(i % 37)}\r\n`;
      expected += line;
      peer.print(line);
    }
    for (const viewer of viewers) {
      await viewer.until(() => viewer.seen.length >= expected.length);
      assert.equal(viewer.seen.toString(), expected);
    }
    assert.deepEqual(hubs.occupancy(server).viewers.map((v) => v.who).sort(), ['viewer-0', 'viewer-1', 'viewer-2']);
    for (const attachment of attachments) attachment.detach();
  });

  it('holds 50 viewers on one console, every byte delivered to each in order', async () => {
    newHubs();
    const viewers = Array.from({ length: 50 }, () => new RecordingViewer());
    const attachments = [];
    for (const [i, viewer] of viewers.entries()) attachments.push(await hubs.attach(server, viewer, { write: i === 0, who: `viewer-${i}` }));
    assert.equal(peer.connections, 1);
    const chunks: Buffer[] = [];
    for (let i = 0; i < 2000; i++) chunks.push(Buffer.from(`${String(i).padStart(5, '0')} ${'#'.repeat(i % 61)}\r\n`));
    // Every byte value too, not only text: a console carries raw bytes.
    chunks.push(Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
    const expected = Buffer.concat(chunks);
    for (const chunk of chunks) peer.print(chunk);
    for (const viewer of viewers) {
      await viewer.until(() => viewer.seen.length >= expected.length);
      assert.ok(viewer.seen.equals(expected));
    }
    assert.equal(hubs.occupancy(server).viewers.length, 50);
    for (const attachment of attachments) attachment.detach();
  });

  it('gives the scrollback on attach, bounded, and nothing twice', async () => {
    newHubs({ scrollbackBytes: 64 });
    const first = new RecordingViewer();
    const a = await hubs.attach(server, first, { write: false, who: 'first' });
    assert.equal(a.scrollback.length, 0);
    const early = Array.from({ length: 20 }, (_, i) => `boot ${String(i).padStart(2, '0')}\n`).join('');
    peer.print(early);
    await first.until(() => first.seen.length === early.length);
    const late = new RecordingViewer();
    const b = await hubs.attach(server, late, { write: false, who: 'late' });
    assert.equal(b.scrollback.toString(), early.slice(-64));
    peer.print('after\n');
    await late.until(() => late.seen.length === 6);
    assert.equal(late.seen.toString(), 'after\n');
    a.detach();
    b.detach();
  });

  it('has one writer seat: a second writer is refused naming the holder, readers cannot type', async () => {
    newHubs();
    const alice = await hubs.attach(server, new RecordingViewer(), { write: true, who: 'alice' });
    const bob = await hubs.attach(server, new RecordingViewer(), { write: false, who: 'bob' });
    assert.equal(alice.writer, true);
    assert.equal(bob.writer, false);
    await assert.rejects(hubs.attach(server, new RecordingViewer(), { write: true, who: 'carol' }), (error: unknown) => {
      assert.ok(error instanceof LifeboatError);
      assert.equal(error.code, 'CONSOLE_BUSY');
      assert.equal(error.status, 409);
      assert.match(error.message, /alice/);
      return true;
    });
    assert.throws(() => bob.write(Buffer.from('rm -rf /\r')), (error: unknown) => error instanceof LifeboatError && error.code === 'FORBIDDEN');
    alice.write(Buffer.from('root\r'));
    await peer.until(() => peer.typed.toString() === 'root\r');
    alice.detach();
    const carol = await hubs.attach(server, new RecordingViewer(), { write: true, who: 'carol' });
    assert.equal(carol.writer, true);
    carol.write(Buffer.from('~.\r'));
    await peer.until(() => peer.typed.toString() === 'root\r~.\r');
    carol.detach();
    bob.detach();
    assert.equal(peer.connections, 1);
  });

  it('closes the connection a while after the last viewer left, and reopens on the next attach', async () => {
    newHubs({ lingerMs: 50 });
    const a = await hubs.attach(server, new RecordingViewer(), { write: false, who: 'a' });
    a.detach();
    a.detach();
    await peer.until(() => peer.sockets.length === 0);
    assert.equal(hubs.occupancy(server).connected, false);
    const b = await hubs.attach(server, new RecordingViewer(), { write: false, who: 'b' });
    assert.equal(peer.connections, 2);
    b.detach();
  });

  it('reconnects with backoff when the line drops while viewers remain', async () => {
    newHubs();
    const viewer = new RecordingViewer();
    const attachment = await hubs.attach(server, viewer, { write: false, who: 'watcher' });
    peer.print('before\n');
    await viewer.until(() => viewer.seen.toString() === 'before\n');
    peer.hangUp();
    await viewer.until(() => viewer.statuses.includes('connected'));
    assert.deepEqual(viewer.statuses, ['reconnecting', 'connected']);
    assert.equal(peer.connections, 2);
    peer.print('after\n');
    await viewer.until(() => viewer.seen.toString() === 'before\nafter\n');
    assert.equal(viewer.closed, null);
    attachment.detach();
  });

  it('holds bytes for a backed-up viewer, in order, and detaches it past its bound', async () => {
    newHubs({ viewerQueueBytes: 1000 });
    const slow = new RecordingViewer();
    const fast = new RecordingViewer();
    const slowAttachment = await hubs.attach(server, slow, { write: false, who: 'slow' });
    const fastAttachment = await hubs.attach(server, fast, { write: false, who: 'fast' });
    slow.keepingUp = false;
    peer.print('a'.repeat(10));
    await slow.until(() => slow.seen.length === 10);
    peer.print('b'.repeat(300));
    peer.print('c'.repeat(300));
    await fast.until(() => fast.seen.length === 610);
    assert.equal(slow.seen.length, 10);
    assert.equal(slowAttachment.queuedBytes, 600);
    slow.keepingUp = true;
    slowAttachment.resume();
    assert.equal(slow.seen.toString(), 'a'.repeat(10) + 'b'.repeat(300) + 'c'.repeat(300));
    assert.equal(slowAttachment.queuedBytes, 0);

    slow.keepingUp = false;
    peer.print('d');
    await slow.until(() => slow.seen.length === 611);
    for (let i = 0; i < 12; i++) peer.print('e'.repeat(100));
    await slow.until(() => slow.closed !== null);
    assert.match(slow.closed ?? '', /too slow/);
    await fast.until(() => fast.seen.length === 611 + 1200);
    assert.deepEqual(hubs.occupancy(server).viewers.map((v) => v.who), ['fast']);
    fastAttachment.detach();
  });

  it('answers CONSOLE_UNAVAILABLE when the serial port does not accept, and CONSOLE_INVALID without a console', async () => {
    newHubs();
    const closed = new SerialPeer();
    const port = await closed.listen();
    await closed.close();
    await assert.rejects(hubs.attach(labServer(`tcp://127.0.0.1:${port}`, 'srv-2'), new RecordingViewer(), { write: false, who: 'x' }), (error: unknown) => {
      assert.ok(error instanceof LifeboatError);
      assert.equal(error.code, 'CONSOLE_UNAVAILABLE');
      assert.match(error.message, /refused/);
      return true;
    });
    await assert.rejects(hubs.attach(labServer(null, 'srv-3'), new RecordingViewer(), { write: false, who: 'x' }), (error: unknown) => {
      assert.ok(error instanceof LifeboatError);
      assert.equal(error.code, 'CONSOLE_INVALID');
      return true;
    });
    assert.deepEqual(hubs.occupancy(labServer(null, 'srv-2')).viewers, []);
  });

  it('tells every viewer when the control plane stops', async () => {
    newHubs();
    const viewer = new RecordingViewer();
    await hubs.attach(server, viewer, { write: true, who: 'alice' });
    await hubs.close();
    assert.match(viewer.closed ?? '', /stopping/);
    await assert.rejects(hubs.attach(server, new RecordingViewer(), { write: false, who: 'late' }), /stopping/);
  });
});
