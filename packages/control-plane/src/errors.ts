/**
 * Errors of the control plane: the table of codes, HTTP statuses and `LifeboatError` live in
 * `@lifeboat/core` (the CLI decodes the same codes); this module is where the control plane's code
 * takes them from, plus the helpers the HTTP layer needs.
 */
import { LifeboatError, errorStatus, isErrorCode, type ErrorBody, type ErrorCode } from '@lifeboat/core';
import { isDatabaseUnavailable } from './store/database.js';

export { LifeboatError, errorStatus, isErrorCode, type ErrorBody, type ErrorCode };

/**
 * The `{code, message}` body and status for anything thrown: a database that cannot be reached is
 * `DATABASE_UNAVAILABLE` (503, worth retrying); other unknown errors become `INTERNAL` without details.
 */
export function errorAnswer(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof LifeboatError) return { status: error.status, body: { code: error.code, message: error.message } };
  if (isDatabaseUnavailable(error)) {
    return { status: 503, body: { code: 'DATABASE_UNAVAILABLE', message: 'the control plane cannot reach its database; try again in a moment' } };
  }
  return { status: 500, body: { code: 'INTERNAL', message: 'internal error; the control plane log has the details' } };
}
