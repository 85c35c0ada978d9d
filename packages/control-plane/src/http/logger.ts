/** The control plane's logger: pino, with every place a secret could appear redacted. */
import pino, { type Logger } from 'pino';

/** Paths pino blanks out, wherever they appear in a logged object. */
export const redactedPaths = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'password',
  '*.password',
  'token',
  '*.token',
  'bootToken',
  '*.bootToken',
  'agentToken',
  '*.agentToken',
  'rootPasswordHash',
  '*.rootPasswordHash',
  'bmc.password',
  '*.bmc.password',
];

/** A logger writing JSON lines to `destination` (stdout by default). */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: redactedPaths, censor: '[redacted]' }, base: { service: 'lifeboat' } }, destination);
}
