/**
 * The agent's log: one line per step to standard output (which the image's init sends to
 * /var/log/lifeboat-agent.log) and to the console (the serial port, where an operator watches a
 * boot). Callers never pass a secret: the boot token, agent token and password hash are logged nowhere.
 */
import type { Platform } from './platform.js';

/** Writes log lines. */
export interface AgentLog {
  info(message: string): void;
  error(message: string): void;
}

/** A log to stdout and to each of `copies` (e.g. `/dev/console`); a copy that cannot be written is skipped. */
export function agentLog(platform: Platform, copies: readonly string[]): AgentLog {
  function write(level: string, message: string): void {
    const line = `${new Date().toISOString()} lifeboat-agent ${level}: ${message}\n`;
    platform.writeStdout(line);
    for (const copy of copies) {
      try {
        platform.appendTextSync(copy, line);
      } catch {
        // no console (tests) or not writable: stdout still has it
      }
    }
  }
  return { info: (m) => write('info', m), error: (m) => write('error', m) };
}
