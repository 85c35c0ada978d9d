import { LifeboatError } from '@lifeboat/core';

/** Stable codes of the failures a lab disk build can meet. */
export type DiskErrorCode =
  | 'LAB_DISK_UNKNOWN_LAYOUT'
  | 'LAB_DISK_UNKNOWN_SCENARIO'
  | 'LAB_DISK_SCENARIO_UNSUPPORTED'
  | 'LAB_DISK_COMMAND_FAILED'
  | 'LAB_DISK_BUILD_FAILED'
  | 'LAB_DISK_LOCKED';

/** A lab disk failure with a stable code and a message a user can act on (never a secret). */
export class DiskError extends LifeboatError<DiskErrorCode> {
  override name = 'DiskError';
}
