/**
 * The agent's whole life in the rescue system: redeem the boot token, set up SSH with the session's
 * credentials, report host keys, inventory and ready, then heartbeat and take work until the session
 * ends. It only ever connects out; it listens on nothing.
 */
import { bootParamsFrom } from '@lifeboat/core/boot';
import { AgentApiError, ControlPlaneClient } from './control-plane-client.js';
import type { AgentJob, JobResult, RescueConfig, RetryPolicy } from './control-plane-client.js';
import { readHostKeys } from './host-keys.js';
import { collectInventory } from './inventory.js';
import type { AgentLog } from './log.js';
import type { Platform, Stop } from './platform.js';
import { RescueSystem } from './rescue-system.js';
import type { RescueSystemOptions } from './rescue-system.js';

/** How the agent runs. */
export interface AgentOptions {
  readonly platform: Platform;
  /** The kernel command line's file (`/proc/cmdline`). */
  readonly cmdlinePath: string;
  readonly system: RescueSystemOptions;
  readonly log: AgentLog;
  /** Stops the agent (SIGTERM in the image). */
  readonly stop: Stop;
  /** Seconds between heartbeats. */
  readonly heartbeatSeconds?: number;
  /** Long-poll wait for work (seconds). */
  readonly workWaitSeconds?: number;
  readonly retry?: RetryPolicy;
  /** Longest wait for the image's init to finish loading drivers before the inventory (ms). */
  readonly driversWaitMs?: number;
}

/** Why the agent stopped. */
export type AgentOutcome = 'revoked' | 'aborted';

/** A handler for one kind of job (the hardware tests register theirs here). */
export type JobHandler = (params: unknown, stop: Stop) => Promise<JobResult>;

/** Job kinds this agent can run. None yet: the hardware tests come with their own issue. */
export const jobHandlers: ReadonlyMap<string, JobHandler> = new Map();

/** Runs the agent until its token is revoked (the session ended) or `signal` aborts. */
export async function runAgent(options: AgentOptions): Promise<AgentOutcome> {
  const { log, stop, platform } = options;
  const system = new RescueSystem(platform, options.system);
  const params = bootParamsFrom(await platform.readText(options.cmdlinePath));
  log.info(`control plane ${params.url}, server ${params.serverId}`);
  const client = new ControlPlaneClient(platform, params.url, {
    stop,
    ...(options.retry ? { retry: options.retry } : {}),
    onRetry: (what, attempt, error) => log.info(`${what} failed (attempt ${attempt}: ${error}); retrying`),
  });
  try {
    const { config, resumed } = await obtainConfig(platform, client, system, params.serverId, params.bootToken, log);
    // The timeline steps go out while sshd is being set up, not before it: the customer waits for sshd.
    const timeline = new Timeline(client);
    timeline.step('agent_started', `session ${config.sessionId}`);
    // A restarted agent first learns whether its session still runs: an ended one must not get sshd back.
    if (resumed) await timeline.sent();

    await system.ensureHostKeys();
    const passwordLogin = await system.writeCredentials(config);
    await system.writeIdentity(config);
    log.info(`credentials written: ${passwordLogin ? 'root password hash' : `${config.authorizedKeys.length} authorized key(s), no password`}`);
    timeline.step('credentials_written', passwordLogin ? 'password' : 'keys');

    await system.startSshd(passwordLogin);
    log.info(`sshd started (PermitRootLogin ${passwordLogin ? 'yes' : 'prohibit-password'})`);
    timeline.step('sshd_started');
    await timeline.sent();

    const hostKeys = await readHostKeys(platform, system.path('etc/ssh'));
    await client.hostKeys(hostKeys);
    for (const key of hostKeys) log.info(`host key ${key.type} ${key.fingerprint}`);

    // Drivers load while sshd starts (the image's init): the disks are only all there once they did.
    const driversWaitMs = options.driversWaitMs ?? 120_000;
    if (!(await system.driversLoaded(driversWaitMs, stop)) && options.system.waitForDrivers) {
      log.info(`drivers still loading after ${driversWaitMs / 1000} s: the inventory shows what is there now`);
    }
    const inventory = await collectInventory(platform);
    await client.inventory(inventory);
    log.info(`inventory: ${inventory.cpus} CPU(s), ${inventory.memoryBytes} bytes, ${inventory.disks.length} disk(s), ${inventory.nics.length} NIC(s)`);

    await client.ready();
    log.info('ready');
    await serve(client, options);
    return 'aborted';
  } catch (error) {
    if (error instanceof AgentApiError && error.code === 'AGENT_TOKEN_REVOKED') {
      log.info('the control plane revoked this agent: the rescue session is over');
      return 'revoked';
    }
    if (stop.stopped) return 'aborted';
    throw error;
  }
}

