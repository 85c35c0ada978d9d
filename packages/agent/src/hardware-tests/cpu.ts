/** `cpu`: stress-ng's CPU stressor on every CPU with verification, and the temperatures seen. */
import { joinPath } from '../platform.js';
import type { Runner, TestContext } from './runner.js';
import { lastLines } from './runner.js';

/** What stress-ng's `--metrics-brief` reports for the cpu stressor. */
export interface StressMetrics {
  readonly bogoOps: number | null;
  readonly realSeconds: number | null;
  readonly bogoOpsPerSecond: number | null;
  /** Instances (CPUs) it dispatched. */
  readonly instances: number | null;
  /** `fail:` lines (verification failures among them). */
  readonly failures: string[];
  readonly completed: boolean;
}

/** Parses stress-ng's output (0.13+: `metrc:` lines; older: `info:`). */
export function parseStressNg(text: string): StressMetrics {
  let bogoOps: number | null = null;
  let realSeconds: number | null = null;
  let perSecond: number | null = null;
  let instances: number | null = null;
  const failures: string[] = [];
  let completed = false;
  for (const line of text.split('\n')) {
    const dispatch = /dispatching hogs: (\d+) cpu/.exec(line);
    if (dispatch) instances = Number(dispatch[1]);
    const metric = /stress-ng: (?:metrc|info):\s+\[\d+\]\s+cpu\s+(\d+)\s+([\d.]+)\s+[\d.]+\s+[\d.]+\s+([\d.]+)/.exec(line);
    if (metric) {
      bogoOps = Number(metric[1]);
      realSeconds = Number(metric[2]);
      perSecond = Number(metric[3]);
    }
    if (/stress-ng: fail:/.test(line) || /verification failed|verify failed/i.test(line)) failures.push(line.trim());
    if (/\bsuccessful run completed/.test(line)) completed = true;
  }
  return { bogoOps, realSeconds, bogoOpsPerSecond: perSecond, instances, failures, completed };
}

/** Temperatures (°C) of `/sys/class/hwmon/*\/temp*_input`, by sensor name. */
export async function readTemperatures(context: Pick<TestContext, 'platform' | 'rootDir'>): Promise<Record<string, number>> {
  const { platform } = context;
  const base = joinPath(context.rootDir, 'sys/class/hwmon');
  const found: Record<string, number> = {};
  let monitors: string[] = [];
  try {
    monitors = await platform.readdir(base);
  } catch {
    return found;
  }
  for (const monitor of monitors) {
    const dir = joinPath(base, monitor);
    let chip = monitor;
    try {
      chip = (await platform.readText(joinPath(dir, 'name'))).trim();
    } catch {
      // unnamed
    }
    let files: string[] = [];
    try {
      files = await platform.readdir(dir);
    } catch {
      continue;
    }
    for (const file of files.filter((f) => /^temp\d+_input$/.test(f))) {
      try {
        const milli = Number((await platform.readText(joinPath(dir, file))).trim());
        if (Number.isFinite(milli)) found[`${chip}/${file.replace('_input', '')}`] = milli / 1000;
      } catch {
        // a sensor that cannot be read
      }
    }
  }
  return found;
}

/** `cpu`: `stress-ng --cpu 0 --verify --metrics-brief -t Ns`; failed on a verification failure. */
export const cpuRunner: Runner = async (context) => {
  const seconds = context.params.durationSeconds ?? 60;
  const started = Date.now();
  const maxTemps: Record<string, number> = {};
  const sample = async (): Promise<void> => {
    for (const [sensor, value] of Object.entries(await readTemperatures(context))) maxTemps[sensor] = Math.max(maxTemps[sensor] ?? -Infinity, value);
  };
  await sample();
  // Ends the sampling as soon as stress-ng ends (not at the next tick).
  const ticks = context.stop.child();
  const ticker = (async () => {
    while (!ticks.stopped) {
      await context.platform.sleep(2000, ticks);
      if (ticks.stopped) break;
      const elapsed = (Date.now() - started) / 1000;
      await sample();
      context.progress(Math.min(99, (elapsed / seconds) * 100), `stressing every CPU: ${Math.floor(elapsed)} s of ${seconds} s`);
    }
  })();
  const result = await context.run('stress-ng', ['--cpu', '0', '--verify', '--metrics-brief', '-t', `${seconds}s`]).finally(() => ticks.stop());
  await ticker;
  context.stop.throwIfStopped();
  const metrics = parseStressNg(`${result.stdout}\n${result.stderr}`);
  const perCpu = metrics.bogoOps !== null && metrics.instances ? Math.round(metrics.bogoOps / metrics.instances) : null;
  const out = { ...metrics, bogoOpsPerCpu: perCpu, durationSeconds: seconds, maxTemperaturesC: maxTemps };
  if (metrics.failures.length > 0 || result.status === 2) {
    return { status: 'failed', summary: `CPU stress: ${metrics.failures.length} failure(s): ${metrics.failures[0] ?? `stress-ng exited with ${result.status}`}`, result: out };
  }
  if (result.status !== 0) return { status: 'error', summary: `stress-ng exited with ${result.status}: ${lastLines(result.stderr)}`, result: out };
  const temps = Object.values(maxTemps);
  return {
    status: 'passed',
    summary: `CPU stress ${seconds} s on ${metrics.instances ?? '?'} CPU(s): ${perCpu ?? '?'} bogo ops per CPU, no verification failure${temps.length > 0 ? `, max ${Math.max(...temps)} °C` : ''}`,
    result: out,
  };
};
