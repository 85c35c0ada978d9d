import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { waitUntil } from '../processes/processes.js';
import { SerialFanout } from './serial-fanout.js';

/** A serial port served like QEMU's `-chardev socket,server=on`: one client at a time, the others wait. */
class QemuLikeSerial {
  readonly server: Server;
  line: Socket | null = null;
  received = '';

  constructor(readonly path: string) {
    this.server = createServer((socket) => {
      if (this.line) return void socket.destroy();
      this.line = socket;
      socket.on('data', (chunk: Buffer) => (this.received += chunk.toString('latin1')));
      socket.on('close', () => (this.line = null));
      socket.on('error', () => undefined);
    });
  }

  async listen(): Promise<void> {
    this.server.listen(this.path);
    await once(this.server, 'listening');
  }

  /** QEMU exits (power off): its socket closes and disappears. */
  async close(): Promise<void> {
    this.line?.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function client(port: number): { socket: Socket; text(): string } {
  const socket = connect(port, '127.0.0.1');
  let seen = '';
  socket.on('data', (chunk: Buffer) => (seen += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  return { socket, text: () => seen };
}

let dir: string;
let fanout: SerialFanout | undefined;
let qemu: QemuLikeSerial | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lb-fanout-'));
});
afterEach(async () => {
  await fanout?.stop();
  await qemu?.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

test('every client gets every byte in order, and what each client types reaches the serial port', async () => {
  qemu = new QemuLikeSerial(join(dir, 'serial.sock'));
  await qemu.listen();
  fanout = new SerialFanout({ socketPath: qemu.path, port: 0 });
  const port = await fanout.start();
  const a = client(port);
  const b = client(port);
  assert.ok(await waitUntil(() => qemu!.line !== null && fanout!.clients === 2, 5000, 10), 'one connection to the serial socket, two clients');
  const lines = Array.from({ length: 200 }, (_, i) => `line ${i}\r\n`).join('');
  qemu.line!.write(lines);
  assert.ok(await waitUntil(() => a.text() === lines && b.text() === lines, 5000, 10), 'both clients got the whole output in order');
  a.socket.write('root\r');
  assert.ok(await waitUntil(() => qemu!.received === 'root\r', 5000, 10));
  b.socket.write('ls\r');
  assert.ok(await waitUntil(() => qemu!.received === 'root\rls\r', 5000, 10));
  a.socket.destroy();
  b.socket.destroy();
});

test('clients stay connected while the VM is off, and the line comes back when QEMU starts again', async () => {
  const path = join(dir, 'serial.sock');
  fanout = new SerialFanout({ socketPath: path, port: 0, retryMs: 20 });
  const port = await fanout.start();
  const viewer = client(port);
  await once(viewer.socket, 'connect');
  assert.equal(fanout.connected, false, 'no VM yet');
  viewer.socket.write('typed while off\r');

  qemu = new QemuLikeSerial(path);
  await qemu.listen();
  assert.ok(await waitUntil(() => fanout!.connected, 5000, 10), 'reached the serial socket once QEMU serves it');
  qemu.line!.write('SeaBIOS (version 1.16)\r\n');
  assert.ok(await waitUntil(() => viewer.text().includes('SeaBIOS'), 5000, 10));
  assert.equal(qemu.received, '', 'bytes typed while the port was gone are not replayed later');

  await qemu.close(); // power off
  assert.ok(await waitUntil(() => !fanout!.connected, 5000, 10));
  rmSync(path, { force: true });
  qemu = new QemuLikeSerial(path); // power on again
  await qemu.listen();
  assert.ok(await waitUntil(() => fanout!.connected, 5000, 10), 'reconnected after the power cycle');
  qemu.line!.write('second boot\r\n');
  assert.ok(await waitUntil(() => viewer.text().includes('second boot'), 5000, 10), 'the same client connection sees the next boot');
  assert.equal(viewer.socket.destroyed, false);
  viewer.socket.destroy();
});

test('a client that does not read is cut off; the others go on', async () => {
  qemu = new QemuLikeSerial(join(dir, 'serial.sock'));
  await qemu.listen();
  fanout = new SerialFanout({ socketPath: qemu.path, port: 0, maxPendingBytes: 64 * 1024 });
  const port = await fanout.start();
  const stuck = connect(port, '127.0.0.1');
  stuck.on('error', () => undefined);
  await once(stuck, 'connect');
  stuck.pause();
  const reader = client(port);
  assert.ok(await waitUntil(() => qemu!.line !== null && fanout!.clients === 2, 5000, 10));
  const chunk = 'x'.repeat(64 * 1024);
  let sent = 0;
  while (fanout.clients === 2 && sent < 512) {
    qemu.line!.write(chunk);
    sent++;
    await waitUntil(() => reader.text().length >= sent * chunk.length, 5000, 5);
  }
  assert.equal(fanout.clients, 1, 'the stuck client was disconnected');
  assert.ok(await waitUntil(() => reader.text().length === sent * chunk.length, 5000, 10), 'the reader got every byte');
  stuck.destroy();
  reader.socket.destroy();
});