/**
 * Boot timeline steps posted in order, one after the other, without holding up the caller;
 * {@link Timeline.sent} waits for them all and throws the first failure (a revoked token).
 */
class Timeline {
  readonly #client: ControlPlaneClient;
  #chain: Promise<void> = Promise.resolve();
  #failure: unknown;

  constructor(client: ControlPlaneClient) {
    this.#client = client;
  }

  step(name: string, detail?: string): void {
    this.#chain = this.#chain.then(async () => {
      if (this.#failure !== undefined) return;
      try {
        await this.#client.event(name, detail);
      } catch (error) {
        this.#failure = error;
      }
    });
  }

  async sent(): Promise<void> {
    await this.#chain;
    if (this.#failure !== undefined) throw this.#failure;
  }
}

/**
 * The session's configuration: redeemed with the boot token, or, when this agent already redeemed it
 * at this boot (a restart), read back from /run (tmpfs: gone at the next boot, readable by root only).
 */
async function obtainConfig(
  platform: Platform,
  client: ControlPlaneClient,
  system: RescueSystem,
  serverId: string,
  bootToken: string,
  log: AgentLog,
): Promise<{ config: RescueConfig; resumed: boolean }> {
  const statePath = system.path('run/lifeboat/agent-session.json');
  try {
    const saved = JSON.parse(await platform.readText(statePath)) as { agentToken: string; config: RescueConfig };
    client.useAgentToken(saved.agentToken);
    log.info(`resuming session ${saved.config.sessionId}`);
    return { config: saved.config, resumed: true };
  } catch {
    // first start at this boot
  }
  const { agentToken, config } = await client.redeem(serverId, bootToken);
  await platform.mkdir(system.path('run/lifeboat'), 0o755);
  await platform.writeText(statePath, JSON.stringify({ agentToken, config }), 0o600);
  log.info(`boot token redeemed: session ${config.sessionId}, server ${config.serverName}`);
  return { config, resumed: false };
}

/** Heartbeats and the work long poll, side by side, until revoked or stopped. */
async function serve(client: ControlPlaneClient, options: AgentOptions): Promise<void> {
  const { log, platform } = options;
  const heartbeatMs = (options.heartbeatSeconds ?? 30) * 1000;
  const stop = options.stop.child();
  const heartbeats = (async () => {
    while (!stop.stopped) {
      await client.heartbeat();
      await platform.sleep(heartbeatMs, stop);
    }
  })();
  const work = (async () => {
    while (!stop.stopped) {
      for (const job of await client.work(options.workWaitSeconds ?? 25)) await runJob(client, job, log, stop);
    }
  })();
  try {
    // The first loop to fail (a revoked token) stops the other.
    await Promise.race([heartbeats, work]);
  } finally {
    stop.stop();
    await Promise.allSettled([heartbeats, work]);
  }
}

async function runJob(client: ControlPlaneClient, job: AgentJob, log: AgentLog, stop: Stop): Promise<void> {
  const handler = jobHandlers.get(job.kind);
  let result: JobResult;
  if (!handler) {
    result = { state: 'failed', message: `unsupported job kind "${job.kind}": this agent has no handler for it`, result: { code: 'JOB_UNSUPPORTED' } };
  } else {
    try {
      result = await handler(job.params, stop);
    } catch (error) {
      result = { state: 'failed', message: error instanceof Error ? error.message : String(error) };
    }
  }
  log.info(`job ${job.id} (${job.kind}): ${result.state}${result.message ? `: ${result.message}` : ''}`);
  await client.result(job.id, result);
}
