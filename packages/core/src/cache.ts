/**
 * Where Lifeboat keeps what it builds on a machine (the rescue image, the lab's disks), shared by the
 * programs that build there and the control plane that serves the image. Pure: the environment and the
 * home directory are arguments.
 */

/** The variables {@link lifeboatCacheDir} reads. */
export interface CacheEnvironment {
  readonly LIFEBOAT_CACHE?: string | undefined;
  readonly XDG_CACHE_HOME?: string | undefined;
}

/** `$LIFEBOAT_CACHE`, else `$XDG_CACHE_HOME/lifeboat`, else `HOME/.cache/lifeboat` (empty values count as unset). */
export function lifeboatCacheDir(env: CacheEnvironment, homeDir: string): string {
  if (env.LIFEBOAT_CACHE) return env.LIFEBOAT_CACHE;
  if (env.XDG_CACHE_HOME) return `${env.XDG_CACHE_HOME.replace(/\/+$/, '')}/lifeboat`;
  return `${homeDir.replace(/\/+$/, '')}/.cache/lifeboat`;
}

/** The rescue images' cache: `CACHE/images/`, one directory per image, named by its input hash. */
export function rescueImagesDir(cacheDir: string): string {
  return `${cacheDir.replace(/\/+$/, '')}/images`;
}

/**
 * The record of the last rescue image `lifeboat image build` built (or found built) on this machine:
 * `CACHE/images/latest`, a symbolic link to that image's directory (`<hash>`), replaced atomically.
 * `lifeboat serve` without `--image` serves the image it names.
 */
export function lastBuiltImageLink(cacheDir: string): string {
  return `${rescueImagesDir(cacheDir)}/latest`;
}
