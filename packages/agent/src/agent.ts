/**
 * The agent's whole life in the rescue system: redeem the boot token, set up SSH with the session's
 * credentials, report host keys (and serve the host certificates the answer carries), start sshd, report
 * ready (the customer can log in), then heartbeat and take work
 * until the session ends; the inventory follows once the image's init has loaded the drivers. On
 * `leave_rescue` work (the exit job) it releases the installed system, reports and reboots. It only
 * ever connects out; it listens on nothing.
 */
import { doctorFixWork, doctorUndoWork, hardwareTestWork } from '@lifeboat/core/agent-work';
import { filesDownloadWork } from '@lifeboat/core/api';
import type { HardwareTestOutcome } from '@lifeboat/core/api';
import { bootParamsFrom } from '@lifeboat/core/boot';
import { AgentApiError, ControlPlaneClient } from './control-plane-client.js';
import type { AgentJob, JobResult, RescueConfig, RetryPolicy } from './control-plane-client.js';
import { readHostKeys } from './host-keys.js';
import { HardwareTests } from './hardware-tests/hardware-tests.js';
import { requestsDir, takeRequests, writeRequestStatus } from './hardware-tests/requests.js';
import { explorerHandlers } from './explorer-work.js';
import { Explorer } from './explorer.js';
import { Doctor } from './doctor/doctor.js';
import { collectInventory } from './inventory.js';
import { leaveRescueWork, releaseInstalledSystem } from './leave-rescue.js';
import type { AgentLog } from './log.js';
import { joinPath } from './platform.js';
import type { Platform, Stop } from './platform.js';
import { RescueSystem } from './rescue-system.js';
import type { RescueSystemOptions } from './rescue-system.js';

/** How far past the lease the control plane's host certificates stay valid, at least (it gives 5 min). */
const certificateMarginMs = 4 * 60_000;

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
  /**
   * The command that reboots the machine (in the image busybox's `reboot`, which asks init to stop
   * everything, unmount and reboot); without it, `leave_rescue` reports but does not reboot.
   */
  readonly reboot?: readonly string[];
  /**
   * Runs the rescue doctor after `ready` (issue 15) and takes its fixes: on in the image, off where
   * the agent's root is not the machine's (tests: the doctor would examine the host's disks).
   */
  readonly doctor?: boolean;
}

/** Why the agent stopped. */
export type AgentOutcome = 'revoked' | 'aborted' | 'rebooting';

/**
 * What a job handler returns: the result for the control plane and, optionally, what to do once the
 * control plane has it (a reboot must not race the report that announces it).
 */
export interface JobOutcome extends JobResult {
  readonly afterReport?: () => Promise<void>;
}

/** A handler for one kind of job (the hardware tests register theirs here). */
export type JobHandler = (params: unknown, stop: Stop, job: AgentJob) => Promise<JobOutcome>;

/** Work kinds that run beside the work loop (it keeps taking work meanwhile): long hardware tests, downloads. */
export const backgroundWork: ReadonlySet<string> = new Set([hardwareTestWork, filesDownloadWork]);

