/**
 * The rescue flow as durable jobs. Each handler is idempotent: it re-reads the session, does nothing
 * when the session has moved on, and skips the task steps it already completed, so a handler resumed
 * after a crash picks up where it stopped instead of rebooting a server twice.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { LifeboatError, installedSystemAnswersSsh, type RescueSession, type Server, type TaskKind } from '@lifeboat/core';
import type { ConsoleRecorder } from '../console/console-recorder.js';
import { stoppedBoot } from '../console/console-text.js';
import type { PowerDriver, PowerDriverFactory } from '../drivers/power/power-driver.js';
import { serverLockKey, type Job, type JobQueue } from '../jobs/job-queue.js';
import { deadlineJob, expiryWarningJob, type DeadlineParams } from '../jobs/scheduler.js';
import { PermanentJobError, type GiveUpHandler, type JobContext, type JobHandler } from '../jobs/worker.js';
import type { Mailer } from '../mail/index.js';
import { isDatabaseUnavailable } from '../store/database.js';
import type { Store } from '../store/store.js';
import { BootTimeline } from './boot-timeline.js';
import { installedSystemAnswers, rescueSystemGone, sshBanner } from './os-probe.js';
import { enterJob, exitJob, mailCredentialsJob, mailPasswordSecret, restoreDiskBootJob, type RescueJobParams, type RescueService } from './rescue-service.js';

import { leaveRescueWork } from '@lifeboat/core';

/** The agent work kind of a clean exit (one name in core, read by the agent and this job). */
export { leaveRescueWork };

/** The audit action that records a credentials mail accepted by the SMTP server. */
const mailedAction = 'rescue.credentials_mailed';

/** How often the exit job looks for the agent's answer. */
const agentPollMs = 250;

/**
 * Attempts of the job that sets the boot device back to disk once the BMC answers: with the worker's
 * backoff capped at a minute, about a week of retries (a BMC repaired, or its password updated, later).
 */
const restoreAttempts = 10_000;

/** What the restore job needs: whose boot device, and whether the server may be running the rescue system. */
interface RestoreParams {
  readonly sessionId: string;
  readonly serverId: string;
  /** Cycle the power after setting disk boot: the server was rebooted into the rescue system. */
  readonly cycle: boolean;
}

/**
 * Runs `write` again every half second while the database cannot be reached (until `signal` aborts):
 * for the record of a BMC action already done, which must not be lost to an outage (the action would
 * be repeated when the job resumes).
 */
