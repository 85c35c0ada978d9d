/**
 * @lifeboat/image: the rescue image builder. `ensureRescueImage()` returns the image for the current
 * inputs (building it when the cache lacks it): `vmlinuz`, `initrd`, `rootfs.squashfs`, `manifest.json`.
 */
export { ensureRescueImage, agentRescueFiles, imageFileNames } from './build/rescue-image.js';
export type { EnsureRescueImageOptions, ImageFileName, ImageManifest, RescueImage } from './build/rescue-image.js';
export type { RescueFile } from './build/initrd.js';
export type { SquashfsCompression } from './build/rootfs.js';
export { defaultCacheDir } from './build/cache.js';
export { ensureQuickjs, quickjsSuite } from './build/quickjs.js';
export type { QuickjsRuntime } from './build/quickjs.js';
export { quickjsPathInImage } from './build/initrd.js';
export { rescuePackages } from './build/package-set.js';
export { ImageError } from './errors.js';
export type { ImageErrorCode } from './errors.js';