/** The job kinds this agent runs: `leave_rescue` (the exit job's clean way out), `hardware_test` when given the tests. */
export function jobHandlers(
  options: Pick<AgentOptions, 'platform' | 'system' | 'log' | 'reboot'>,
  rebooting: () => void,
  tests?: HardwareTests,
  client?: Pick<ControlPlaneClient, 'uploadTarget'>,
  doctor?: Doctor,
): ReadonlyMap<string, JobHandler> {
  const { platform, log } = options;
  const leaveRescue: JobHandler = async () => {
    const report = await releaseInstalledSystem(platform, { rootDir: options.system.rootDir });
    log.info(`leaving rescue: ${report.detail}`);
    return {
      state: 'completed',
      result: report,
      afterReport: async () => {
        rebooting();
        const [program, ...args] = options.reboot ?? [];
        if (program === undefined) {
          log.info('no reboot command (not the rescue image): not rebooting');
          return;
        }
        log.info('rebooting');
        const result = await platform.run(program, args);
        // busybox's reboot only signals init; when that fails, reboot without it (already synced).
        if (result.status !== 0) {
          log.error(`${program} exited with status ${result.status}: rebooting with -f`);
          await platform.run(program, [...args, '-f']);
        }
      },
    };
  };
  const handlers = new Map<string, JobHandler>([[leaveRescueWork, leaveRescue], ...explorerHandlers(new Explorer(platform, { rootDir: options.system.rootDir }), client)]);
  if (tests) handlers.set(hardwareTestWork, async (params, stop, job) => ({ state: 'completed', result: await tests.run(job.id, params, stop) }));
  if (doctor) {
    // A refused fix is still a completed work: its outcome says why (ok: false, error.code).
    handlers.set(doctorFixWork, async (params, stop) => {
      const p = doctorParams(params);
      return { state: 'completed', result: await doctor.fix(p.findingId, p.passwordHash, stop) };
    });
    handlers.set(doctorUndoWork, async (params, stop) => ({ state: 'completed', result: await doctor.undo(doctorParams(params).findingId, stop) }));
  }
  return handlers;
}

/** `DoctorFixWorkParams`, checked (the control plane checked them too). */
function doctorParams(params: unknown): { findingId: string; passwordHash?: string } {
  const p = (typeof params === 'object' && params !== null ? params : {}) as { findingId?: unknown; passwordHash?: unknown };
  if (typeof p.findingId !== 'string') throw new Error('doctor work without findingId');
  return typeof p.passwordHash === 'string' ? { findingId: p.findingId, passwordHash: p.passwordHash } : { findingId: p.findingId };
}

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

    // The host keys go out before sshd starts: the answer carries their certificates (signed by the
    // provider's SSH host CA), which sshd then presents from its first connection on.
    await timeline.sent();
    const hostKeys = await readHostKeys(platform, system.path('etc/ssh'));
    const certify = async (): Promise<number> => (await system.writeHostCertificates(await client.hostKeys(hostKeys))).length;
    const certified = await certify();
    for (const key of hostKeys) log.info(`host key ${key.type} ${key.fingerprint}`);
    log.info(certified > 0 ? `${certified} host certificate(s) from the control plane's CA, valid until the lease ends` : 'no host certificates (the control plane signed none)');

    await system.startSshd(passwordLogin);
    log.info(`sshd started (PermitRootLogin ${passwordLogin ? 'yes' : 'prohibit-password'})`);
    timeline.step('sshd_started');
    await timeline.sent();

    // The customer can log in now: ready does not wait for the drivers (the inventory does).
    await client.ready();
    log.info('ready');

    // Drivers load while sshd starts (the image's init): the disks are only all there once they did.
    const inventory = async (stopInventory: Stop): Promise<void> => {
      const driversWaitMs = options.driversWaitMs ?? 120_000;
      if (!(await system.driversLoaded(driversWaitMs, stopInventory)) && options.system.waitForDrivers && !stopInventory.stopped) {
        log.info(`drivers still loading after ${driversWaitMs / 1000} s: the inventory shows what is there now`);
      }
      stopInventory.throwIfStopped();
      const found = await collectInventory(platform);
      await client.inventory(found);
      log.info(`inventory: ${found.cpus} CPU(s), ${found.memoryBytes} bytes, ${found.disks.length} disk(s), ${found.nics.length} NIC(s)`);
    };
    // An extended lease outlives the certificates: they are signed again for the new end, and sshd
    // reloads (a reload closes its listening socket for a moment: a login right then is refused). The
    // certificates stay valid a few minutes past the lease (the control plane's margin), so a lease end
    // that moved by less than that is no reason: the lease restarting at `ready` (seconds after the
    // certificates) reloaded sshd just as the customer logged in.
    let certifiedUntil = config.expiresAt;
    const leaseChanged = async (expiresAt: string): Promise<void> => {
      if (certified === 0 || Date.parse(expiresAt) <= Date.parse(certifiedUntil) + certificateMarginMs) return;
      certifiedUntil = expiresAt;
      try {
        if ((await certify()) > 0) await system.startSshd(passwordLogin);
        log.info(`the lease now ends at ${expiresAt}: host certificates signed again, sshd reloaded`);
      } catch (error) {
        if (error instanceof AgentApiError) throw error;
        log.error(`host certificates for the extended lease: ${String(error)}`);
      }
    };
    return await serve(client, options, inventory, leaseChanged);
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

