/**
 * The `hardware_test` work: checks its parameters again (the agent trusts no one), applies the
 * exclusion rules, runs the kind's runner with progress and cancel, and returns the outcome. Several
 * tests run at once, except two heavy tests on one resource: a second readtest or self-test of the
 * same disk, a second memory test, a second CPU test, a second check of one device are refused with
 * DEVICE_BUSY (not queued: the customer sees at once why, and starts it again when the first ends).
 */
import type { HardwareTestKind, HardwareTestOutcome, HardwareTestWorkParams, WorkProgress, WorkProgressAnswer } from '@lifeboat/core/api';
import { hardwareTestKinds } from '@lifeboat/core/api';
import { LifeboatError } from '@lifeboat/core/errors';
import type { Platform, Stop } from '../platform.js';
import { cpuRunner } from './cpu.js';
import { holdForCheck, resolveDevice } from './devices.js';
import { fsckRunner } from './fsck.js';
import { memoryRunner } from './memory.js';
import { partitionsRunner } from './partitions.js';
import { ProgressReporter } from './progress.js';
import { readtestRunner } from './readtest.js';
import type { Runner, TestContext, TestDevice } from './runner.js';
import { diskRunner, smartRunner } from './smart.js';

/** Checks work parameters (whatever the control plane checked): BAD_REQUEST when they are not a test's. */
export function checkTestParams(value: unknown): HardwareTestWorkParams {
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const bad = (what: string): never => {
    throw new LifeboatError('BAD_REQUEST', `hardware test parameters: ${what}`);
  };
  if (typeof v.testId !== 'string' || v.testId.length === 0) bad('testId missing');
  if (!hardwareTestKinds.includes(v.kind as HardwareTestKind)) bad(`unknown kind ${JSON.stringify(v.kind)}`);
  const kind = v.kind as HardwareTestKind;
  const intOrNull = (name: string): number | null => {
    const x = v[name];
    if (x === null || x === undefined) return null;
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 1) bad(`${name} must be a positive integer`);
    return x as number;
  };
  const device = v.device === null || v.device === undefined ? null : typeof v.device === 'string' ? v.device : bad('device must be a string');
  const needsDevice = kind === 'smart' || kind === 'readtest' || kind === 'fsck';
  if (needsDevice && !device) bad(`${kind} needs a device`);
  const durationSeconds = intOrNull('durationSeconds');
  if (durationSeconds !== null && durationSeconds > 86_400) bad('durationSeconds is at most 24 h');
  const selfTest = v.selfTest === null || v.selfTest === undefined ? null : v.selfTest === 'short' || v.selfTest === 'long' ? v.selfTest : bad('selfTest is short or long');
  return { testId: v.testId as string, kind, device: needsDevice ? device : null, durationSeconds, sizeBytes: intOrNull('sizeBytes'), repair: v.repair === true, selfTest };
}

/** What the hardware tests need of the agent. */
export interface HardwareTestsOptions {
  readonly platform: Platform;
  /** `/` in the image. */
  readonly rootDir: string;
  /** `POST /v1/agent/work/{id}/progress`. */
  readonly progress: (workId: string, report: WorkProgress) => Promise<WorkProgressAnswer>;
  readonly log: { info(line: string): void };
  /**
   * Waits for the image's init to finish loading the disk drivers (the rescue is ready before): a
   * test started at once must see every disk. Absent: no wait.
   */
  readonly driversLoaded?: (stop: Stop) => Promise<unknown>;
  /** Told of every progress change and of the outcome (the `rescue-tests` helper follows them). */
  readonly onStatus?: (testId: string, status: { progress: number; summary: string; outcome?: HardwareTestOutcome }) => void;
}

/** The tests running in this agent, and the resources they hold. */
export class HardwareTests {
  readonly #options: HardwareTestsOptions;
  /** Resource (`disk:sda`, `cpu`, `memory`, `fsck:sda1`) → the test holding it. */
  readonly #busy = new Map<string, string>();

  constructor(options: HardwareTestsOptions) {
    this.#options = options;
  }

