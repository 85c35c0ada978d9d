/**
 * `memory`: one loop of memtester over what the rescue system can spare. Progress comes from the
 * sub-test memtester is in and how far that sub-test is (its `setting N` / `testing N` counters), each
 * sub-test weighted by the passes it makes over the memory: it keeps moving and only goes up.
 */
import { joinPath } from '../platform.js';
import type { Runner } from './runner.js';
import { applyBackspaces, lastLines } from './runner.js';

/** memtester 4's sub-tests in order, with the passes over the buffer each makes (64-bit). */
export const memtesterTests: ReadonlyArray<{ readonly name: string; readonly passes: number }> = [
  { name: 'Stuck Address', passes: 16 },
  { name: 'Random Value', passes: 2 },
  { name: 'Compare XOR', passes: 2 },
  { name: 'Compare SUB', passes: 2 },
  { name: 'Compare MUL', passes: 2 },
  { name: 'Compare DIV', passes: 2 },
  { name: 'Compare OR', passes: 2 },
  { name: 'Compare AND', passes: 2 },
  { name: 'Sequential Increment', passes: 2 },
  { name: 'Solid Bits', passes: 64 },
  { name: 'Block Sequential', passes: 256 },
  { name: 'Checkerboard', passes: 64 },
  { name: 'Bit Spread', passes: 128 },
  { name: 'Bit Flip', passes: 512 },
  { name: 'Walking Ones', passes: 128 },
  { name: 'Walking Zeroes', passes: 128 },
  { name: '8-bit Writes', passes: 2 },
  { name: '16-bit Writes', passes: 2 },
];
const totalPasses = memtesterTests.reduce((n, t) => n + t.passes, 0);

/** How far memtester's output says it is. */
export interface MemtesterProgress {
  /** 0–100. */
  readonly percent: number;
  /** The sub-test it is in (null before the first). */
  readonly test: string | null;
  /** `FAILURE: ...` lines. */
  readonly failures: string[];
  /** Sub-tests that ended `ok`. */
  readonly passed: number;
}

/** What the complete lines said so far. */
interface LinesSeen {
  index: number;
  inner: number;
  passed: number;
  readonly failures: string[];
}

/** Takes one line of output (raw, backspaces included) into `seen`. */
function takeLine(seen: LinesSeen, rawLine: string): void {
  const line = applyBackspaces(rawLine);
  const head = /^\s{2}(\S.*?)\s*:(.*)$/.exec(line);
  if (head) {
    const i = memtesterTests.findIndex((t) => t.name === head[1]);
    if (i >= 0) {
      seen.index = i;
      const rest = head[2] ?? '';
      // Counters from the raw line, each complete (memtester backspaces over it once written):
      // output cut in the middle of "testing  15" must not read as 1.
      const counters = [...rawLine.matchAll(/(?:setting|testing)\s+(\d+)(?=\x08)/g)].map((m) => Number(m[1]));
      const passes = memtesterTests[i]?.passes ?? 1;
      seen.inner = counters.length > 0 ? Math.min(1, (Math.max(...counters) + 0.5) / passes) : 0;
      if (/\bok\s*$/.test(rest)) {
        seen.passed++;
        seen.inner = 1;
      }
      if (/FAILURE/.test(rest)) seen.failures.push(`${head[1]}: ${rest.trim()}`);
      return;
    }
  }
  if (/FAILURE/.test(line)) seen.failures.push(line.trim());
}

function progressOf(seen: LinesSeen): MemtesterProgress {
  const { index, inner, passed } = seen;
  const failures = [...seen.failures];
  if (index < 0) return { percent: 0, test: null, failures, passed };
  const before = memtesterTests.slice(0, index).reduce((n, t) => n + t.passes, 0);
  const current = memtesterTests[index]?.passes ?? 0;
  return { percent: Math.min(100, ((before + current * inner) / totalPasses) * 100), test: memtesterTests[index]?.name ?? null, failures, passed };
}

