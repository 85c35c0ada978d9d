/**
 * Path safety of the partition explorer: every path a user gives is resolved inside the mount, one
 * component at a time, as the kernel would, but with the mount as the only world. A `..` in the
 * request, a symlink whose target is absolute (it would name the rescue system's files, not the
 * partition's) or a relative one that climbs above the mount is refused with `PATH_INVALID`; a
 * symlink loop too. The mount is read-only, so what was checked cannot change before it is read.
 *
 * Tried and rejected: `realpath -e` then a prefix check (one program instead of one per component)
 * resolves absolute symlinks against the rescue's root and cannot tell "missing" from "a loop" in
 * busybox's or coreutils' messages reliably; the component walk gives each case its own answer.
 */
import { LifeboatError } from '@lifeboat/core/errors';

/** What one path is, without following it. */
export type PathKind = { readonly kind: 'missing' } | { readonly kind: 'symlink'; readonly target: string } | { readonly kind: 'directory' } | { readonly kind: 'other' };

/** Looks at one absolute path without following a final symlink (`lstat` + `readlink`). */
export type PathInspector = (absolutePath: string) => Promise<PathKind>;

/** How many symlinks one resolution may follow (Linux's limit). */
const maxSymlinks = 40;

/** The components of an absolute request path; `..` is refused, `.` and empty ones dropped. */
export function requestComponents(path: string): string[] {
  if (!path.startsWith('/')) throw new LifeboatError('PATH_INVALID', `${path} is not an absolute path (start it with /)`);
  if (path.includes('\0')) throw new LifeboatError('PATH_INVALID', 'a path cannot contain a NUL byte');
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new LifeboatError('PATH_INVALID', `${path}: ".." is not allowed; give the path from the partition's root`);
  return parts;
}

/**
 * Resolves `path` inside `root` (the mount point): the path relative to the partition (`/var/log`),
 * symlinks inside the partition followed. With `followLast: false` a final symlink is returned as it
 * is (a listing shows it as a symlink).
 */
export async function resolveInside(root: string, path: string, inspect: PathInspector, followLast = true): Promise<string> {
  const pending = requestComponents(path);
  const resolved: string[] = [];
  let followed = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      // Only a symlink's target brings `..` here: the request's own were refused above.
      if (resolved.length === 0) throw new LifeboatError('PATH_INVALID', `${path} leads out of the partition through a symlink`);
      resolved.pop();
      continue;
    }
    const here = `${root}/${[...resolved, part].join('/')}`;
    const kind = await inspect(here);
    if (kind.kind === 'missing') throw new LifeboatError('PATH_NOT_FOUND', `no such file or directory: /${[...resolved, part].join('/')}`);
    const last = pending.length === 0;
    if (kind.kind === 'symlink' && (followLast || !last)) {
      if (++followed > maxSymlinks) throw new LifeboatError('PATH_INVALID', `${path}: too many levels of symlinks (a loop)`);
      if (kind.target.startsWith('/')) {
        throw new LifeboatError('PATH_INVALID', `/${[...resolved, part].join('/')} is a symlink to the absolute path ${kind.target}, which the explorer does not follow: open ${kind.target} itself`);
      }
      pending.unshift(...kind.target.split('/'));
      continue;
    }
    if (!last && kind.kind !== 'directory') throw new LifeboatError('PATH_NOT_FOUND', `/${[...resolved, part].join('/')} is not a directory`);
    resolved.push(part);
  }
  return `/${resolved.join('/')}`;
}
