/**
 * Console hub benchmark: one console (a TCP serial port on loopback) printing 64 MiB, watched by 50
 * viewers of which one stops reading. Measures what each viewer receives per second and the process's
 * memory: the stalled viewer's queue is bounded (1 MiB, then it is detached), the others get every byte.
 *
 *   node --import tsx packages/control-plane/bench/console-hub.bench.ts [--mib 64] [--viewers 50]
 */
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import type { Server } from '@lifeboat/core';
import { consoleDriverFactory } from '../src/console/console-driver.js';
import { ConsoleHubs, type ConsoleViewer } from '../src/console/console-hub.js';

const { values } = parseArgs({ options: { mib: { type: 'string', default: '64' }, viewers: { type: 'string', default: '50' } } });
const total = Number(values.mib) * 1024 * 1024;
const count = Number(values.viewers);
const rows: string[] = [];
const row = (what: string, value: string, note = ''): void => {
  rows.push(`| ${what} | ${value} | ${note} |`);
  process.stderr.write(`${what}: ${value} ${note}\n`);
};
const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

const serial = createServer((socket) => {
  // Prints `total` bytes as fast as the line takes them, respecting backpressure.
  const chunk = Buffer.alloc(16 * 1024, 'x');
  let sent = 0;
  const pump = (): void => {
    while (sent < total) {
      sent += chunk.length;
      if (!socket.write(chunk)) return void socket.once('drain', pump);
    }
  };
  socket.on('error', () => undefined);
  pump();
});
serial.listen(0, '127.0.0.1');
await once(serial, 'listening');
const server: Server = {
  id: 'bench',
  name: 'bench-1',
  tenantId: 't',
  macs: [],
  bmc: { driver: 'redfish', url: 'redfish://127.0.0.1:1/redfish/v1/Systems/1', user: 'u', credentialsRef: null },
  sshEndpoint: null,
  console: `tcp://127.0.0.1:${(serial.address() as AddressInfo).port}`,
  profiles: ['linux'],
  state: 'active',
  createdAt: new Date(),
};

global.gc?.();
const rssBefore = process.memoryUsage().rss;
let peakRss = rssBefore;
let peakHeap = 0;
const sampler = setInterval(() => {
  const usage = process.memoryUsage();
  peakRss = Math.max(peakRss, usage.rss);
  peakHeap = Math.max(peakHeap, usage.heapUsed + usage.arrayBuffers);
}, 20);

const hubs = new ConsoleHubs({ drivers: consoleDriverFactory({ bmcPassword: async () => '' }) });
const received = new Array<number>(count).fill(0);
let stalledClosed = '';
let done!: () => void;
const finished = new Promise<void>((resolve) => (done = resolve));
let complete = 0;
const started = Date.now();
for (let i = 0; i < count; i++) {
  const stalled = i === count - 1;
  const viewer: ConsoleViewer = {
    onData(chunk) {
      received[i]! += chunk.length;
      if (received[i] === total && ++complete === count - 1) done();
      return !stalled;
    },
    onClose(reason) {
      if (stalled) stalledClosed = reason;
    },
  };
  await hubs.attach(server, viewer, { write: false, who: `viewer-${i}` });
}
await finished;
const seconds = (Date.now() - started) / 1000;
clearInterval(sampler);
await hubs.close();
serial.close();

const delivered = received.slice(0, -1).every((bytes) => bytes === total);
row(`${count - 1} reading viewers, each`, `${mib(total)} in ${seconds.toFixed(1)} s`, `${(total / 1024 / 1024 / seconds).toFixed(0)} MiB/s per viewer; every byte: ${delivered ? 'yes' : 'NO'}`);
row('the stalled viewer', `${mib(received[count - 1] ?? 0)} received`, stalledClosed ? `detached: ${stalledClosed}` : 'NOT detached');
row('RSS before / peak', `${mib(rssBefore)} / ${mib(peakRss)}`, `growth ${mib(peakRss - rssBefore)} for ${mib(total)} through ${count} viewers`);
row('peak JS heap + buffers', mib(peakHeap), "viewers here consume in-process (no sockets): the figures are the hub's own cost");
console.log(['| measure | value | note |', '| --- | --- | --- |', ...rows].join('\n'));
