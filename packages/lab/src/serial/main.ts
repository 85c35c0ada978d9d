// The lab's serial fan-out as a process: `node --import tsx main.ts LAB_DIR`. `lab up` starts it.
// Per server, the only connection to QEMU's serial socket, shared on 127.0.0.1:consolePort with
// ipmi_sim's SOL, the control plane's tcp:// console driver and `lifeboat lab console`.
import { readLab, serverDir } from '../lab-state.js';
import { vmFiles } from '../vm/qemu-command.js';
import { SerialFanout } from './serial-fanout.js';

const dir = process.argv[2];
const lab = dir ? readLab(dir) : undefined;
if (!dir || !lab) {
  console.error('usage: main.ts LAB_DIR (a directory holding lab.json)');
  process.exit(2);
}
const fanouts: SerialFanout[] = [];
for (const s of lab.servers) {
  const fanout = new SerialFanout({ socketPath: vmFiles(serverDir(lab.dir, s.name)).serialSocket, port: s.consolePort });
  await fanout.start();
  fanouts.push(fanout);
  console.log(`${s.name}: serial console on tcp://127.0.0.1:${s.consolePort}`);
}
const stop = () => {
  void Promise.all(fanouts.map((f) => f.stop())).then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
