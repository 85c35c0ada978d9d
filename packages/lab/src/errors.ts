import { LifeboatError } from '@lifeboat/core';

/** Stable codes of the errors the lab reports. */
export type LabErrorCode =
  | 'LAB_USAGE'
  | 'LAB_NOT_RUNNING'
  | 'LAB_ALREADY_RUNNING'
  | 'LAB_START_FAILED'
  | 'LAB_STOPPED'
  | 'LAB_REGISTER_FAILED'
  | 'VM_START_FAILED'
  | 'VM_CONTROL_FAILED'
  | 'BMC_START_FAILED'
  | 'SERVER_NOT_FOUND';

/** An error of the lab that a user can act on; the message never holds a password. */
export class LabError extends LifeboatError<LabErrorCode> {
  override name = 'LabError';
}
