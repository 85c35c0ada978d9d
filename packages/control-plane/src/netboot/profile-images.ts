/** The rescue images the control plane serves, by profile, as its configuration names them. */
import type { Config } from '../config.js';
import type { ImageRegistry } from './image-registry.js';

/**
 * Rescue images by id. Image ids are profile names (the netboot source answers `imageId: profile`):
 * `linux` is the image of `--image` (`LIFEBOAT_IMAGE`), another profile (`windows`) the one of
 * `--image-profile PROFILE=DIR` (`LIFEBOAT_IMAGE_PROFILES`); a profile without one has no image.
 */
export function profileImages(config: Pick<Config, 'imageDir' | 'profileImageDirs'>): ImageRegistry {
  return {
    directoryOf: async (imageId) => {
      if (imageId === 'linux') return config.imageDir ?? undefined;
      return Object.hasOwn(config.profileImageDirs, imageId) ? config.profileImageDirs[imageId] : undefined;
    },
  };
}
