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
