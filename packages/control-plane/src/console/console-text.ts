/**
 * Console output as text a person can read in a one-line reason: terminal escape sequences removed,
 * carriage-return overwrites applied, blank lines dropped.
 */

/** ESC sequences: CSI (`ESC [ … final`), OSC (`ESC ] … BEL|ST`), charset selection, two-byte ones. */
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[()*+][0-9A-Za-z]|\x1b[@-Z\\-_=>78c]|\x9b[0-?]*[ -/]*[@-~]/g;

/** The lines of console output, cleaned; a line's text is what remains after its last carriage return. */
export function consoleLines(data: Buffer | string): string[] {
  const text = (typeof data === 'string' ? data : data.toString('utf8')).replace(ESCAPES, '');
  return text
    .split('\n')
    .map((line) => {
      const parts = line.split('\r').filter((part) => part.trim() !== '');
      // eslint-disable-next-line no-control-regex
      return (parts.at(-1) ?? '').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '').trimEnd();
    })
    .filter((line) => line.trim() !== '');
}

/**
 * The last `count` lines of console output, cleaned and joined with ` / `, at most `maxChars` long
 * (the end kept), or null when the console printed nothing readable.
 */
export function consoleTail(data: Buffer | string, count = 3, maxChars = 400): string | null {
  const lines = consoleLines(data).slice(-count).map((line) => line.trim());
  if (lines.length === 0) return null;
  const joined = lines.join(' / ');
  return joined.length <= maxChars ? joined : `…${joined.slice(joined.length - maxChars + 1)}`;
}

/** How a boot that stopped for good shows on the console, and what to call it in a reason. */
const stopLines: readonly { readonly what: string; readonly line: RegExp }[] = [
  // systemd: a unit the boot needs failed (an fstab entry, a file system check); it waits for a person.
  { what: 'in emergency mode', line: /You are in emergency mode/ },
  // Linux: nothing to boot into (no root file system, init died); the last such line is the summary.
  { what: 'in a kernel panic', line: /Kernel panic - not syncing/ },
];

/** A boot that stopped for good, as the console showed it. */
export interface StoppedBoot {
  /** Where it stopped, for a reason: `in emergency mode`, `in a kernel panic`. */
  readonly what: string;
  /** The console from the line that tells it on (at most `count` lines and `maxChars`, cleaned). */
  readonly quote: string;
}

/**
 * Whether console output shows a boot that stopped and will not go on by itself (systemd's emergency
 * mode, a kernel panic), from its last such line; null otherwise.
 */
export function stoppedBoot(data: Buffer | string, count = 5, maxChars = 400): StoppedBoot | null {
  const lines = consoleLines(data);
  for (let i = lines.length - 1; i >= 0; i--) {
    const stop = stopLines.find((s) => s.line.test(lines[i]!));
    if (!stop) continue;
    const joined = lines.slice(i, i + count).map((line) => line.trim()).join(' / ');
    return { what: stop.what, quote: joined.length <= maxChars ? joined : `${joined.slice(0, maxChars - 1)}…` };
  }
  return null;
}
