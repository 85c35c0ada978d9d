/**
 * What every hardware test runner receives and returns. A runner is one module per kind (disk.ts,
 * smart.ts, ...): it runs its tools through the {@link Platform}, reports progress through
 * {@link TestContext.progress} and ends with an outcome; it never talks to the control plane.
 */
import type { HardwareTestOutcome, HardwareTestWorkParams } from '@lifeboat/core/api';
import type { Platform, RunOptions, Stop } from '../platform.js';

/** A device a test runs on, resolved and checked. */
export interface TestDevice {
  /** What the customer named (`sda1`, `vg0/root`). */
  readonly name: string;
  /** The kernel's name (`sda1`, `dm-0`, `md127`). */
  readonly kernelName: string;
  /** `/dev/...` path to open. */
  readonly path: string;
  /** The whole disk it is on (`sda` for `sda1`; itself for a disk, md or dm device). */
  readonly disk: string;
}

/** What a runner gets. */
export interface TestContext {
  readonly platform: Platform;
  readonly params: HardwareTestWorkParams;
  /** Null for kinds without a device. */
  readonly device: TestDevice | null;
  /** Stopped on cancel and on the agent's stop: the runner's programs are then killed. */
  readonly stop: Stop;
  /** `/` in the image; a fixture directory in tests (for /proc and /sys reads). */
  readonly rootDir: string;
  /** Reports how far it is (0–100, only up) and a line for humans; sent at once on a change. */
  progress(percent: number, summary?: string): void;
  /** Output for the test's kept output. */
  output(text: string): void;
  /** Runs a program in its own process group (killed on stop), its output kept. */
  run(program: string, args: readonly string[], options?: Pick<RunOptions, 'onOutput' | 'stdin'>): Promise<{ status: number; stdout: string; stderr: string }>;
}

/** What a runner returns (the outcome without the output, which the reporter adds). */
export type RunnerOutcome = Omit<HardwareTestOutcome, 'output'>;

/** One kind's runner. */
export type Runner = (context: TestContext) => Promise<RunnerOutcome>;

/** The last lines of a text (for summaries of a failed program). */
export function lastLines(text: string, count = 3): string {
  return text.trim().split('\n').slice(-count).join(' / ');
}

/** Text with terminal backspace sequences applied (`testing  12\b\b\b...`), per line. */
export function applyBackspaces(text: string): string {
  const out: string[] = [];
  for (const ch of text) {
    if (ch === '\b') out.pop();
    else out.push(ch);
  }
  return out.join('');
}
