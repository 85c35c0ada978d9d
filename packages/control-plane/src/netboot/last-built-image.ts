/**
 * Which rescue image `lifeboat serve` serves: the one named by `--image`/`LIFEBOAT_IMAGE`, else the one
 * `lifeboat image build` last built on this machine (`$LIFEBOAT_CACHE/images/latest`, written by the
 * builder; read here through core's cache layout, so that the service does not load the builder).
 */
import { existsSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { lastBuiltImageLink, lifeboatCacheDir, type CacheEnvironment } from '@lifeboat/core';

/** The image served for a profile, and where that choice came from. */
export type RescueImageChoice =
  | { readonly dir: string; readonly source: 'configured' | 'last-built' }
  | { readonly dir: null; readonly source: 'none' };

/**
 * The directory that `CACHE/images/latest` (`latest-PROFILE` for another profile than `linux`) names, when
 * it holds a complete image (its manifest is written last); undefined when no image of the profile was
 * built on this machine or the link points at nothing.
 */
export function lastBuiltImage(cacheDir: string, profile = 'linux'): string | undefined {
  try {
    const dir = realpathSync(lastBuiltImageLink(cacheDir, profile));
    return existsSync(join(dir, 'manifest.json')) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `configured` (for `linux`: `--image` or `LIFEBOAT_IMAGE`; for another profile: `--image-profile PROFILE=DIR`)
 * when set, else the last image of the profile built here, else none.
 */
export function chooseRescueImage(configured: string | null, env: CacheEnvironment, homeDir: string = homedir(), profile = 'linux'): RescueImageChoice {
  if (configured !== null) return { dir: configured, source: 'configured' };
  const built = lastBuiltImage(lifeboatCacheDir(env, homeDir), profile);
  return built === undefined ? { dir: null, source: 'none' } : { dir: built, source: 'last-built' };
}

/**
 * The start log line that says which image is served, or that rescue will be refused. A profile other than
 * `linux` without an image is an `info`: most control planes serve linux alone.
 */
export function rescueImageLogLine(choice: RescueImageChoice, profile = 'linux'): { level: 'info' | 'warn'; message: string } {
  if (profile !== 'linux') {
    switch (choice.source) {
      case 'configured':
        return { level: 'info', message: `rescue image of profile ${profile}: ${choice.dir}` };
      case 'last-built':
        return { level: 'info', message: `rescue image of profile ${profile}: ${choice.dir} (the last one built on this machine)` };
      case 'none':
        return {
          level: 'info',
          message: `no rescue image of profile ${profile}: rescue with --profile ${profile} is refused until one is built (lifeboat image build --profile ${profile}) or named (--image-profile ${profile}=DIR, LIFEBOAT_IMAGE_PROFILES)`,
        };
    }
  }
  switch (choice.source) {
    case 'configured':
      return { level: 'info', message: `rescue image: ${choice.dir}` };
    case 'last-built':
      return { level: 'info', message: `rescue image: ${choice.dir} (the last one built on this machine)` };
    case 'none':
      return {
        level: 'warn',
        message: 'no rescue image: rescue will be refused until one is built (lifeboat image build) or named (--image, LIFEBOAT_IMAGE)',
      };
  }
}
