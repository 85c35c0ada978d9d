/** The CLI's errors and exit codes: the exit codes are part of the contract scripts rely on. */
import { ApiError, LifeboatError, type ErrorCode } from '@lifeboat/core';

/** Exit codes of the CLI. */
export const exitCodes = {
  ok: 0,
  /** The control plane refused (its error code is printed). */
  refused: 1,
  /** Bad command line. */
  usage: 2,
  /** The control plane could not be reached. */
  unreachable: 3,
  /** `--wait` ended in a failed state (rescue_failed, exit_failed), or a hardware test failed (`tests run --wait`). */
  failed: 4,
} as const;

/** An error the CLI itself reports, with the exit code it maps to. */
export class CliError extends LifeboatError {
  /** The process's exit code. */
  readonly exitCode: number;

  /** The command already printed its result (e.g. the failed test's document): only the code and the exit code remain. */
  readonly resultPrinted: boolean;

  constructor(code: ErrorCode, message: string, exitCode: number, options: { resultPrinted?: boolean } = {}) {
    super(code, message);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.resultPrinted = options.resultPrinted ?? false;
  }
}

/** A bad command line (exit 2). */
export function usageError(message: string): CliError {
  return new CliError('USAGE', message, exitCodes.usage);
}

/** The exit code of an error: the CLI's own, 3 when the control plane does not answer, 1 when it refused. */
export function exitCodeOf(error: LifeboatError): number {
  if (error instanceof CliError) return error.exitCode;
  if (error.code === 'UNREACHABLE') return exitCodes.unreachable;
  return exitCodes.refused;
}

/** The code printed for an error: the control plane's own code for its answers, as it sent it. */
export function printedCode(error: LifeboatError): string {
  return error instanceof ApiError ? error.serverCode : error.code;
}

/** The message printed for an error, with a hint where one helps. */
export function printedMessage(error: LifeboatError): string {
  return error.code === 'UNREACHABLE' && !(error instanceof CliError) ? `${error.message}; is it running? (LIFEBOAT_URL)` : error.message;
}
