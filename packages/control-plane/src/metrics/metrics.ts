/**
 * Prometheus metrics of one control plane replica (prom-client, its own registry so that several
 * control planes in one process never share figures). What is counted as it happens (BMC calls, step
 * durations, netboot requests, mails) is this replica's; what is read from the database at each scrape
 * (sessions by state, the job backlog) is the fleet's, the same on every replica.
 * Labels are bounded sets only: no server, tenant or user names, no tokens, no addresses.
 */
import { LifeboatError, rescueStates, type TaskKind } from '@lifeboat/core';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PowerDriver, PowerDriverFactory } from '../drivers/power/power-driver.js';
import type { JobQueue } from '../jobs/job-queue.js';
import type { Mailer } from '../mail/index.js';
import type { Store } from '../store/store.js';

/** What the figures read at each scrape come from. */
export interface MetricsSources {
  readonly store: Store;
  readonly queue: JobQueue;
}

/** Which netboot answer a request got: `kind` is `script` or the image file's name. */
export interface NetbootRequest {
  readonly kind: 'script' | 'vmlinuz' | 'initrd' | 'rootfs.squashfs';
  readonly status: number;
}

/** The outcome label of a call that threw: its stable code, or `error` for anything else. */
function outcomeOf(error: unknown): string {
  return error instanceof LifeboatError ? error.code : 'error';
}

/** The `result` label of an HTTP status. */
function resultOf(status: number): string {
  if (status < 400) return 'ok';
  if (status === 404) return 'not_found';
  if (status === 429) return 'rate_limited';
  if (status < 500) return 'refused';
  return 'error';
}

/** The metrics of one replica; `GET /metrics` renders `registry`. */
export class ControlPlaneMetrics {
  readonly registry = new Registry();
  readonly #bmcCalls: Counter<'driver' | 'action' | 'result'>;
  readonly #bmcSeconds: Histogram<'driver' | 'action'>;
  readonly #steps: Histogram<'task' | 'step' | 'result'>;
  readonly #netboot: Counter<'kind' | 'result'>;
  readonly #mails: Counter<'kind' | 'result'>;
  readonly #stopListening: () => void;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'lifeboat_rescue_sessions',
      help: 'Open rescue sessions by state (read from the database at each scrape).',
      labelNames: ['state'],
      registers,
      async collect() {
        const counts = await sources.store.sessions.countOpenByState();
        // Every state, zero included: a series that disappears is not a zero for alerting rules.
        for (const state of rescueStates) if (state !== 'active') this.set({ state }, counts[state] ?? 0);
      },
    });
    const backlog = async () => sources.queue.backlog();
    new Gauge({
      name: 'lifeboat_jobs_queued',
      help: 'Unfinished jobs (pending or running) by kind (read from the database at each scrape).',
      labelNames: ['kind'],
      registers,
      async collect() {
        this.reset();
        for (const row of await backlog()) this.set({ kind: row.kind }, row.count);
      },
    });
    new Gauge({
      name: 'lifeboat_jobs_oldest_age_seconds',
      help: 'Age of the oldest unfinished job by kind (read from the database at each scrape).',
      labelNames: ['kind'],
      registers,
      async collect() {
        this.reset();
        const now = sources.store.now().getTime();
        for (const row of await backlog()) this.set({ kind: row.kind }, Math.max(0, (now - row.oldestCreatedAt.getTime()) / 1000));
      },
    });
    this.#bmcCalls = new Counter({ name: 'lifeboat_bmc_calls_total', help: 'BMC calls by driver, action and result (ok or the error code).', labelNames: ['driver', 'action', 'result'], registers });
    this.#bmcSeconds = new Histogram({
      name: 'lifeboat_bmc_call_duration_seconds',
      help: 'Latency of BMC calls by driver and action.',
      labelNames: ['driver', 'action'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.#steps = new Histogram({
      name: 'lifeboat_boot_step_duration_seconds',
      help: 'Duration of the steps of the rescue timelines (enter and exit), by task, step and result.',
      labelNames: ['task', 'step', 'result'],
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers,
    });
    this.#netboot = new Counter({ name: 'lifeboat_netboot_requests_total', help: 'iPXE script and rescue image file requests by kind and result.', labelNames: ['kind', 'result'], registers });
    this.#mails = new Counter({ name: 'lifeboat_mails_total', help: 'Mails by kind and result (sent or failed).', labelNames: ['kind', 'result'], registers });
    this.#stopListening = sources.store.tasks.onStepEnded((step) => this.#steps.observe({ task: step.task satisfies TaskKind, step: step.name, result: step.state }, step.seconds));
  }

  /** Stops observing the store. */
  close(): void {
    this.#stopListening();
  }

  /** Counts a netboot request once answered. */
  countNetboot(request: NetbootRequest): void {
    this.#netboot.inc({ kind: request.kind, result: resultOf(request.status) });
  }

  /** The same drivers, each call counted and timed. */
  instrumentPowerDrivers(factory: PowerDriverFactory): PowerDriverFactory {
    return (bmc) => {
      const driver = factory(bmc);
      const timed = <T>(action: string, call: () => Promise<T>): Promise<T> => {
        const end = this.#bmcSeconds.startTimer({ driver: driver.name, action });
        return call().then(
          (value) => {
            end();
            this.#bmcCalls.inc({ driver: driver.name, action, result: 'ok' });
            return value;
          },
          (error: unknown) => {
            end();
            this.#bmcCalls.inc({ driver: driver.name, action, result: outcomeOf(error) });
            throw error;
          },
        );
      };
      const bootDevice = driver.bootDevice;
      const instrumented: PowerDriver = {
        name: driver.name,
        capabilities: driver.capabilities,
        validate: () => driver.validate(),
        powerState: (signal) => timed('power_state', () => driver.powerState(signal)),
        setPower: (action, signal) => timed(`power_${action}`, () => driver.setPower(action, signal)),
        setBootDevice: (device, options) => timed(`boot_device_${device}`, () => driver.setBootDevice(device, options)),
        ...(bootDevice ? { bootDevice: (signal?: AbortSignal) => timed('read_boot_device', () => bootDevice.call(driver, signal)) } : {}),
      };
      return instrumented;
    };
  }

  /** The same mailer, each mail counted as sent or failed. */
  instrumentMailer(mailer: Mailer): Mailer {
    const counted = <A, T>(kind: string, send: (mail: A) => Promise<T>) => async (mail: A): Promise<T> => {
      try {
        const sent = await send(mail);
        this.#mails.inc({ kind, result: 'sent' });
        return sent;
      } catch (error) {
        this.#mails.inc({ kind, result: 'failed' });
        throw error;
      }
    };
    return {
      sendRescueCredentials: counted('rescue_credentials', (mail) => mailer.sendRescueCredentials(mail)),
      sendExpiryWarning: counted('expiry_warning', (mail) => mailer.sendExpiryWarning(mail)),
      sendIncidentUpdate: counted('incident_update', (mail) => mailer.sendIncidentUpdate(mail)),
      sendDoctorFindings: counted('doctor_findings', (mail) => mailer.sendDoctorFindings(mail)),
      close: () => mailer.close(),
    };
  }
}