async function untilDatabaseAnswers<T>(write: () => Promise<T>, signal: AbortSignal): Promise<T> {
  for (;;) {
    try {
      return await write();
    } catch (error) {
      if (!isDatabaseUnavailable(error) || signal.aborted) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** A duration as a person says it: `45 s`, `3 min`. */
function spoken(ms: number): string {
  return ms < 120_000 ? `${Math.max(1, Math.round(ms / 1000))} s` : `${Math.round(ms / 60_000)} min`;
}

/** The host (and port) of a BMC URL, for messages. */
function bmcHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** The `BMC_*` error behind a job's failure (unwrapped from `PermanentJobError`), if it is one. */
function bmcErrorOf(error: unknown): LifeboatError | undefined {
  const cause = error instanceof PermanentJobError ? error.cause : error;
  return cause instanceof LifeboatError && cause.code.startsWith('BMC_') ? cause : undefined;
}

/**
 * A BMC that refused the credentials is asked once more (the next attempt, after the backoff: a
 * password being changed at that moment, a BMC's session table full for a moment); refused again, the
 * job fails for good instead of retrying a password that stays wrong.
 */
async function refusedCredentialsAreFinal(job: Job, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (error instanceof LifeboatError && error.code === 'BMC_AUTH_FAILED' && job.attempts >= 2) throw new PermanentJobError(error);
    throw error;
  }
}

/** The installed system's boot stopped for good after an exit (its console shows why). */
class BootStopped extends Error {}

/** What the rescue jobs need. */
export interface RescueJobOptions {
  readonly store: Store;
  readonly queue: JobQueue;
  readonly rescue: RescueService;
  /** Builds a BMC driver for a server (H6's `drivers/power`, or a test double at this boundary only). */
  readonly powerDrivers: PowerDriverFactory;
  /** Tells whether the installed system answers after an exit (default: SSH banner + host keys). */
  readonly osAnswers?: (server: Server, session: RescueSession) => Promise<boolean>;
  /**
   * Tells whether the rescue system has left the server's SSH endpoint after an exit to an installed
   * system that does not answer SSH (a windows rescue's; default: no SSH banner, or none of its host keys).
   */
  readonly rescueGone?: (server: Server, session: RescueSession) => Promise<boolean>;
  /** Sends credentials and expiry warnings; without it nothing is mailed. */
  readonly mailer?: Mailer;
  /** Records the console while a server enters or leaves rescue; failures quote its last lines. */
  readonly recorder?: ConsoleRecorder;
  /** How often to probe the installed system while exiting. */
  readonly probeIntervalMs?: number;
  /** How long a soft shutdown (ACPI) may take before the power is cut instead (default 90 s). */
  readonly softShutdownMs?: number;
  /**
   * A control plane killed while the BMC took the enter's power cycle: a cycle leaves nothing to read
   * back, so the resumed job gives a server that is on this long to ask for its rescue script before it
   * cycles it again (default 90 s).
   */
  readonly netbootAfterCycleWaitMs?: number;
  /**
   * How long an exit waits for the agent's answer to `leave_rescue` before the BMC cycles the power
   * (default 60 s: the agent's work long poll picks work up within a second, its retries after a
   * control-plane restart wait at most 15 s).
   */
  readonly agentExitWaitMs?: number;
  /**
   * When the console shows a boot stopped for good, how long it must then print nothing before its
   * lines are quoted (default 1.5 s: systemd prints the emergency shell's prompt a moment after its
   * banner); the wait is at most 10 s.
   */
  readonly consoleQuietMs?: number;
  readonly log: { info(o: object, m: string): void; warn(o: object, m: string): void };
}

/** The handlers, by job kind, and what to do when each gives up. */
export function rescueJobs(options: RescueJobOptions): { handlers: Record<string, JobHandler>; onGiveUp: Record<string, GiveUpHandler> } {
  const { store, powerDrivers, log } = options;
  const timeline = new BootTimeline(store);
  const probeIntervalMs = options.probeIntervalMs ?? 2000;
  const osAnswers =
    options.osAnswers ?? (async (server: Server, session: RescueSession) => server.sshEndpoint === null || installedSystemAnswers(server.sshEndpoint, session.hostKeys));
  const rescueGone =
    options.rescueGone ?? (async (server: Server, session: RescueSession) => server.sshEndpoint === null || rescueSystemGone(server.sshEndpoint, session.hostKeys));

  /** A failure's reason, with the last lines of the console when they were recorded. */
  async function withConsole(sessionId: string, reason: string): Promise<string> {
    const tail = await options.recorder?.tail(sessionId).catch(() => null);
    return tail ? `${reason}: the console ends with '${tail}'` : reason;
  }

  /**
   * Why a job that drives the BMC failed, in words the customer can act on: an unanswering BMC and
   * refused credentials are the provider's to fix, and say so; `since` is when the work began.
   */
  function bmcTrouble(server: Server, error: unknown, since: Date): string {
    const bmc = bmcErrorOf(error);
    const host = bmcHost(server.bmc.url);
    if (bmc?.code === 'BMC_UNREACHABLE') {
      return `the server's BMC at ${host} did not answer for ${spoken(store.now().getTime() - since.getTime())}; ask your provider to check the BMC, then try again (${bmc.message})`;
    }
    if (bmc?.code === 'BMC_AUTH_FAILED') return `the server's BMC at ${host} refused the credentials Lifeboat has for it; ask your provider to update them, then try again`;
    return error instanceof Error ? error.message : String(error);
  }

  /** Queues the job that sets the server back to disk boot once its BMC answers again. */
  async function restoreWhenBmcAnswers(server: Server, sessionId: string, cycle: boolean): Promise<void> {
    const params: RestoreParams = { sessionId, serverId: server.id, cycle };
    await options.queue.add(restoreDiskBootJob, params, { dedupeKey: `restore:${sessionId}`, lockKey: serverLockKey(server.id), maxAttempts: restoreAttempts });
  }

  /** What the console printed after `mark`, once it printed nothing new for `consoleQuietMs` (or 10 s passed). */
  async function settledConsole(sessionId: string, mark: number, signal: AbortSignal): Promise<Buffer | null> {
    const quietMs = options.consoleQuietMs ?? 1500;
    const until = Date.now() + 10_000;
    let printed = options.recorder?.since(sessionId, mark) ?? null;
    while (printed !== null && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, quietMs));
      signal.throwIfAborted();
      const now = options.recorder?.since(sessionId, mark) ?? null;
      if (now === null || now.length === printed.length) return now ?? printed;
      printed = now;
    }
    return printed;
  }

  async function driverFor(server: Server): Promise<PowerDriver> {
    return powerDrivers({ driver: server.bmc.driver, url: server.bmc.url, user: server.bmc.user, password: await store.servers.bmcPassword(server) });
  }

  /**
   * Runs a step once: a step already completed (before a crash) is skipped, and so is a step the
   * timeline refuses to start (the session moved on: the job's own state checks then stop it).
   */
  async function step(params: RescueJobParams, kind: TaskKind, name: string, signal: AbortSignal, work: (resumed: boolean, interrupted: boolean) => Promise<string | void>): Promise<void> {
    const task = await store.tasks.byId(params.taskId);
    const before = task?.steps.find((s) => s.name === name)?.state;
    if (before === 'completed') return;
    if ((await timeline.record(params.sessionId, name, 'running', undefined, kind)) !== 'recorded') return;
    try {
      // `resumed`: the step had begun before (a crash or a failed attempt): its BMC action may be done;
      // `interrupted`: it was running when the control plane died (not a failed attempt).
      const detail = await work(before === 'running' || before === 'failed', before === 'running');
      // The BMC did it: wait for the database rather than fail, so that the step is not done again.
      await untilDatabaseAnswers(() => timeline.record(params.sessionId, name, 'completed', detail ?? undefined, kind), signal);
    } catch (error) {
      await timeline.record(params.sessionId, name, 'failed', error instanceof Error ? error.message : String(error), kind);
      throw error;
    }
  }

  async function load(sessionId: string): Promise<{ session: RescueSession; server: Server } | undefined> {
    const session = await store.sessions.byId(sessionId);
    if (!session || session.endedAt !== null) return undefined;
    const server = await store.servers.byId(session.serverId);
    return server && { session, server };
  }

  /** Moves a session, treating "it moved on meanwhile" as nothing to do. */
  async function move(sessionId: string, event: Parameters<Store['sessions']['transition']>[1], reason?: string): Promise<boolean> {
    try {
      await store.sessions.transition(sessionId, event, reason === undefined ? {} : { reason });
      return true;
    } catch (error) {
      if (error instanceof LifeboatError && error.code === 'INVALID_STATE') return false;
      throw error;
    }
  }

  /** The BMC's next boot device, when the driver can read it; undefined when it cannot or the read fails. */
  async function bootDeviceOf(driver: PowerDriver, signal: AbortSignal): Promise<string | undefined> {
    if (!driver.bootDevice) return undefined;
    try {
      return await driver.bootDevice(signal);
    } catch (error) {
      signal.throwIfAborted();
      log.warn({ err: error }, 'could not read the boot device; setting it again');
      return undefined;
    }
  }

  async function reboot(driver: PowerDriver, signal: AbortSignal): Promise<string> {
    const state = await driver.powerState(signal);
    if (state === 'off') {
      await driver.setPower('on', signal);
      return 'was off: powered on';
    }
    await driver.setPower('cycle', signal);
    return 'power cycled through the BMC';
  }

  /**
   * Enter's reboot: when the installed system answers on SSH and the BMC can ask it to shut down
   * (ACPI), let it shut down cleanly first, so its file systems are clean for the rescue; otherwise,
   * or when it does not stop in time, cycle the power.
   */
  async function rebootForRescue(server: Server, driver: PowerDriver, signal: AbortSignal): Promise<string> {
    const state = await driver.powerState(signal);
    if (state === 'off') {
      await driver.setPower('on', signal);
      return 'was off: powered on';
    }
    const answers = server.sshEndpoint !== null && driver.capabilities.has('soft-power') && (await sshBanner(server.sshEndpoint, 3000)) !== null;
    if (answers) {
      await driver.setPower('soft', signal);
      const until = Date.now() + (options.softShutdownMs ?? 90_000);
      while (Date.now() < until) {
        signal.throwIfAborted();
        if ((await driver.powerState(signal)) === 'off') {
          await driver.setPower('on', signal);
          return 'the installed system shut down cleanly (ACPI); powered on';
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      await driver.setPower('cycle', signal);
      return `the installed system did not shut down within ${Math.round((options.softShutdownMs ?? 90_000) / 1000)} s: power cycled`;
    }
    await driver.setPower('cycle', signal);
    return 'power cycled through the BMC (the installed system did not answer)';
  }

  const enter: JobHandler = ({ job, signal }: JobContext) => refusedCredentialsAreFinal(job, () => enterSteps(job, signal));

  async function enterSteps(job: Job, signal: AbortSignal): Promise<void> {
    const params = job.params as RescueJobParams;
    const { sessionId, taskId } = params;
    const loaded = await load(sessionId);
    if (!loaded || loaded.session.state !== 'rescue_requested') return stopEnter(taskId, loaded?.session);
    // From before the reboot: firmware, iPXE and kernel lines are what tell why a rescue did not come up.
    options.recorder?.record(loaded.server, sessionId);
    const driver = await driverFor(loaded.server);
    // Safe points: between BMC commands the job re-reads the session, and stops when it moved on (an
    // exit was requested, the deadline rolled it back). The exit job, which holds the same server lock
    // key, runs only once this job has stopped, so the BMC never sees the two interleaved.
    const moved = async () => {
      const current = await load(sessionId);
      if (current?.session.state === 'rescue_requested') return false;
      await stopEnter(taskId, current?.session);
      return true;
    };
    await step(params, 'enter_rescue', 'validated', signal, async () => {
      driver.validate();
      return `${driver.name} BMC at ${loaded.server.bmc.url}`;
    });
    if (await moved()) return;
    await step(params, 'enter_rescue', 'boot_device_set', signal, async (resumed) => {
      // Read before repeating: the BMC may have done it before the control plane died.
      const already = resumed && (await bootDeviceOf(driver, signal)) === 'network';
      if (!already) await driver.setBootDevice('network', { signal });
      await store.sessions.setNetboot(sessionId, 'rescue');
      return already ? 'next boot: network (iPXE), already set on the BMC before a restart' : 'next boot: network (iPXE)';
    });
    if (await moved()) return;
    await step(params, 'enter_rescue', 'power_cycled', signal, async (resumed, interrupted) => {
      const netbooted = async () => (await store.tasks.byId(taskId))?.steps.find((s) => s.name === 'ipxe_script_served')?.state === 'completed';
      // The server already fetched its rescue script: the reboot happened before the control plane died.
      if (resumed && (await netbooted())) return 'the server was already netbooting the rescue system (rebooted before a restart)';
      // Killed during the cycle: the BMC may have taken it, and a cycle leaves nothing to read back. A
      // server that is on gets time to ask for its script before it is cycled a second time.
      if (interrupted && (await driver.powerState(signal)) === 'on') {
        const until = Date.now() + (options.netbootAfterCycleWaitMs ?? 90_000);
        while (Date.now() < until) {
          if (await netbooted()) return 'the server netbooted the rescue system after a power cycle sent before a restart';
          await sleep(1000, undefined, { signal });
        }
      }
      return rebootForRescue(loaded.server, driver, signal);
    });
    if (await move(sessionId, 'boot_started')) log.info({ server: loaded.server.name, session: sessionId }, 'rescue boot started');
    else await stopEnter(taskId, (await load(sessionId))?.session);
  }

  /** Ends an enter task that stopped because its session moved on (exit requested, rolled back, gone). */
  async function stopEnter(taskId: string, session: RescueSession | undefined): Promise<void> {
    // Resumed after the boot started: the task goes on (the netboot and the agent complete it).
    if (session?.state === 'preparing_rescue' || session?.state === 'rescue') return;
    const why =
      session === undefined ? 'the rescue session is over' : session.state === 'exiting_rescue' ? 'stopped: rescue exit requested' : `stopped: the rescue is ${session.state}`;
    await store.tasks.finish(taskId, 'failed', why);
  }

  const enterGaveUp: GiveUpHandler = async (job, error) => {
    const { sessionId, taskId } = job.params as RescueJobParams;
    const loaded = await load(sessionId);
    const why = loaded ? bmcTrouble(loaded.server, error, loaded.session.createdAt) : error instanceof Error ? error.message : String(error);
    const reason = await withConsole(sessionId, `could not start the rescue boot: ${why}`);
    // An exit requested meanwhile sets the boot device back itself (its job runs next): no rollback.
    if ((await load(sessionId))?.session.state === 'rescue_requested') await rollBack(sessionId, reason);
    await store.tasks.finish(taskId, 'failed', reason);
  };

  /** Back to disk boot after a failed rescue: best effort on the BMC, then `rescue_failed` with the reason. */
  async function rollBack(sessionId: string, reason: string): Promise<void> {
    const loaded = await load(sessionId);
    if (!loaded) return;
    let detail = reason;
    await store.sessions.setNetboot(sessionId, 'disk');
    try {
      const driver = await driverFor(loaded.server);
      await driver.setBootDevice('disk');
      if ((await driver.powerState()) === 'on') await driver.setPower('cycle');
      detail += '; the server was set back to boot from its disk';
    } catch (error) {
      // The BMC does not answer (or refuses): a job does it once it answers again.
      const enterTask = await store.tasks.latestFor(sessionId, 'enter_rescue');
      const rebooted = enterTask?.steps.some((s) => s.name === 'power_cycled' && s.state === 'completed') ?? false;
      await restoreWhenBmcAnswers(loaded.server, sessionId, rebooted);
      log.warn({ server: loaded.server.name, session: sessionId, err: error }, 'could not set the server back to disk boot; retrying once its BMC answers');
      detail += '; the server will be set back to boot from its disk as soon as its BMC answers';
    }
    await store.sessions.revokeAgentToken(sessionId);
    await store.secrets.delete(mailPasswordSecret(sessionId));
    await move(sessionId, 'fail', detail);
  }

  /** The agent's answer to `leave_rescue` (packages/agent/src/leave-rescue.ts), as far as it can be trusted. */
  function leaveReport(result: unknown): { unmounted: string[]; clean: boolean; detail: string } | undefined {
    if (typeof result !== 'object' || result === null) return undefined;
    const r = result as Record<string, unknown>;
    if (!Array.isArray(r.unmounted) || typeof r.clean !== 'boolean' || typeof r.detail !== 'string') return undefined;
    return { unmounted: r.unmounted.filter((m): m is string => typeof m === 'string'), clean: r.clean, detail: r.detail.slice(0, 2000) };
  }

  /**
   * Exit's reboot: an agent that serves the session (the rescue was ready) is asked to sync, release
   * the installed system and reboot; the BMC cycles the power only when it does not answer in time
   * (or fails). The work row is the record of the question and its answer: a job resumed after a
   * crash finds it and neither asks twice nor cycles the power after a clean reboot.
   */
  async function rebootForExit(sessionId: string, taskId: string, driver: PowerDriver, signal: AbortSignal): Promise<string> {
    const enterTask = await store.tasks.latestFor(sessionId, 'enter_rescue');
    const agentServes = enterTask?.steps.some((s) => s.name === 'ready' && s.state === 'completed') ?? false;
    // Only this exit's question counts (not one of an earlier, failed exit, nor work a user queued).
    const asked = async () => (await store.agentWork.ofKind(sessionId, leaveRescueWork)).find((w) => (w.params as { taskId?: unknown }).taskId === taskId);
    let work = await asked();
    if (!work) {
      if (!agentServes) return `the rescue system was not ready: ${await reboot(driver, signal)}`;
      const id = await store.agentWork.add(sessionId, leaveRescueWork, { taskId });
      work = { id, params: { taskId }, state: 'pending', result: null, message: null };
    }
    const waitMs = options.agentExitWaitMs ?? 60_000;
    const until = Date.now() + waitMs;
    while (work.state !== 'completed' && work.state !== 'failed' && Date.now() < until) {
      signal.throwIfAborted();
      if ((await load(sessionId))?.session.state !== 'exiting_rescue') throw new LifeboatError('INVALID_STATE', 'the exit was ended meanwhile');
      await new Promise((resolve) => setTimeout(resolve, Math.min(agentPollMs, Math.max(0, until - Date.now()))));
      work = (await asked()) ?? work;
    }
    const report = work.state === 'completed' ? leaveReport(work.result) : undefined;
    if (report) {
      return report.clean ? `agent rebooted cleanly (${report.detail})` : `agent rebooted, not cleanly: ${report.detail}`;
    }
    const why =
      work.state === 'failed' || work.state === 'completed'
        ? `the agent could not leave cleanly (${work.message ?? 'no report'})`
        : `the agent did not answer within ${Math.round(waitMs / 1000)} s`;
    return `${why}: ${await reboot(driver, signal)}`;
  }

  const exit: JobHandler = ({ job, signal }: JobContext) => refusedCredentialsAreFinal(job, () => exitSteps(job, signal));

  async function exitSteps(job: Job, signal: AbortSignal): Promise<void> {
    const params = job.params as RescueJobParams;
    const { sessionId, taskId } = params;
    const loaded = await load(sessionId);
    if (!loaded || loaded.session.state !== 'exiting_rescue') {
      // Killed between the session's end and its task's (found by the random kill points): the exit
      // is done, its timeline is closed now (`finish` leaves an ended task as it is).
      const ended = await store.sessions.byId(sessionId);
      if (ended?.endedAt != null && ended.state === 'active') await store.tasks.finish(taskId, 'completed');
      return;
    }
    const { server } = loaded;
    options.recorder?.record(server, sessionId);
    // An exit requested while entering: the enter job has stopped (it holds the same lock key); its
    // timeline ends here, where it stopped.
    const entering = await store.tasks.latestFor(sessionId, 'enter_rescue');
    if (entering && entering.endedAt === null) await store.tasks.finish(entering.id, 'failed', 'stopped: rescue exit requested');
    const driver = await driverFor(server);
    await step(params, 'exit_rescue', 'boot_device_set', signal, async (resumed) => {
      driver.validate();
      await store.sessions.setNetboot(sessionId, 'disk');
      if (resumed && (await bootDeviceOf(driver, signal)) === 'disk') return 'next boot: disk, already set on the BMC before a restart';
      await driver.setBootDevice('disk', { signal });
      return 'next boot: disk';
    });
    const ended = (error: unknown): 'stop' => {
      if (error instanceof LifeboatError && error.code === 'INVALID_STATE') return 'stop';
      throw error;
    };
    if ((await step(params, 'exit_rescue', 'rebooted', signal, () => rebootForExit(sessionId, taskId, driver, signal)).catch(ended)) === 'stop') return;
    const stopped = await step(params, 'exit_rescue', 'os_answered', signal, async () => {
      if (server.sshEndpoint === null) return 'no SSH endpoint registered: not checked';
      // Only what the console prints from now on counts: the boot that follows this exit's reboot (an
      // emergency mode recorded before the rescue, or before a restart of this job, does not).
      const mark = (await options.recorder?.position(sessionId)) ?? null;
      for (;;) {
        signal.throwIfAborted();
        const current = await load(sessionId);
        if (!current || current.session.state !== 'exiting_rescue') throw new LifeboatError('INVALID_STATE', 'the exit was ended meanwhile');
        if (!installedSystemAnswersSsh(current.session.profile)) {
          if (await rescueGone(server, current.session)) {
            return `the rescue system left ${server.sshEndpoint.host}:${server.sshEndpoint.port}; a ${current.session.profile} system answers RDP, not SSH: its start is not checked`;
          }
        } else if (await osAnswers(server, current.session)) return `SSH answers on ${server.sshEndpoint.host}:${server.sshEndpoint.port}`;
        // A boot stuck in emergency mode or a kernel panic waits for a person: say so now rather than
        // at the exit's deadline (after a repair on the console, `rescue exit` again checks anew).
        const printed = mark === null ? null : options.recorder?.since(sessionId, mark);
        if (mark !== null && printed && stoppedBoot(printed)) {
          const settled = await settledConsole(sessionId, mark, signal);
          const stop = settled && stoppedBoot(settled);
          if (stop) throw new BootStopped(`it stopped ${stop.what}: the console shows '${stop.quote}'`);
        }
        await new Promise((resolve) => setTimeout(resolve, probeIntervalMs));
      }
    }).then(
      () => undefined,
      (error: unknown) => (error instanceof BootStopped ? error : ended(error)),
    );
    if (stopped instanceof BootStopped) {
      const reason = `the installed system did not come back: ${stopped.message}`;
      if (await move(sessionId, 'exit_fail', reason)) await store.tasks.finish(taskId, 'failed', reason);
      log.warn({ server: server.name, session: sessionId }, reason);
      return;
    }
    if ((await load(sessionId))?.session.state !== 'exiting_rescue') return;
    await step(params, 'exit_rescue', 'agent_token_revoked', signal, async () => {
      await store.sessions.revokeAgentToken(sessionId);
      await store.secrets.delete(mailPasswordSecret(sessionId));
    });
    if (await move(sessionId, 'exited')) {
      await store.tasks.finish(taskId, 'completed');
      log.info({ server: server.name, session: sessionId }, 'rescue exited: server active');
    }
  }

  const exitGaveUp: GiveUpHandler = async (job, error) => {
    const { sessionId, taskId } = job.params as RescueJobParams;
    const loaded = await load(sessionId);
    const task = await store.tasks.byId(taskId);
    let why = loaded ? bmcTrouble(loaded.server, error, task?.createdAt ?? loaded.session.updatedAt) : error instanceof Error ? error.message : String(error);
    const diskSet = task?.steps.some((s) => s.name === 'boot_device_set' && s.state === 'completed') ?? false;
    if (loaded && bmcErrorOf(error) && !diskSet) {
      // The server still runs the rescue system: its next boot, whoever starts it, must be from disk.
      await restoreWhenBmcAnswers(loaded.server, sessionId, false);
      why += '; the server will be set to boot from its disk as soon as its BMC answers';
    }
    const reason = await withConsole(sessionId, `could not leave rescue: ${why}`);
    await move(sessionId, 'exit_fail', reason);
    await store.tasks.finish(taskId, 'failed', reason);
  };

  /**
   * Sets a failed rescue's server back to disk boot once its BMC answers again. Reads before acting: a
   * boot device already on disk is not set again, a server that is off is not cycled. It does nothing
   * when the session moved on (a new rescue, an exit requested again): that flow owns the BMC now.
   * Errors, an unanswering BMC and refused credentials alike, are retried (the provider may fix both).
   */
  const restoreDiskBoot: JobHandler = async ({ job, signal }: JobContext) => {
    const { sessionId, serverId, cycle } = job.params as RestoreParams;
    const session = await store.sessions.byId(sessionId);
    if (!session || session.endedAt !== null || (session.state !== 'rescue_failed' && session.state !== 'exit_failed')) return;
    const server = await store.servers.byId(serverId);
    if (!server) return;
    const driver = await driverFor(server);
    driver.validate();
    const before = driver.bootDevice ? await driver.bootDevice(signal) : undefined;
    if (before !== 'disk') await driver.setBootDevice('disk', { signal });
    const cycled = cycle && (await driver.powerState(signal)) === 'on';
    if (cycled) await driver.setPower('cycle', signal);
    const detail = { sessionId, bootDevice: before === 'disk' ? 'already disk' : 'set to disk', powerCycled: cycled };
    await store.audit.record('system', 'rescue.disk_boot_restored', { tenantId: server.tenantId, serverId, detail });
    log.info({ server: server.name, session: sessionId, ...detail }, 'the BMC answers again: the server boots from its disk');
  };

  const deadline: JobHandler = async ({ job }: JobContext) => {
    const { sessionId, state } = job.params as DeadlineParams;
    const loaded = await load(sessionId);
    if (!loaded || loaded.session.state !== state) return;
    const { server, session } = loaded;
    const minutes = (from: Date, to: Date | null) => Math.round(((to?.getTime() ?? from.getTime()) - from.getTime()) / 60_000);
    switch (session.state) {
      case 'rescue_requested':
      case 'preparing_rescue': {
        const task = await store.tasks.latestFor(sessionId, 'enter_rescue');
        const waited = minutes(session.updatedAt, session.deadlineAt);
        const reason = await withConsole(
          sessionId,
          session.state === 'preparing_rescue' ? `the rescue system did not report ready within ${waited} min` : `the BMC steps did not finish within ${waited} min`,
        );
        await rollBack(sessionId, reason);
        if (task) await store.tasks.finish(task.id, 'failed', reason);
        log.warn({ server: server.name, session: sessionId }, reason);
        return;
      }
      case 'rescue':
        await options.rescue.exit('lease', server);
        log.info({ server: server.name, session: sessionId }, 'rescue lease ended: exiting');
        return;
      case 'exiting_rescue': {
        const within = minutes(session.updatedAt, session.deadlineAt);
        const reason = await withConsole(
          sessionId,
          installedSystemAnswersSsh(session.profile)
            ? `the installed system did not come back: it did not answer on SSH within ${within} min`
            : `the rescue system did not leave: it still answered on SSH after ${within} min`,
        );
        await move(sessionId, 'exit_fail', reason);
        const task = await store.tasks.latestFor(sessionId, 'exit_rescue');
        if (task) await store.tasks.finish(task.id, 'failed', reason);
        return;
      }
      default:
        return;
    }
  };

  /**
   * Mails the credentials once. The audit event `rescue.credentials_mailed` is the record that the SMTP
   * server accepted the mail: written right after its acceptance, read before sending. A crash in the
   * milliseconds between the two sends the mail again with the same Message-ID (chosen over recording
   * before sending, which would lose the mail when the send then fails: the customer could not log in).
   */
  const mailCredentials: JobHandler = async ({ job }: JobContext) => {
    const { sessionId } = job.params as { sessionId: string };
    const loaded = await load(sessionId);
    const mailer = options.mailer;
    if (!loaded || !mailer || loaded.session.email === null || loaded.session.state !== 'rescue') return;
    const { server, session } = loaded;
    if (await store.audit.recordedFor(mailedAction, server.id, sessionId)) {
      await store.secrets.delete(mailPasswordSecret(sessionId));
      return;
    }
    const view = options.rescue.view(server, session);
    if (view.ssh.host === null || view.ssh.port === null) {
      log.warn({ server: server.name }, 'credentials not mailed: the server has no SSH endpoint');
      return;
    }
    const password = await store.secrets.get(mailPasswordSecret(sessionId));
    const sent = await mailer.sendRescueCredentials({
      to: session.email!,
      server: server.name,
      address: { host: view.ssh.host, port: view.ssh.port },
      user: 'root',
      ...(password === undefined ? {} : { password }),
      hostKeyFingerprints: session.hostKeys.map((k) => `${k.type} ${k.fingerprint}`),
      knownHosts: view.ssh.knownHosts,
      ...(view.ssh.certAuthority === undefined ? {} : { certAuthority: view.ssh.certAuthority }),
      expiresAt: session.expiresAt,
      exitCommand: `lifeboat rescue exit ${server.name}`,
      messageId: `<rescue-credentials.${sessionId}@lifeboat>`,
    });
    await store.audit.record('system', mailedAction, { tenantId: server.tenantId, serverId: server.id, detail: { sessionId, to: session.email, messageId: sent.messageId } });
    // Mailed: the password now exists only in the customer's mailbox.
    await store.secrets.delete(mailPasswordSecret(sessionId));
  };

  const expiryWarning: JobHandler = async ({ job }: JobContext) => {
    const { sessionId } = job.params as { sessionId: string };
    const loaded = await load(sessionId);
    if (!loaded) return;
    if (options.mailer && loaded.session.email !== null) {
      await options.mailer.sendExpiryWarning({
        to: loaded.session.email,
        server: loaded.server.name,
        expiresAt: loaded.session.expiresAt,
        exitCommand: `lifeboat rescue exit ${loaded.server.name}`,
        extendCommand: `lifeboat rescue extend ${loaded.server.name} --expires-in 2h`,
      });
    }
    await store.audit.record('system', 'rescue.expiry_warning', {
      tenantId: loaded.server.tenantId,
      serverId: loaded.server.id,
      detail: { sessionId, expiresAt: loaded.session.expiresAt.toISOString() },
    });
  };

  return {
    handlers: {
      [enterJob]: enter,
      [exitJob]: exit,
      [deadlineJob]: deadline,
      [expiryWarningJob]: expiryWarning,
      [mailCredentialsJob]: mailCredentials,
      [restoreDiskBootJob]: restoreDiskBoot,
    },
    onGiveUp: { [enterJob]: enterGaveUp, [exitJob]: exitGaveUp },
  };
}
