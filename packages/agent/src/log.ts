/**
 * The agent's log: one line per step to the console (the serial port, where an operator watches a
 * boot) and to a file in the rescue system. Callers never pass a secret; the boot token, agent token
 * and password hash are not logged anywhere.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/** Writes log lines. */
export interface AgentLog {
  info(message: string): void;
  error(message: string): void;
}

/** A log to stdout and, when given, a file (its directory is created; write errors are ignored). */
export function agentLog(file: string | null): AgentLog {
  if (file) {
    try {
      mkdirSync(dirname(file), { recursive: true });
    } catch {
      // a read-only or missing directory: log to the console only
    }
  }
  function write(level: string, message: string): void {
    const line = `${new Date().toISOString()} lifeboat-agent ${level}: ${message}\n`;
    process.stdout.write(line);
    if (file) {
      try {
        appendFileSync(file, line);
      } catch {
        // keep going: the console still has it
      }
    }
  }
  return { info: (m) => write('info', m), error: (m) => write('error', m) };
}