/**
 * Follows memtester's output as it comes: complete lines are read once, only the line being written
 * is read again at each piece (the agent reads a piece per write of memtester, thousands in a run: reading
 * the whole output again each time cost seconds of QuickJS under TCG).
 */
export class MemtesterFollower {
  readonly #seen: LinesSeen = { index: -1, inner: 0, passed: 0, failures: [] };
  #partial = '';

  /** Takes the next piece of output; how far memtester is. */
  feed(text: string): MemtesterProgress {
    const lines = (this.#partial + text).split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) takeLine(this.#seen, line);
    if (this.#partial === '') return progressOf(this.#seen);
    const current: LinesSeen = { ...this.#seen, failures: [...this.#seen.failures] };
    takeLine(current, this.#partial);
    return progressOf(current);
  }
}

/** Parses memtester's output so far (backspace-animated counters included). */
export function parseMemtester(raw: string): MemtesterProgress {
  return new MemtesterFollower().feed(raw);
}

/** Margin left to the rescue system: the agent, sshd, a shell and the page cache's minimum. */
export const memoryMarginBytes = 128 * 1024 * 1024;

/** `MemAvailable` of /proc/meminfo, in bytes. */
export function memAvailable(meminfo: string): number | null {
  const m = /^MemAvailable:\s+(\d+)\s+kB/m.exec(meminfo);
  return m ? Number(m[1]) * 1024 : null;
}

/** How much to test: what was asked, at most MemAvailable minus the margin (the rule in docs/hardware-tests.md). */
export function memoryToTest(asked: number | null, available: number): number {
  const spare = Math.max(0, available - memoryMarginBytes);
  return asked === null ? spare : Math.min(asked, spare);
}

/** `memory`: memtester over `sizeBytes` or what the rescue system can spare, one loop. */
export const memoryRunner: Runner = async (context) => {
  const available = memAvailable(await context.platform.readText(joinPath(context.rootDir, 'proc/meminfo')));
  if (available === null) return { status: 'error', summary: 'MemAvailable not found in /proc/meminfo', result: null };
  const bytes = memoryToTest(context.params.sizeBytes, available);
  const mib = Math.floor(bytes / (1024 * 1024));
  if (mib < 1) return { status: 'error', summary: `not enough free memory to test (MemAvailable ${Math.floor(available / 1048576)} MiB, ${memoryMarginBytes / 1048576} MiB kept for the rescue system)`, result: null };
  const follower = new MemtesterFollower();
  let last = -1;
  const result = await context.run('memtester', [`${mib}M`, '1'], {
    onOutput: (text, stream) => {
      if (stream !== 'stdout') return;
      const progress = follower.feed(text);
      const percent = Math.floor(progress.percent);
      if (percent > last) {
        last = percent;
        context.progress(Math.min(99, progress.percent), `memtester ${mib} MiB: ${progress.test ?? 'allocating'}`);
      }
    },
  });
  context.stop.throwIfStopped();
  const progress = parseMemtester(result.stdout);
  const out = { testedBytes: mib * 1024 * 1024, availableBytes: available, subTestsPassed: progress.passed, failures: progress.failures, exitStatus: result.status };
  // memtester's exit status: 0 ok, 1 could not run, 2/4/... bit flags of the failed test groups.
  if (progress.failures.length > 0 || result.status >= 2) {
    return { status: 'failed', summary: `memtester ${mib} MiB: ${progress.failures.length} failure(s)${progress.failures[0] ? `: ${progress.failures[0]}` : ''}`, result: out };
  }
  if (result.status !== 0) return { status: 'error', summary: `memtester could not run: ${lastLines(result.stderr || result.stdout)}`, result: out };
  return { status: 'passed', summary: `memtester ${mib} MiB, one loop: ${progress.passed} sub-tests ok`, result: out };
};
