/**
 * A running test's progress, sent to the control plane at once on a change and at least every 5 s
 * (`POST /v1/agent/work/{id}/progress`); the answer's `cancel` stops the test. Progress only goes up;
 * output waits for the next report, bounded.
 */
import type { WorkProgress, WorkProgressAnswer } from '@lifeboat/core/api';
import type { Platform, Stop } from '../platform.js';

/** Where progress goes. */
export type ProgressSink = (report: WorkProgress) => Promise<WorkProgressAnswer>;

/** Most output kept between two reports (the contract's bound). */
export const maxOutputChars = 65_536;
/** Longest time between two reports. */
export const reportEveryMs = 5000;

/** Follows one test's progress and sends it. */
export class ProgressReporter {
  readonly #platform: Platform;
  readonly #sink: ProgressSink;
  readonly #onCancel: () => void;
  readonly #onChange: ((percent: number, summary: string) => void) | undefined;
  #percent = 0;
  #summary = '';
  #output = '';
  #sending: Promise<void> | null = null;
  #dirty = false;
  #closed = false;
  #lastSent = 0;
  /** Failures to report (logged by the caller; a lost report is retried by the next one). */
  readonly failures: string[] = [];

  constructor(platform: Platform, sink: ProgressSink, onCancel: () => void, onChange?: (percent: number, summary: string) => void) {
    this.#platform = platform;
    this.#sink = sink;
    this.#onCancel = onCancel;
    this.#onChange = onChange;
  }

  /** The progress so far (0–100, never lower than before). */
  get percent(): number {
    return this.#percent;
  }

  get summary(): string {
    return this.#summary;
  }

  /** A new figure: lower ones are ignored (progress never goes back), a change is sent at once. */
  update(percent: number, summary?: string): void {
    const clamped = Math.max(this.#percent, Math.min(100, Math.max(0, percent)));
    const rounded = Math.floor(clamped * 10) / 10;
    const changed = rounded !== this.#percent || (summary !== undefined && summary !== this.#summary);
    this.#percent = rounded;
    if (summary !== undefined) this.#summary = summary.slice(0, 500);
    if (changed) {
      this.#onChange?.(this.#percent, this.#summary);
      this.#send();
    }
  }

  /** Output to send with the next report (the oldest is dropped beyond the bound). */
  append(text: string): void {
    this.#output += text;
    if (this.#output.length > maxOutputChars) this.#output = this.#output.slice(-maxOutputChars);
  }

  /** Takes the output not yet sent (for the result). */
  takeOutput(): string {
    const out = this.#output;
    this.#output = '';
    return out;
  }

  /** Reports every {@link reportEveryMs} until `stop`; resolves when stopped. */
  async heartbeat(stop: Stop): Promise<void> {
    while (!stop.stopped && !this.#closed) {
      await this.#platform.sleep(reportEveryMs, stop);
      if (!stop.stopped && Date.now() - this.#lastSent >= reportEveryMs - 50) this.#send();
    }
  }

  /** No more reports; waits for the one in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#sending;
  }

  #send(): void {
    if (this.#closed) return;
    if (this.#sending) {
      this.#dirty = true;
      return;
    }
    this.#sending = (async () => {
      do {
        this.#dirty = false;
        const output = this.takeOutput();
        this.#lastSent = Date.now();
        try {
          const answer = await this.#sink({ progress: this.#percent, ...(this.#summary ? { summary: this.#summary } : {}), ...(output ? { output } : {}) });
          if (answer.cancel) this.#onCancel();
        } catch (error) {
          this.failures.push(error instanceof Error ? error.message : String(error));
          // The output goes with the next report.
          this.#output = (output + this.#output).slice(-maxOutputChars);
        }
      } while (this.#dirty && !this.#closed);
      this.#sending = null;
    })();
  }
}
