// The lab's Redfish service as a process: `node --import tsx main.ts LAB_DIR`. `lab up` starts it.
import { createServer } from 'node:http';
import { readBmcPassword, readLab, serverDir } from '../lab-state.js';
import { ServerVm } from '../vm/server-vm.js';
import { createRedfishService } from './service.js';
import type { RedfishSystem } from './service.js';

const dir = process.argv[2];
const lab = dir ? readLab(dir) : undefined;
if (!dir || !lab) {
  console.error('usage: main.ts LAB_DIR (a directory holding lab.json)');
  process.exit(2);
}
const systems = new Map<string, RedfishSystem>(
  lab.servers.map((s) => [s.name, { id: s.name, uuid: s.uuid, mac: s.mac, machine: new ServerVm(serverDir(lab.dir, s.name), s.disks.length) }]),
);
const handle = createRedfishService({ systems, user: lab.bmc.user, password: readBmcPassword(lab) });
// One line per request in redfish.log (method, path, status, milliseconds): never headers or bodies.
const server = createServer((req, res) => {
  const started = Date.now();
  res.on('finish', () => console.log(`${new Date().toISOString()} ${req.method} ${req.url} ${res.statusCode} ${Date.now() - started}ms`));
  handle(req, res);
});
server.listen(lab.redfishPort, '127.0.0.1', () => console.log(`Redfish service on http://127.0.0.1:${lab.redfishPort}/redfish/v1`));
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
