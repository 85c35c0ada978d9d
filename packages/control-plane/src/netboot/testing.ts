/**
 * A stand-in rescue image for tests that do not boot it: a directory with the three files a rescue
 * image must have (small, not empty), behind the same registry the control plane uses. Used by tests only.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { directoryImageRegistry, imageFiles, type ImageRegistry } from './image-registry.js';

/** A test image directory per profile, and its registry. */
export interface TestImages {
  /** The registry over `root` (`<root>/<profile>/`). */
  readonly registry: ImageRegistry;
  readonly root: string;
  /** The directory of a profile's image. */
  dirOf(profile: string): string;
  /** Removes every directory. */
  remove(): void;
}

/** Writes a complete (if unbootable) image for each profile. */
export function createTestImages(profiles: readonly string[] = ['linux']): TestImages {
  const root = mkdtempSync(join(tmpdir(), 'lifeboat-images-'));
  for (const profile of profiles) {
    mkdirSync(join(root, profile));
    for (const file of imageFiles) writeFileSync(join(root, profile, file), `test ${file} of ${profile}\n`);
  }
  return { registry: directoryImageRegistry(root), root, dirOf: (profile) => join(root, profile), remove: () => rmSync(root, { recursive: true, force: true }) };
}
