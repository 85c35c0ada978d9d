/**
 * Every error a user can meet, in one table: a stable code, the HTTP status it maps to, and a default
 * message. Code throws `LifeboatError` (or a package's subclass of it); the HTTP layer answers
 * `{code, message}` with the status.
 *
 * The first part holds the codes of the HTTP API. The codes after it are raised where no HTTP answer is
 * made (the CLI, the image builder, the lab, the agent): they never travel in an API answer, and their
 * status is the one the control plane would answer if one ever reached it: 400 for a bad command line,
 * 500 for a local failure, 502/503 for a peer that failed or did not answer. Exit codes of the CLI are
 * decided by the CLI (`packages/cli/src/errors.ts`), not by this status.
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
  // Hardware tests and the explorer (issue 11).
  /** No hardware test of that id on this server (or another tenant's). */
  TEST_NOT_FOUND: 404,
  /** The rescue system has no such block device, or it is not of the kind the test needs (a partition for fsck). */
  DEVICE_NOT_FOUND: 404,
  /** The device is held: mounted (SSH session, explorer, swap, through md/LVM), or checked or tested right now; the message names who holds it. */
  DEVICE_BUSY: 409,
  /** No such file or directory on that partition. */
  PATH_NOT_FOUND: 404,
  /** A path that leaves the partition (`..`, a symlink pointing outside) or is not absolute. */
  PATH_INVALID: 400,
  /** The rescue system's agent does not answer (not in rescue yet, crashed, or rebooting). */
  AGENT_UNAVAILABLE: 503,
  // Accounts and browser sessions (issue 13).
  /** Wrong user name or password (one answer for both, so names cannot be probed). */
  SIGN_IN_FAILED: 401,
  /** Too many failed sign-ins for this user name or from this address; the answer carries `Retry-After`. */
  RATE_LIMITED: 429,
  /** A cookie-authenticated unsafe request without the session's `X-CSRF-Token` header. */
  CSRF_FAILED: 403,
  /** A new password shorter than 12 or longer than 1024 characters. */
  PASSWORD_WEAK: 400,
  /** No user of that name. */
  USER_NOT_FOUND: 404,
  /** A user of that name exists already. */
  USER_EXISTS: 409,
  // Hardening (issue 14).
  /** A request body, or a part of it (an attachment, work params, an inventory), over its size or count limit. */
  PAYLOAD_TOO_LARGE: 413,
  /** The request line or headers are over the server's limit (a very long URL). */
  HEADERS_TOO_LARGE: 431,
  /** The request (headers and body) did not arrive within the server's request timeout. */
  REQUEST_TIMEOUT: 408,
  /** The control plane cannot reach its database (PostgreSQL down or cut off); retry in a moment. */
  DATABASE_UNAVAILABLE: 503,
  // SSH keys and the console gateway (issue 12).
  /** Not an SSH public key Lifeboat accepts (type, base64 blob, RSA of at least 2048 bits). */
  KEY_INVALID: 400,
  /** A key of that name, or the same key under another name, is already registered in that scope. */
  KEY_EXISTS: 409,
  /** No SSH key of that name in the tenant's store (or the staff keys). */
  KEY_NOT_FOUND: 404,
  // Serial console (issue 12).
  /** The server's console setting is not a console URL Lifeboat can drive (`tcp://HOST:PORT`). */
  CONSOLE_INVALID: 400,
  /** Someone else holds the console's writer seat; the message names who. */
  CONSOLE_BUSY: 409,
  /** The console cannot be reached now (BMC SOL refused or dropped, TCP port closed). */
  CONSOLE_UNAVAILABLE: 503,
  /** No console log was recorded for that session (or the server has none). */
  CONSOLE_LOG_NOT_FOUND: 404,
  // The rescue doctor (issue 15).
  /** The doctor has not reported on this server's rescue yet (it runs right after `ready`), or the server never was in rescue. */
  DOCTOR_NOT_RUN: 404,
  /** No finding of that id in the doctor's report. */
  DOCTOR_FINDING_NOT_FOUND: 404,
  /** No fix of that id on this server (or another tenant's). */
  DOCTOR_FIX_NOT_FOUND: 404,
  /** The finding has no fix to apply in one step: the evidence says what to do by hand. */
  DOCTOR_NO_FIX: 409,
  /** A fix or undo of this finding is already waiting for the rescue system's answer. */
  DOCTOR_FIX_PENDING: 409,
  /** The finding's fix is already applied (undo it first). */
  DOCTOR_ALREADY_FIXED: 409,
  /** Undo of a finding whose fix is not applied. */
  DOCTOR_NOT_FIXED: 409,
  // The rescue desktop (issue 16).
  /** The server has no desktop to open now: no rescue up, or its profile has none (the message says which). */
  DESKTOP_UNAVAILABLE: 409,
  /** The rescue's desktop could not be reached (its sshd or VNC server did not answer, or its host key did not match). */
  DESKTOP_UNREACHABLE: 503,
  /** The desktop already has as many viewers as one control plane lets it have (`DesktopView.viewerLimit`): close one first. */
  DESKTOP_FULL: 409,
  /** A WebSocket upgrade from a page of another origin (cross-site WebSocket hijacking). */
  ORIGIN_REFUSED: 403,

  // Not HTTP answers (see above).
  /** An HTTP answer without a code this table knows (a newer control plane, a proxy's error page). */
  HTTP_ERROR: 502,
  /** CLI: bad command line. */
  USAGE: 400,
  /** CLI `files get`: the download broke off (the rescue system's tar or the connection failed half-way); the partial file is removed. */
  DOWNLOAD_INCOMPLETE: 502,
  /** CLI, typed client: the control plane did not answer. */
  UNREACHABLE: 503,
  /** CLI: the deployable a command runs (`serve`, `lab`, `image`) is not installed. */
  NOT_INSTALLED: 500,
  /** CLI `--wait`: entering rescue ended in a failed state. */
  RESCUE_FAILED: 500,
  /** CLI `--wait`: leaving rescue ended in a failed state. */
  EXIT_FAILED: 500,
  /** CLI `tests run --wait`: the hardware failed the test (exit 4). */
  TEST_FAILED: 500,
  /** CLI `tests run --wait`: the test could not run (exit 1). */
  TEST_ERROR: 500,
  /** CLI `tests run --wait`: the test was cancelled (exit 1). */
  TEST_CANCELLED: 500,
  /** CLI `doctor fix` / `doctor undo`: the rescue system could not apply it (exit 4). */
  DOCTOR_FIX_FAILED: 500,
  /** Agent: the kernel command line lacks a parameter. */
  BOOT_PARAMS_MISSING: 400,
  /** Agent: the control plane did not answer in time. */
  CONTROL_PLANE_UNREACHABLE: 503,
  /** Agent: the control plane answered something that is not the contract's shape. */
  BAD_ANSWER: 502,
  /** Agent: a program of the rescue system exited non-zero. */
  PROGRAM_FAILED: 500,
  /** Agent, rescue doctor (in a fix's outcome): the finding is not in the doctor's last run. */
  DOCTOR_FINDING_UNKNOWN: 404,
  /** Agent, rescue doctor: the finding has no fix the agent can apply. */
  DOCTOR_FIX_UNAVAILABLE: 409,
  /** Agent, rescue doctor: the fix's parameters are wrong (root-password without a crypt hash). */
  DOCTOR_FIX_INVALID: 400,
  /** Agent, rescue doctor: a file the fix changes (or its undo restores) changed since the check (or the fix). */
  DOCTOR_FILE_CHANGED: 409,
  /** Agent, rescue doctor: the file no longer has the line the fix edits. */
  DOCTOR_EDIT_FAILED: 409,
  /** Agent, rescue doctor: the customer has the installed system mounted read-only at /mnt (a fix needs it writable). */
  DOCTOR_SYSTEM_MOUNTED: 409,
  /** Agent, rescue doctor: no installed system on the server's disks. */
  DOCTOR_NO_INSTALLED_SYSTEM: 404,
  /** Agent, rescue doctor: the installed system could not be mounted. */
  DOCTOR_MOUNT_FAILED: 500,
  /** Image builder. */
  IMAGE_TOOL_MISSING: 500,
  IMAGE_BUILD_FAILED: 500,
  IMAGE_KERNEL_NOT_FOUND: 500,
  IMAGE_MODULE_NOT_FOUND: 500,
  IMAGE_AGENT_FILES_INVALID: 500,
  IMAGE_QUICKJS_SOURCE_UNAVAILABLE: 500,
  IMAGE_USAGE: 400,
  /** Lab. */
  LAB_USAGE: 400,
  LAB_NOT_RUNNING: 500,
  LAB_ALREADY_RUNNING: 500,
  LAB_START_FAILED: 500,
  LAB_REGISTER_FAILED: 500,
  LAB_STOPPED: 500,
  /** The lab's simulated Redfish BMC refused a request (it answers with Redfish's own status and message id). */
  LAB_REDFISH: 502,
  VM_START_FAILED: 500,
  VM_CONTROL_FAILED: 500,
  BMC_START_FAILED: 500,
  /** Lab disks. */
  LAB_DISK_UNKNOWN_LAYOUT: 400,
  LAB_DISK_UNKNOWN_SCENARIO: 400,
  LAB_DISK_SCENARIO_UNSUPPORTED: 400,
  LAB_DISK_COMMAND_FAILED: 500,
  LAB_DISK_BUILD_FAILED: 500,
  LAB_DISK_LOCKED: 500,
} as const;

