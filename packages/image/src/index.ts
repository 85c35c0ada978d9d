/**
 * @lifeboat/image: the rescue image builder. `ensureRescueImage()` returns the image for the current
 * inputs (building it when the cache lacks it): `vmlinuz`, `initrd`, `rootfs.squashfs`, `manifest.json`.
 */
export { ensureRescueImage, agentRescueFiles, imageFileNames, recordLastBuiltImage } from './builder/rescue-image.js';
export type { EnsureRescueImageOptions, ImageFileName, ImageManifest, RescueImage } from './builder/rescue-image.js';
export type { RescueFile } from './builder/initrd.js';
export type { SquashfsCompression } from './builder/rootfs.js';
export { defaultCacheDir } from './builder/cache.js';
export { ensureQuickjs, quickjsSuite } from './builder/quickjs.js';
export type { QuickjsRuntime } from './builder/quickjs.js';
export { quickjsPathInImage } from './builder/initrd.js';
export { imageProfiles, isImageProfile, profilePackages, profileTools, rescuePackages, windowsPackages, windowsToolSmokeChecks, windowsTools } from './builder/package-set.js';
export type { ImageProfile, ProfileTool } from './builder/package-set.js';
export { ImageError } from './errors.js';
export type { ImageErrorCode } from './errors.js';
