/** Where the netboot server finds a rescue image's files. */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';

/** The files of a rescue image that servers may fetch; nothing else in its directory is served. */
export const imageFiles = ['vmlinuz', 'initrd', 'rootfs.squashfs'] as const;

/** One of {@link imageFiles}. */
export type ImageFile = (typeof imageFiles)[number];

/** The boot step recorded when a server has fetched an image file. */
export const fetchSteps: Readonly<Record<ImageFile, string>> = {
  vmlinuz: 'kernel_fetched',
  initrd: 'initrd_fetched',
  'rootfs.squashfs': 'rootfs_fetched',
};

/** Image ids are directory names: no separators, no dot-only names. */
export const imageIdPattern = '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';

/** Resolves image ids to directories holding `vmlinuz`, `initrd` and `rootfs.squashfs`. */
export interface ImageRegistry {
  /** The directory of an image, or `undefined` when Lifeboat has no image of that id. */
  directoryOf(imageId: string): Promise<string | undefined>;
}

/**
 * Why a rescue of `imageId` cannot boot, or `undefined` when its image is there: the registry has no
 * directory for it, or one of {@link imageFiles} is missing or empty. Checked before a rescue request
 * records anything, so that a server is never sent to netboot an image that is not there.
 */
export async function imageProblem(images: ImageRegistry, imageId: string): Promise<string | undefined> {
  const dir = await images.directoryOf(imageId);
  if (dir === undefined) return `the control plane has no rescue image for profile ${imageId}`;
  const missing: string[] = [];
  for (const file of imageFiles) {
    const info = await stat(join(dir, file)).catch(() => undefined);
    if (!info?.isFile() || info.size === 0) missing.push(file);
  }
  return missing.length === 0 ? undefined : `the rescue image of profile ${imageId} in ${dir} is incomplete (missing: ${missing.join(', ')})`;
}

/**
 * Images as the image builder caches them: `<root>/<imageId>/` (`$LIFEBOAT_CACHE/images/<hash>/`).
 * Ids that could leave `root` are refused before touching the file system.
 */
export function directoryImageRegistry(root: string): ImageRegistry {
  const idPattern = new RegExp(imageIdPattern);
  return {
    async directoryOf(imageId) {
      if (!idPattern.test(imageId)) return undefined;
      const dir = join(root, imageId);
      try {
        return (await stat(dir)).isDirectory() ? dir : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
