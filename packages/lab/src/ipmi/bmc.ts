import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LabError } from '../errors.js';
import { livePid, stopProcess, waitUntil } from '../processes/processes.js';
import { bmcEmu, bmcFiles, lanConf, shellWord } from './lan-conf.js';
import type { BmcSpec } from './lan-conf.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The chassis control program that ipmi_sim runs for every power, reset and boot-device command. */
export const chassisControlProgram = join(here, 'chassis-control.sh');
const qmpProgram = join(here, '..', 'vm', 'qmp.mjs');

/** Whether something is bound to UDP port `port` on 127.0.0.1 (read from /proc/net/udp). */
function udpBound(port: number): boolean {
  const wanted = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  try {
    return readFileSync('/proc/net/udp', 'utf8').split('\n').some((line) => line.trim().split(/\s+/)[1] === wanted);
  } catch {
    return false;
  }
}

/**
 * Starts the IPMI BMC of one lab server: OpenIPMI's `ipmi_sim` serving RMCP+ on 127.0.0.1:`port`,
 * handing chassis commands to `chassis-control.sh`. Resolves once the port is bound.
 */
export async function startBmc(serverDir: string, spec: Omit<BmcSpec, 'chassisControl'>, diskCount: number): Promise<number> {
  const files = bmcFiles(serverDir);
  mkdirSync(files.stateDir, { recursive: true });
  writeFileSync(files.chassisControlConf, `node=${shellWord(process.execPath)}\nqmp=${shellWord(qmpProgram)}\ndisks=${diskCount}\n`);
  const chassisControl = `${shellWord(chassisControlProgram)} ${shellWord(serverDir)}`;
  writeFileSync(files.lanConf, lanConf({ ...spec, chassisControl }), { mode: 0o600 });
  writeFileSync(files.emu, bmcEmu());
  const log = openSync(files.log, 'a');
  const child = spawn('ipmi_sim', ['-c', files.lanConf, '-f', files.emu, '-s', files.stateDir, '-n'], {
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const pid = child.pid;
  child.unref();
  if (pid === undefined) throw new LabError('BMC_START_FAILED', `ipmi_sim did not start; see ${files.log}`);
  writeFileSync(files.pidfile, `${pid}\n`);
  const up = await waitUntil(() => udpBound(spec.port) || livePid(files.pidfile, 'ipmi_sim') === undefined, 10_000);
  if (!up || livePid(files.pidfile, 'ipmi_sim') === undefined) {
    await stopProcess(files.pidfile, 'ipmi_sim', { group: true });
    throw new LabError('BMC_START_FAILED', `ipmi_sim did not serve port ${spec.port}; see ${files.log}`);
  }
  return pid;
}

/**
 * Stops the IPMI BMC of one lab server (by its pidfile) with its process group, so that a chassis
 * control command in flight (a power-on starting QEMU) dies with it; true when no ipmi_sim of it is left.
 */
export function stopBmc(serverDir: string): Promise<boolean> {
  return stopProcess(bmcFiles(serverDir).pidfile, 'ipmi_sim', { group: true });
}