/** A stable error code. */
export type ErrorCode = keyof typeof errorStatus;

/**
 * An error a user can act on: stable code, HTTP status, message without secrets. A package that raises
 * only codes of its own narrows `Code` to them in its subclass (`class LabError extends
 * LifeboatError<LabErrorCode>`), so that a caller's `switch` on `code` knows every case.
 */
export class LifeboatError<Code extends ErrorCode = ErrorCode> extends Error {
  /** Stable machine-readable code, e.g. `SERVER_NOT_FOUND`. */
  readonly code: Code;
  /** HTTP status this error maps to. */
  readonly status: number;

  /** `status` overrides the table's, for an answer decoded by a client (the status the server sent). */
  constructor(code: Code, message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LifeboatError';
    this.code = code;
    this.status = options?.status ?? errorStatus[code];
  }
}

/**
 * An error answer of the HTTP API, decoded by a client: the server's code when this table knows it
 * (`HTTP_ERROR` otherwise, with the server's own code in `serverCode`) and the HTTP status it came with.
 */
export class ApiError extends LifeboatError {
  /** The code exactly as the server sent it, or `HTTP_<status>` when the body had none. */
  readonly serverCode: string;

  constructor(serverCode: string, status: number, message: string) {
    super(isErrorCode(serverCode) ? serverCode : 'HTTP_ERROR', message, { status });
    this.name = 'ApiError';
    this.serverCode = serverCode;
  }
}

/** Whether a string is a known error code (for clients decoding `{code, message}`). */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(errorStatus, code);
}
