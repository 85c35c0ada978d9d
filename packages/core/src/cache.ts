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

/**
 * The rescue image profiles `lifeboat image build --profile` builds: `linux`, and `windows` (the linux tool set,
 * a desktop and the Windows repair tools). The control plane looks for the last image built of each.
 */
export const builtImageProfiles = ['linux', 'windows'] as const;

/** The rescue images' cache: `CACHE/images/`, one directory per image, named by its input hash. */
export function rescueImagesDir(cacheDir: string): string {
  return `${cacheDir.replace(/\/+$/, '')}/images`;
}

/**
 * The record of the last rescue image of a profile that `lifeboat image build` built (or found built) on
 * this machine: `CACHE/images/latest` for `linux`, `CACHE/images/latest-PROFILE` for another profile
 * (`latest-windows`), a symbolic link to that image's directory (`<hash>`), replaced atomically.
 * `lifeboat serve` serves the images they name unless told otherwise (`--image`, `--image-profile`).
 */
export function lastBuiltImageLink(cacheDir: string, profile = 'linux'): string {
  return `${rescueImagesDir(cacheDir)}/${profile === 'linux' ? 'latest' : `latest-${profile}`}`;
}