  /** Runs one test to its outcome; never throws (a problem is an `error` outcome). */
  async run(workId: string, rawParams: unknown, agentStop: Stop): Promise<HardwareTestOutcome> {
    const { platform, rootDir, log } = this.#options;
    const stop = agentStop.child();
    let cancelled = false;
    let testId = '?';
    const status = (progress: number, summary: string, outcome?: HardwareTestOutcome): void => this.#options.onStatus?.(testId, { progress, summary, ...(outcome ? { outcome } : {}) });
    const reporter = new ProgressReporter(
      platform,
      (report) => this.#options.progress(workId, report),
      () => {
        cancelled = true;
        stop.stop(new Error('cancelled'));
      },
      (progress, summary) => status(progress, summary),
    );
    const releases: Array<() => Promise<void> | void> = [];
    let heartbeat: Promise<void> = Promise.resolve();
    let outcome: HardwareTestOutcome;
    try {
      const params = checkTestParams(rawParams);
      testId = params.testId;
      if (this.#options.driversLoaded) {
        reporter.update(0, 'waiting for the disk drivers to finish loading');
        await this.#options.driversLoaded(stop);
        stop.throwIfStopped();
      }
      const device = params.device === null ? null : await resolveDevice(platform, rootDir, params.device);
      const resources = resourcesOf(params.kind, device);
      for (const resource of resources) {
        const holder = this.#busy.get(resource);
        if (holder !== undefined) throw new LifeboatError('DEVICE_BUSY', `refused: ${describeResource(resource)} is in use by test ${holder}; start this test again when it ends`);
      }
      for (const resource of resources) this.#busy.set(resource, params.testId);
      releases.push(() => {
        for (const resource of resources) this.#busy.delete(resource);
      });
      let runner: Runner;
      if (params.kind === 'fsck') {
        if (!device) throw new LifeboatError('BAD_REQUEST', 'fsck needs a device');
        const hold = await holdForCheck(platform, rootDir, device, params.testId);
        releases.push(() => hold.release());
        runner = fsckRunner(hold);
      } else runner = runners[params.kind];
      log.info(`test ${params.testId} (${params.kind}${device ? ` ${device.name}` : ''}) started`);
      reporter.update(0, `${params.kind} started`);
      heartbeat = reporter.heartbeat(stop);
      const context: TestContext = {
        platform,
        params,
        device,
        stop,
        rootDir,
        progress: (percent, summary) => reporter.update(percent, summary),
        output: (text) => reporter.append(text),
        // A program missing from the system is a status (127, as a shell says), not an exception.
        run: (program, args, options) =>
          platform
            .run(program, args, {
              ...options,
              stop,
              processGroup: true,
              onOutput: (text, stream) => {
                reporter.append(text);
                options?.onOutput?.(text, stream);
              },
            })
            .catch((error: unknown) => ({ status: 127, stdout: '', stderr: `${program}: ${error instanceof Error ? error.message : String(error)}` })),
      };
      const result = await runner(context);
      outcome = cancelled ? cancelledOutcome(reporter.percent) : { ...result, summary: result.summary.slice(0, 2000) };
    } catch (error) {
      if (cancelled) outcome = cancelledOutcome(reporter.percent);
      else if (error instanceof LifeboatError) outcome = { status: 'error', summary: error.message.slice(0, 2000), result: { code: error.code } };
      else outcome = { status: 'error', summary: (error instanceof Error ? error.message : String(error)).slice(0, 2000), result: null };
    } finally {
      for (const release of releases.reverse()) {
        try {
          await release();
        } catch (error) {
          log.info(`test ${testId}: releasing failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      await reporter.close();
      stop.stop();
      await heartbeat;
    }
    const output = reporter.takeOutput();
    const final: HardwareTestOutcome = output ? { ...outcome, output } : outcome;
    log.info(`test ${testId}: ${final.status}: ${final.summary}`);
    for (const failure of reporter.failures.slice(0, 3)) log.info(`test ${testId}: a progress report failed: ${failure}`);
    status(final.status === 'passed' ? 100 : reporter.percent, final.summary, final);
    return final;
  }
}

const runners: Record<Exclude<HardwareTestKind, 'fsck'>, Runner> = {
  disk: diskRunner,
  smart: smartRunner,
  readtest: readtestRunner,
  cpu: cpuRunner,
  memory: memoryRunner,
  partitions: partitionsRunner,
};

function cancelledOutcome(percent: number): HardwareTestOutcome {
  return { status: 'cancelled', summary: `cancelled at ${Math.floor(percent)} %`, result: null };
}

/** The resources a test takes for itself. */
export function resourcesOf(kind: HardwareTestKind, device: TestDevice | null): string[] {
  switch (kind) {
    case 'smart':
    case 'readtest':
      return device ? [`disk:${device.disk}`] : [];
    case 'fsck':
      return device ? [`fsck:${device.kernelName}`] : [];
    case 'cpu':
      return ['cpu'];
    case 'memory':
      return ['memory'];
    default:
      return [];
  }
}

function describeResource(resource: string): string {
  const [what, name] = resource.split(':');
  if (what === 'disk') return `disk ${name} (a read test or SMART self-test)`;
  if (what === 'fsck') return `${name} (a file system check)`;
  return what === 'cpu' ? 'the CPUs (a CPU test)' : 'the memory (a memory test)';
}


