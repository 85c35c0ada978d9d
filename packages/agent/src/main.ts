/**
 * The agent's entry point in the rescue image (`qjs /opt/lifeboat/agent.mjs`, started by the image's
 * init; the bundle of this file runs on QuickJS). Overrides for tests: `LIFEBOAT_AGENT_CMDLINE`
 * (default /proc/cmdline), `LIFEBOAT_AGENT_ROOT` (default /), `LIFEBOAT_AGENT_SSHD`,
 * `LIFEBOAT_AGENT_SSH_PORT`, `LIFEBOAT_AGENT_REBOOT` (the program that reboots after `leave_rescue`;
 * default busybox's `reboot` when the root is `/`, else none), `LIFEBOAT_AGENT_CONSOLE` (where log
 * lines are copied besides stdout; default /dev/console, empty for none),
 * `LIFEBOAT_AGENT_WAIT_DRIVERS` (1: wait for `<root>/run/lifeboat/drivers-loaded` before the
 * inventory, as in the image; 0: do not), `LIFEBOAT_AGENT_DOCTOR` (1: run the rescue doctor after
 * ready and take its fixes; default only when the root is `/`: elsewhere it would examine the disks
 * of the machine the test runs on), `LIFEBOAT_AGENT_HEARTBEAT_SECONDS` (default 30).
 */
import { runAgent } from './agent.js';
import { agentLog } from './log.js';
import { Stop } from './platform.js';
import { quickjsPlatform as platform } from './platform-quickjs.js';
import { imageRescueSystem } from './rescue-system.js';

const rootDir = platform.env('LIFEBOAT_AGENT_ROOT') ?? '/';
const consoleCopy = platform.env('LIFEBOAT_AGENT_CONSOLE') ?? '/dev/console';
const sshPort = platform.env('LIFEBOAT_AGENT_SSH_PORT');
const waitDrivers = platform.env('LIFEBOAT_AGENT_WAIT_DRIVERS');
const reboot = platform.env('LIFEBOAT_AGENT_REBOOT');
const doctor = platform.env('LIFEBOAT_AGENT_DOCTOR');
// Seconds between heartbeats (default 30; tests shorten it).
const heartbeatSeconds = platform.env('LIFEBOAT_AGENT_HEARTBEAT_SECONDS');
const log = agentLog(platform, consoleCopy ? [consoleCopy] : []);
const stop = new Stop();
for (const name of ['SIGTERM', 'SIGINT'] as const) platform.onSignal(name, () => stop.stop(new Error(name)));

/** The whole run. Not top-level await: QuickJS then runs one promise job per event-loop turn. */
async function main(): Promise<number> {
  log.info(`starting (${platform.runtime}, pid ${platform.pid()})`);
  try {
    const outcome = await runAgent({
      platform,
      cmdlinePath: platform.env('LIFEBOAT_AGENT_CMDLINE') ?? '/proc/cmdline',
      system: {
        rootDir,
        sshd: platform.env('LIFEBOAT_AGENT_SSHD') ?? imageRescueSystem.sshd,
        ...(sshPort ? { sshPort: Number(sshPort) } : {}),
        setKernelHostname: rootDir === '/',
        waitForDrivers: waitDrivers === undefined ? rootDir === '/' : waitDrivers === '1',
      },
      log,
      stop,
      doctor: doctor === undefined ? rootDir === '/' : doctor === '1',
      ...(heartbeatSeconds ? { heartbeatSeconds: Number(heartbeatSeconds) } : {}),
      // The image's busybox (rescue-rc's too): always there, unlike the /usr/local/sbin/reboot link.
      ...(reboot ? { reboot: [reboot] } : rootDir === '/' ? { reboot: ['/usr/lib/lifeboat/busybox', 'reboot'] } : {}),
    });
    log.info(`stopped: ${outcome}`);
    return 0;
  } catch (error) {
    const code = typeof error === 'object' && error !== null && 'code' in error ? `${String(error.code)}: ` : '';
    log.error(`${code}${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

void main().then((status) => platform.exit(status));
