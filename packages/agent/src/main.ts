/**
 * The agent's entry point in the rescue image (`node /opt/lifeboat/agent.mjs`, started by the image's
 * init). Overrides for tests: `LIFEBOAT_AGENT_CMDLINE` (default /proc/cmdline), `LIFEBOAT_AGENT_ROOT`
 * (default /), `LIFEBOAT_AGENT_SSHD`, `LIFEBOAT_AGENT_SSH_PORT`, `LIFEBOAT_AGENT_CONSOLE`
 * (where log lines are copied besides stdout; default /dev/console, empty for none).
 */
import { runAgent } from './agent.js';
import { agentLog } from './log.js';
import { imageRescueSystem } from './rescue-system.js';

const env = process.env;
const rootDir = env.LIFEBOAT_AGENT_ROOT ?? '/';
const consoleCopy = env.LIFEBOAT_AGENT_CONSOLE ?? '/dev/console';
const log = agentLog(consoleCopy ? [consoleCopy] : []);
const stop = new AbortController();
for (const name of ['SIGTERM', 'SIGINT'] as const) process.on(name, () => stop.abort(new Error(name)));

log.info(`starting (node ${process.version}, pid ${process.pid})`);
try {
  const outcome = await runAgent({
    cmdlinePath: env.LIFEBOAT_AGENT_CMDLINE ?? '/proc/cmdline',
    system: {
      rootDir,
      sshd: env.LIFEBOAT_AGENT_SSHD ?? imageRescueSystem.sshd,
      ...(env.LIFEBOAT_AGENT_SSH_PORT ? { sshPort: Number(env.LIFEBOAT_AGENT_SSH_PORT) } : {}),
      setKernelHostname: rootDir === '/',
    },
    log,
    signal: stop.signal,
  });
  log.info(`stopped: ${outcome}`);
} catch (error) {
  const code = typeof error === 'object' && error !== null && 'code' in error ? `${String(error.code)}: ` : '';
  log.error(`${code}${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
