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
export class ImageError extends Error {
  /** Stable code a caller can branch on. */
  readonly code: ImageErrorCode;

  constructor(code: ImageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ImageError';
    this.code = code;
  }
}
