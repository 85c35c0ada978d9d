/** `readtest DEVICE`: reads the whole disk or partition with `badblocks -sv` (read-only), and its throughput. */
import type { Runner } from './runner.js';
import { applyBackspaces, lastLines } from './runner.js';

/** What badblocks said. */
export interface BadblocksReport {
  /** Last `N% done` seen (null before the first). */
  readonly percent: number | null;
  /** Bad blocks found (`Pass completed, N bad blocks found`), null when it did not complete. */
  readonly badBlocks: number | null;
  /** read/write/corruption errors (`(0/0/0 errors)`). */
  readonly errors: { readonly read: number; readonly write: number; readonly corruption: number } | null;
  readonly completed: boolean;
}

/** Parses `badblocks -sv` output (stderr: progress with backspaces; the summary). */
export function parseBadblocks(raw: string): BadblocksReport {
  const text = applyBackspaces(raw);
  let percent: number | null = null;
  for (const m of text.matchAll(/([\d.]+)% done/g)) percent = Number(m[1]);
  const errs = [...text.matchAll(/\((\d+)\/(\d+)\/(\d+) errors\)/g)].at(-1);
  const pass = /Pass completed, (\d+) bad blocks found/.exec(text);
  return {
    percent,
    badBlocks: pass ? Number(pass[1]) : null,
    errors: errs ? { read: Number(errs[1]), write: Number(errs[2]), corruption: Number(errs[3]) } : null,
    completed: pass !== null,
  };
}

/** `readtest DEVICE`. */
export const readtestRunner: Runner = async (context) => {
  const device = context.device;
  if (!device) return { status: 'error', summary: 'readtest needs a device', result: null };
  const size = await context.run('blockdev', ['--getsize64', device.path]);
  const bytes = Number(size.stdout.trim());
  const started = Date.now();
  let seen = '';
  let last = -1;
  const result = await context.run('badblocks', ['-sv', '-b', '4096', device.path], {
    onOutput: (text, stream) => {
      if (stream !== 'stderr') return;
      seen += text;
      const { percent } = parseBadblocks(seen);
      if (percent !== null && Math.floor(percent) > last) {
        last = Math.floor(percent);
        const seconds = (Date.now() - started) / 1000;
        const rate = seconds > 0 && bytes > 0 ? ((bytes * percent) / 100 / seconds / 1e6).toFixed(0) : '?';
        context.progress(Math.min(99, percent), `reading ${device.name}: ${percent.toFixed(1)} % at ${rate} MB/s`);
      }
    },
  });
  context.stop.throwIfStopped();
  const seconds = (Date.now() - started) / 1000;
  const report = parseBadblocks(result.stderr);
  const mbPerSecond = bytes > 0 && seconds > 0 ? Math.round((bytes / seconds / 1e6) * 10) / 10 : null;
  const out = { device: device.name, bytes, seconds: Math.round(seconds * 10) / 10, mbPerSecond, badBlocks: report.badBlocks, errors: report.errors };
  if (!report.completed || result.status !== 0) return { status: 'error', summary: `badblocks did not complete (status ${result.status}): ${lastLines(result.stderr)}`, result: out };
  return {
    status: report.badBlocks === 0 ? 'passed' : 'failed',
    summary: `read ${device.name} (${(bytes / 1e9).toFixed(2)} GB) in ${out.seconds} s at ${mbPerSecond ?? '?'} MB/s: ${report.badBlocks} bad block(s)`,
    result: out,
  };
};
