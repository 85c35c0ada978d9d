/**
 * The IPMI Serial-over-LAN console driver against a real BMC: OpenIPMI's ipmi_sim, its `sol` wired to
 * a serial port exported on TCP (as the lab wires it to a VM's ttyS0), reached by `ipmitool sol
 * activate` over RMCP+. Bytes go both ways untouched, a stale session is taken over, and the hub shares
 * the BMC's single SOL session between viewers.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { LifeboatError, type Server } from '@lifeboat/core';
import { waitFor } from '@lifeboat/test-support';
import { consoleDriverFor, consoleDriverFactory } from '../../src/console/console-driver.js';
import { ConsoleHubs } from '../../src/console/console-hub.js';
import { startIpmiSim, type IpmiSim } from '../drivers/ipmi-sim.js';

/** The serial side: what the BMC's SOL connects to (the VM's ttyS0 in the lab). */
class SerialSide {
  readonly #server: NetServer;
  line: Socket | null = null;
  received = Buffer.alloc(0);

  constructor() {
    this.#server = createServer((socket) => {
      this.line?.destroy();
      this.line = socket;
      socket.on('data', (chunk) => (this.received = Buffer.concat([this.received, chunk])));
      socket.on('error', () => undefined);
    });
  }

  async listen(): Promise<number> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    return (this.#server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.line?.destroy();
    this.#server.close();
    await once(this.#server, 'close');
  }
}

function collect(stream: Duplex): { text(): string } {
  let seen = Buffer.alloc(0);
  stream.on('data', (chunk: Buffer) => (seen = Buffer.concat([seen, chunk])));
  return { text: () => seen.toString('latin1') };
}

describe('IPMI Serial-over-LAN through ipmi_sim', { timeout: 120_000 }, () => {
  let serial: SerialSide;
  let bmc: IpmiSim;
  let server: Server;
  const password = 'sol-Passw0rd.7';

  // A fresh BMC per test: ipmi_sim keeps the sequence number of the last packet it acknowledged across
  // SOL sessions (lanserv/sol.c resets it nowhere), so the first keystrokes of a later session that
  // reuse that number are taken for a retransmission and dropped.
  beforeEach(async () => {
    serial = new SerialSide();
    const port = await serial.listen();
    bmc = await startIpmiSim(password, { solDevice: `tcp:127.0.0.1:${port}` });
    server = {
      id: 'sol-1',
      name: 'web-sol',
      tenantId: 't',
      macs: [],
      bmc: { driver: 'ipmi', url: `ipmi://127.0.0.1:${bmc.port}`, user: bmc.user, credentialsRef: 'ref' },
      sshEndpoint: null,
      console: null,
      profiles: ['linux'],
      state: 'active',
      createdAt: new Date(),
    };
  });
  afterEach(async () => {
    await bmc?.stop();
    await serial?.close();
  });

  it('attaches: what the serial port prints arrives, what is typed reaches it as typed (escape characters included)', async () => {
    const driver = consoleDriverFor(server, { bmcPassword: async () => password });
    assert.equal(driver.name, 'ipmi-sol');
    await driver.validate();
    const abort = new AbortController();
    const stream = await driver.connect(abort.signal);
    const seen = collect(stream);
    await waitFor('the BMC to open the serial line', () => serial.line !== null, 20_000, 50);
    // Serial output only flows once the SOL session is up at the BMC; print until it arrives.
    await waitFor('serial output through SOL', () => {
      serial.line?.write('login: ');
      return seen.text().includes('login: ');
    }, 20_000, 500);
    assert.ok(!seen.text().includes('SOL Session operational'), "ipmitool's banner is not console output");
    const typed = 'root\r~.\r~~\r~?x\r';
    stream.write(Buffer.from(typed));
    await waitFor('typed bytes on the serial side', () => serial.received.toString('latin1').includes(typed), 20_000, 50);
    assert.equal(serial.received.toString('latin1'), typed, 'ipmitool passed every byte, ~. did not end the session');
    serial.line?.write('# ');
    await waitFor('the session still alive', () => seen.text().includes('# '), 20_000, 50);
    abort.abort();
    await waitFor('the stream to close', () => stream.destroyed, 10_000, 50);
  });

  it('takes over a stale SOL session held by another client', async () => {
    // stdbuf: ipmitool holds its stdout in a buffer when it is a pipe.
    const stale = spawn('stdbuf', ['-o0', 'ipmitool', '-I', 'lanplus', '-C', '3', '-H', '127.0.0.1', '-p', String(bmc.port), '-U', bmc.user, '-E', 'sol', 'activate'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', IPMI_PASSWORD: password },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    let staleOut = '';
    stale.stdout.on('data', (chunk: Buffer) => (staleOut += chunk.toString()));
    await waitFor('the stale session up', () => staleOut.includes('SOL Session operational'), 20_000, 50);
    const abort = new AbortController();
    try {
      const stream = await consoleDriverFor(server, { bmcPassword: async () => password }).connect(abort.signal);
      const seen = collect(stream);
      await waitFor('serial output through the new session', () => {
        serial.line?.write('taken\r\n');
        return seen.text().includes('taken');
      }, 20_000, 500);
    } finally {
      abort.abort();
      stale.kill('SIGKILL');
    }
  });

  it('refuses a wrong password with CONSOLE_UNAVAILABLE, without the password in the message', async () => {
    const wrong = 'not-the-Passw0rd';
    await assert.rejects(consoleDriverFor(server, { bmcPassword: async () => wrong }, { ipmiSol: { activateTimeoutMs: 30_000 } }).connect(new AbortController().signal), (error: unknown) => {
      assert.ok(error instanceof LifeboatError);
      assert.equal(error.code, 'CONSOLE_UNAVAILABLE');
      assert.ok(!error.message.includes(wrong));
      return true;
    });
  });

  it('answers CONSOLE_INVALID for a BMC that offers no Serial-over-LAN', async () => {
    const noSol = await startIpmiSim(password);
    try {
      const target = { ...server, bmc: { ...server.bmc, url: `ipmi://127.0.0.1:${noSol.port}` } };
      await assert.rejects(consoleDriverFor(target, { bmcPassword: async () => password }).connect(new AbortController().signal), (error: unknown) => {
        assert.ok(error instanceof LifeboatError);
        assert.equal(error.code, 'CONSOLE_INVALID');
        assert.match(error.message, /does not offer Serial-over-LAN/);
        return true;
      });
    } finally {
      await noSol.stop();
    }
  });

  it('shares the one SOL session between viewers through the hub', async () => {
    const hubs = new ConsoleHubs({ drivers: consoleDriverFactory({ bmcPassword: async () => password }), lingerMs: 10 });
    try {
      const seen: Buffer[] = [Buffer.alloc(0), Buffer.alloc(0)];
      const viewer = (i: number) => ({ onData: (chunk: Buffer) => void (seen[i] = Buffer.concat([seen[i]!, chunk])), onClose: () => undefined });
      const writer = await hubs.attach(server, viewer(0), { write: true, who: 'alice' });
      const reader = await hubs.attach(server, viewer(1), { write: false, who: 'bob' });
      await waitFor('both viewers see the serial port', () => {
        serial.line?.write('shared\r\n');
        return seen.every((s) => s.toString().includes('shared'));
      }, 20_000, 500);
      serial.received = Buffer.alloc(0);
      writer.write(Buffer.from('uptime\r'));
      await waitFor('the writer typed', () => serial.received.toString() === 'uptime\r', 20_000, 50);
      reader.detach();
      writer.detach();
    } finally {
      await hubs.close();
    }
  });
});
