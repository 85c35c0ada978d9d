import { writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { cached, defaultCacheDir, hashInputs } from './cache.js';
import { DiskError } from './errors.js';
import { ensureInstalledTree } from './installed-tree.js';
import { ensureLabLogin } from './lab-login.js';
import { buildHostLayout, hostLayouts, layoutNames, readLayoutFile, type LayoutDisks, type LayoutName } from './layouts.js';
import { buildVmLayout, vmLayouts } from './vm-layouts.js';

/** Options shared by the disk functions. */
export interface DiskOptions {
  /** Cache root (default {@link defaultCacheDir}: `$LIFEBOAT_CACHE`, `$XDG_CACHE_HOME/lifeboat`, `~/.cache/lifeboat`). */
  cacheDir?: string;
  /** Called with a line for the user while something long is built (first run only). */
  onProgress?: (message: string) => void;
  signal?: AbortSignal;
}

/** Bump when a layout's recipe changes, so cached images rebuild. */
const layoutRecipeVersion = 1;

/** Tells whether `name` is a layout. */
export function isLayoutName(name: string): name is LayoutName {
  return (layoutNames as readonly string[]).includes(name);
}

/**
 * Returns the base raw images of `layout` (in attach order), building what is missing: the
 * installed Debian tree, then the layout's images under `<cacheDir>/disks/<tree hash>/<layout>-<hash>/`.
 * A call with everything cached takes well under a second. The images are shared by every server:
 * never write to them; give each server an overlay ({@link createServerDisks}).
 */
export async function ensureLayoutDisks(layout: LayoutName, options: DiskOptions = {}): Promise<LayoutDisks> {
  if (!isLayoutName(layout)) throw new DiskError('LAB_DISK_UNKNOWN_LAYOUT', `unknown layout "${String(layout)}"; known: ${layoutNames.join(', ')}`);
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const started = Date.now();
  const login = await ensureLabLogin(cacheDir);
  const tree = await ensureInstalledTree(cacheDir, login, options);
  const dir = join(tree.cacheDir, `${layout}-${hashInputs({ layout, layoutRecipeVersion, tree: tree.hash })}`);
  let built = false;
  await cached(
    dir,
    async (tmp) => {
      built = true;
      options.onProgress?.(`building the ${layout} lab disk images`);
      const description = hostLayouts[layout]
        ? await buildHostLayout(layout, tree, tmp)
        : vmLayouts[layout]
          ? await buildVmLayout(layout, tree, tmp, { ...options, login })
          : undefined;
      if (!description) throw new DiskError('LAB_DISK_UNKNOWN_LAYOUT', `no recipe for layout ${layout}`);
      const stored = { ...description, disks: description.disks.map((disk) => basename(disk)) };
      await writeFile(join(tmp, 'layout.json'), `${JSON.stringify(stored, null, 2)}\n`);
    },
    options,
  );
  const description = await readLayoutFile(dir);
  return {
    ...description,
    disks: description.disks.map((disk) => join(dir, disk)),
    login,
    cacheDir: dir,
    buildSeconds: built || tree.buildSeconds > 0 ? (Date.now() - started) / 1000 : 0,
  };
}
