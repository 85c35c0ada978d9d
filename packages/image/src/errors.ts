import { LifeboatError } from '@lifeboat/core';

/** Why an image build failed, with a stable code. */
export type ImageErrorCode =
  | 'IMAGE_TOOL_MISSING'
  | 'IMAGE_BUILD_FAILED'
  | 'IMAGE_KERNEL_NOT_FOUND'
  | 'IMAGE_MODULE_NOT_FOUND'
  | 'IMAGE_AGENT_FILES_INVALID'
  | 'IMAGE_QUICKJS_SOURCE_UNAVAILABLE'
  | 'IMAGE_USAGE';

/** An error of the rescue image builder. */
export class ImageError extends LifeboatError<ImageErrorCode> {
  override name = 'ImageError';
}