/**
 * Heartbeats, the work long poll and the inventory, side by side, until revoked, stopped or
 * rebooting. The inventory ending does not stop the others; its failure (a revoked token) does.
 */
async function serve(
  client: ControlPlaneClient,
  options: AgentOptions,
  inventory: (stop: Stop) => Promise<void>,
  leaseChanged: (expiresAt: string) => Promise<void>,
): Promise<AgentOutcome> {
  const { log, platform } = options;
  const heartbeatMs = (options.heartbeatSeconds ?? 30) * 1000;
  const stop = options.stop.child();
  let rebooting = false;
  const rootDir = options.system.rootDir;
  // rescue-tests requests: request id by test id, for the status files the helper follows.
  const requestOf = new Map<string, string>();
  const rescueSystem = new RescueSystem(platform, options.system);
  const tests = new HardwareTests({
    platform,
    rootDir,
    log,
    driversLoaded: (testStop) => rescueSystem.driversLoaded(options.driversWaitMs ?? 120_000, testStop),
    progress: (workId, report) => client.progress(workId, report),
    onStatus: (testId, status) => {
      const requestId = requestOf.get(testId);
      if (requestId === undefined) return;
      // The outcome is told to the helper once the control plane has it (below): a helper that says
      // "passed" means the history says so too.
      if (status.outcome) {
        outcomes.set(testId, { ...status.outcome, progress: status.progress });
        return;
      }
      writeRequestStatus(platform, rootDir, requestId, { testId, status: 'running', progress: status.progress, summary: status.summary }).catch((error: unknown) =>
        log.error(`rescue-tests status of ${requestId}: ${String(error)}`),
      );
    },
  });
  // Outcomes of tests started from SSH, waiting for their report to the control plane.
  const outcomes = new Map<string, HardwareTestOutcome & { progress: number }>();
  const tellHelper = async (testId: string, requestId: string, reportError: unknown): Promise<void> => {
    const outcome = outcomes.get(testId);
    outcomes.delete(testId);
    if (!outcome) return;
    const summary = reportError === undefined ? outcome.summary : `${outcome.summary} (not recorded in the server's history: ${reportError instanceof Error ? reportError.message : String(reportError)})`;
    await writeRequestStatus(platform, rootDir, requestId, { testId, status: outcome.status, progress: outcome.progress, summary, result: outcome.result }).catch((error: unknown) =>
      log.error(`rescue-tests status of ${requestId}: ${String(error)}`),
    );
  };
  const doctor = options.doctor ? new Doctor({ platform, rootDir, log }) : undefined;
  const handlers = jobHandlers(
    options,
    () => {
      rebooting = true;
    },
    tests,
    client,
    doctor,
  );
  // The doctor's runs, one at a time (the Doctor queues them); their report failing is only logged.
  const runDoctor = (): void => {
    if (!doctor || rebooting) return;
    const doctorRun: Promise<void> = doctor.run(async (report) => {
      try {
        await client.doctor(report);
      } catch (error) {
        if (error instanceof AgentApiError && error.code === 'AGENT_TOKEN_REVOKED') throw error;
        log.error(`doctor: the control plane did not take the report (${error instanceof Error ? error.message : String(error)})`);
      }
    }, stop).then(
      () => undefined,
      (error: unknown) => {
        if (!stop.stopped) log.error(`doctor: ${String(error)}`);
      },
    );
    running.add(doctorRun);
    void doctorRun.finally(() => running.delete(doctorRun));
  };

  // Background work (hardware tests) in flight; awaited when the agent stops (their programs are killed).
  const running = new Set<Promise<void>>();
  // A test from SSH is both answered to the request and queued as work: whichever comes first runs it.
  const runningWork = new Set<string>();
  const inBackground = (job: AgentJob, reported?: (error: unknown) => Promise<void>): void => {
    if (runningWork.has(job.id)) return;
    runningWork.add(job.id);
    const done = runJob(client, job, handlers, log, stop).then(
      () => reported?.(undefined),
      (error: unknown) => {
        if (!stop.stopped) log.error(`job ${job.id} (${job.kind}): the result could not be reported: ${String(error)}`);
        return reported?.(error);
      },
    );
    running.add(done);
    void done.finally(() => running.delete(done));
    // Kept after the end: work delivered late by the long poll is not run a second time.
  };
  // After ready (this function runs once ready is answered), beside everything else: ready never waits for it.
  runDoctor();
  const requests = (async () => {
    await platform.mkdir(joinPath(rootDir, requestsDir), 0o700).catch(() => undefined);
    // Never ends before the agent stops: the race below must not end on it while a reboot is reported.
    while (!stop.stopped) {
      for (const request of rebooting ? [] : await takeRequests(platform, rootDir)) {
        try {
          const created = await client.createTest(request.body);
          requestOf.set(created.testId, request.requestId);
          await writeRequestStatus(platform, rootDir, request.requestId, { testId: created.testId, status: 'running', progress: 0, summary: 'starting' });
          log.info(`rescue-tests request ${request.requestId}: test ${created.testId}`);
          inBackground({ id: created.workId, kind: hardwareTestWork, params: { ...(request.body.params as object), testId: created.testId } }, (error) =>
            tellHelper(created.testId, request.requestId, error),
          );
        } catch (error) {
          if (stop.stopped) break;
          const summary = error instanceof Error ? error.message : String(error);
          await writeRequestStatus(platform, rootDir, request.requestId, { testId: null, status: 'error', progress: 0, summary }).catch(() => undefined);
        }
      }
      if (doctor && !rebooting && (await doctor.takeRerunRequest().catch(() => false))) {
        log.info('doctor: run again (rescue-doctor --rerun)');
        runDoctor();
      }
      await platform.sleep(1000, stop);
    }
  })();
  const heartbeats = (async () => {
    while (!stop.stopped) {
      const { expiresAt } = await client.heartbeat();
      if (expiresAt !== undefined) await leaseChanged(expiresAt);
      await platform.sleep(heartbeatMs, stop);
    }
  })();
  const work = (async () => {
    while (!stop.stopped && !rebooting) {
      for (const job of await client.work(options.workWaitSeconds ?? 25)) {
        // Nothing runs after a reboot began: the work left is answered by no one, as after a crash.
        if (rebooting) break;
        if (backgroundWork.has(job.kind)) inBackground(job);
        else await runJob(client, job, handlers, log, stop);
      }
    }
  })();
  const inventoryDone = inventory(stop).then(
    () => new Promise<void>(() => undefined),
    (error: unknown) => {
      if (stop.stopped) return new Promise<void>(() => undefined);
      throw error;
    },
  );
  try {
    // The first loop to fail (a revoked token) or the work loop ending (a reboot) stops the others.
    await Promise.race([heartbeats, work, inventoryDone, requests]);
    return rebooting ? 'rebooting' : 'aborted';
  } finally {
    stop.stop();
    await Promise.allSettled([heartbeats, work, requests, ...running]);
  }
}

async function runJob(client: ControlPlaneClient, job: AgentJob, handlers: ReadonlyMap<string, JobHandler>, log: AgentLog, stop: Stop): Promise<void> {
  const handler = handlers.get(job.kind);
  let result: JobOutcome;
  if (!handler) {
    result = { state: 'failed', message: `unsupported job kind "${job.kind}": this agent has no handler for it`, result: { code: 'JOB_UNSUPPORTED' } };
  } else {
    try {
      result = await handler(job.params, stop, job);
    } catch (error) {
      result = { state: 'failed', message: error instanceof Error ? error.message : String(error) };
    }
  }
  log.info(`job ${job.id} (${job.kind}): ${result.state}${result.message ? `: ${result.message}` : ''}`);
  const { afterReport, ...report } = result;
  await client.result(job.id, report);
  await afterReport?.();
}
