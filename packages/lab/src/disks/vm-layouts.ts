import type { InstalledTree } from './installed-tree.js';
import type { LabLogin } from './lab-login.js';
import type { LayoutDisks, LayoutName } from './layouts.js';
import { DiskError } from './errors.js';

/** The layouts built inside a QEMU VM (the host has no md and no device-mapper). */
export const vmLayouts: Partial<Record<LayoutName, true>> = {};

/** Builds a layout that needs md or LVM inside a VM running the installed tree's kernel. */
export async function buildVmLayout(
  layout: LayoutName,
  _tree: InstalledTree,
  _dir: string,
  _options: { cacheDir: string; login: LabLogin; onProgress?: (message: string) => void; signal?: AbortSignal },
): Promise<Omit<LayoutDisks, 'login' | 'cacheDir' | 'buildSeconds'>> {
  throw new DiskError('LAB_DISK_UNKNOWN_LAYOUT', `layout ${layout} is not built yet`);
}
