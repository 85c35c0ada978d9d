/**
 * Every error a user can meet, in one table: a stable code, the HTTP status it maps to, and a default
 * message. Code throws `LifeboatError`; the HTTP layer answers `{code, message}` with the status.
 */
export const errorStatus = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  TENANT_NOT_FOUND: 404,
  SERVER_NOT_FOUND: 404,
  SESSION_NOT_FOUND: 404,
  TASK_NOT_FOUND: 404,
  INCIDENT_NOT_FOUND: 404,
  PROFILE_NOT_FOUND: 404,
  // 404 for a rescue request too (the profile's image is missing or incomplete): the thing the request
  // needs does not exist, as with PROFILE_NOT_FOUND, and retrying cannot help until an operator builds
  // it; 503 would invite retries (and job workers treat 5xx as transient), 409 would blame the server's state.
  IMAGE_NOT_FOUND: 404,
  TENANT_EXISTS: 409,
  SERVER_EXISTS: 409,
  MAC_IN_USE: 409,
  INVALID_STATE: 409,
  LEASE_TOO_LONG: 400,
  BMC_INVALID: 400,
  BMC_UNREACHABLE: 502,
  BMC_AUTH_FAILED: 502,
  BMC_UNSUPPORTED: 501,
  BMC_ERROR: 502,
  BOOT_TOKEN_INVALID: 401,
  AGENT_TOKEN_REVOKED: 401,
  RESCUE_TIMEOUT: 504,
  EXIT_TIMEOUT: 504,
  MAIL_FAILED: 502,
  CONFIG_INVALID: 500,
  INTERNAL: 500,
} as const;

/** A stable error code. */
export type ErrorCode = keyof typeof errorStatus;

/** An error a user can act on: stable code, HTTP status, message without secrets. */
export class LifeboatError extends Error {
  /** Stable machine-readable code, e.g. `SERVER_NOT_FOUND`. */
  readonly code: ErrorCode;
  /** HTTP status this error maps to. */
  readonly status: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LifeboatError';
    this.code = code;
    this.status = errorStatus[code];
  }
}

/** Whether a string is a known error code (for clients decoding `{code, message}`). */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(errorStatus, code);
}
