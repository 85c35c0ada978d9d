// The lab's serial ports, without a VM: `lab up` serves each server's serial line (QEMU's socket,
// played here by a unix socket at the same path) on a TCP port, and the server's IPMI BMC (ipmi_sim)
// carries it as real Serial-over-LAN: `ipmitool sol activate` over RMCP+ and a raw TCP client
// (`--console tcp://...`) share the line, and the line survives the VM going away and coming back.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { waitUntil } from '../src/processes/processes.js';
import { cleanUpLab, firstServer, lab, processesMentioning, useTempLab } from './lab-fixture.js';
import type { LabServerStatus } from '../src/lab.js';

let labDir: string;
let server: LabServerStatus;

/** QEMU's side of the serial port: `-chardev socket,path=serial.sock,server=on` serves one client. */
class SerialPort {
  readonly #server: Server;
  line: Socket | null = null;
  received = '';

  constructor() {
    this.#server = createServer((socket) => {
      this.line = socket;
      socket.on('data', (chunk: Buffer) => (this.received += chunk.toString('latin1')));
      socket.on('error', () => undefined);
    });
  }

  async listen(path: string): Promise<void> {
    rmSync(path, { force: true });
    this.#server.listen(path);
    await once(this.#server, 'listening');
  }

  async close(): Promise<void> {
    this.line?.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

before(async () => {
  labDir = useTempLab();
  await lab('up', '--blank', '--off');
  server = firstServer(labDir);
});

after(async () => {
  await cleanUpLab(labDir);
});

test('lab status shows each server console as a tcp:// URL on loopback', () => {
  assert.equal(server.console.host, '127.0.0.1');
  assert.equal(server.console.url, `tcp://127.0.0.1:${server.console.port}`);
});

test('IPMI SOL (ipmitool over RMCP+) and a TCP console client share one serial line, across a VM restart', { timeout: 120_000 }, async () => {
  const socketPath = join(labDir, 'servers', server.name, 'serial.sock');
  const port = new SerialPort();
  await port.listen(socketPath);
  assert.ok(await waitUntil(() => port.line !== null, 10_000, 50), 'the fan-out connects to the serial socket');

  const tcp = connect(server.console.port, server.console.host);
  let tcpSeen = '';
  tcp.on('data', (chunk: Buffer) => (tcpSeen += chunk.toString('latin1')));
  await once(tcp, 'connect');

  // stdbuf: ipmitool holds its stdout in a buffer when it is a pipe.
  const sol = spawn('stdbuf', ['-o0', 'ipmitool', '-I', 'lanplus', '-C', '3', '-H', server.ipmi.host, '-p', String(server.ipmi.port), '-U', server.ipmi.user, '-E', 'sol', 'activate'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', IPMI_PASSWORD: server.ipmi.password },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let solSeen = '';
  sol.stdout.on('data', (chunk: Buffer) => (solSeen += chunk.toString('latin1')));
  sol.stderr.on('data', (chunk: Buffer) => (solSeen += chunk.toString('latin1')));
  try {
    assert.ok(await waitUntil(() => solSeen.includes('SOL Session operational'), 20_000, 50), `SOL session up: ${solSeen}`);
    // Output flows to SOL once the BMC's session is up; print until it arrives.
    assert.ok(
      await waitUntil(() => {
        port.line?.write('lab login: ');
        return solSeen.includes('lab login: ');
      }, 20_000, 500),
      `the serial output reaches ipmitool through SOL: ${solSeen}`,
    );
    assert.ok(tcpSeen.includes('lab login: '), 'and the TCP client');

    // Typed through SOL, typed through TCP: both reach the serial port. (ipmi_sim may drop the first
    // keystroke packet of a session, see docs/console.md: type until it arrives.)
    assert.ok(
      await waitUntil(() => {
        if (!port.received.includes('sol-typed\r')) sol.stdin.write('sol-typed\r');
        return port.received.includes('sol-typed\r');
      }, 20_000, 1000),
      `typed through SOL reaches the port: ${JSON.stringify(port.received)}`,
    );
    tcp.write('tcp-typed\r');
    assert.ok(await waitUntil(() => port.received.includes('tcp-typed\r'), 10_000, 50));

    // The VM powers off and on again: QEMU's socket goes and comes back; SOL and TCP stay connected.
    await port.close();
    const again = new SerialPort();
    await again.listen(socketPath);
    assert.ok(await waitUntil(() => again.line !== null, 10_000, 50), 'the fan-out reconnects to the new socket');
    assert.ok(
      await waitUntil(() => {
        again.line?.write('SeaBIOS again\r\n');
        return solSeen.includes('SeaBIOS again') && tcpSeen.includes('SeaBIOS again');
      }, 20_000, 500),
      'the next boot reaches the same SOL session and TCP connection',
    );
    await again.close();
  } finally {
    sol.stdin.write('~.');
    sol.kill();
    tcp.destroy();
  }
});

test('lab down stops the serial fan-out with the rest', async () => {
  await lab('down');
  assert.deepEqual(processesMentioning(labDir), []);
});
