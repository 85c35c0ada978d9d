/**
 * A writer for the "newc" cpio format the kernel unpacks as an initramfs. Written here rather than
 * driving `cpio` so that entries come from memory (the agent's files) with exact modes, owned by
 * root, with a fixed mtime: the same input gives the same bytes.
 */

/** One entry of an initramfs archive. Paths are relative (`bin/busybox`), without a leading slash. */
export type CpioEntry =
  | { readonly kind: 'dir'; readonly path: string; readonly mode?: number }
  | { readonly kind: 'file'; readonly path: string; readonly content: Buffer; readonly mode: number }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string }
  | { readonly kind: 'chardev'; readonly path: string; readonly mode: number; readonly major: number; readonly minor: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function header(ino: number, mode: number, nlink: number, size: number, nameSize: number, rdev: [number, number]): string {
  const fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev[0], rdev[1], nameSize, 0];
  return '070701' + fields.map((n) => n.toString(16).padStart(8, '0')).join('');
}

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

/**
 * A newc archive of `entries`, in order, preceded by entries for any parent directory not listed.
 * A later entry for the same path replaces an earlier one, in the earlier one's place.
 */
export function cpioArchive(entries: readonly CpioEntry[]): Buffer {
  const byPath = new Map<string, CpioEntry>();
  const addParents = (path: string): void => {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!byPath.has(dir)) byPath.set(dir, { kind: 'dir', path: dir });
    }
  };
  for (const entry of entries) {
    const path = entry.path.replace(/^\/+/, '');
    if (!path || path.split('/').includes('..')) throw new Error(`invalid initramfs path: ${entry.path}`);
    addParents(path);
    byPath.set(path, { ...entry, path });
  }
  const chunks: Buffer[] = [];
  let ino = 1;
  const push = (name: string, mode: number, nlink: number, data: Buffer, rdev: [number, number] = [0, 0]): void => {
    const nameBuf = Buffer.from(`${name}\0`);
    const head = Buffer.from(header(ino++, mode, nlink, data.length, nameBuf.length, rdev));
    chunks.push(head, nameBuf, pad4(head.length + nameBuf.length), data, pad4(data.length));
  };
  for (const entry of byPath.values()) {
    if (entry.kind === 'dir') push(entry.path, S_IFDIR | (entry.mode ?? 0o755), 2, Buffer.alloc(0));
    else if (entry.kind === 'file') push(entry.path, S_IFREG | (entry.mode & 0o7777), 1, entry.content);
    else if (entry.kind === 'symlink') push(entry.path, S_IFLNK | 0o777, 1, Buffer.from(entry.target));
    else push(entry.path, S_IFCHR | (entry.mode & 0o7777), 1, Buffer.alloc(0), [entry.major, entry.minor]);
  }
  push('TRAILER!!!', 0, 1, Buffer.alloc(0));
  return Buffer.concat(chunks);
}
