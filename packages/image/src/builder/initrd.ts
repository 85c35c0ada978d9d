/**
 * The small, fast half of an image: a busybox initramfs with the boot modules, its /init, and the
 * files Lifeboat puts into the rescue system (its init, the agent, the helpers). Rebuilt in about a
 * second whenever any of them changes.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { profileHasDesktop } from '@lifeboat/core';
import { ImageError } from '../errors.js';
import type { ImageProfile } from './package-set.js';
import { sha256 } from './cache.js';
import type { CpioEntry } from './cpio.js';
import { cpioArchive } from './cpio.js';
import { runTool } from './run.js';

/** A file Lifeboat adds to the rescue system (the agent's bundle, helpers, menu). */
export interface RescueFile {
  /** Absolute path inside the rescue system. */
  readonly path: string;
  readonly content: Buffer;
  readonly mode: number;
}

/** The static busybox carried by the initrd (Debian's busybox-static). */
export const staticBusybox = '/bin/busybox';

const assetsDir = fileURLToPath(new URL('../assets/', import.meta.url));

/** Where the agent's runtime (QuickJS's `qjs`) goes in the rescue system; start-agent runs it. */
export const quickjsPathInImage = '/usr/lib/lifeboat/qjs';

/** Lifeboat's own files of the rescue system: its init, DHCP hook and the agent's runtime (`qjsBinary`). */
export async function imageOwnFiles(qjsBinary: string, profile: ImageProfile = 'linux'): Promise<RescueFile[]> {
  const asset = (name: string): Promise<Buffer> => readFile(join(assetsDir, name));
  // The desktop's start script is in every image (init runs it; it exits at once without an X server),
  // its menu in the profiles that have one.
  const desktopMenu: RescueFile[] = profileHasDesktop(profile) ? [{ path: '/etc/xdg/openbox/menu.xml', content: await asset('openbox-menu.xml'), mode: 0o644 }] : [];
  return [
    { path: '/usr/lib/lifeboat/start-desktop', content: await asset('start-desktop'), mode: 0o755 },
    ...desktopMenu,
    { path: quickjsPathInImage, content: await readFile(qjsBinary), mode: 0o755 },
    { path: '/etc/inittab', content: await asset('inittab'), mode: 0o644 },
    { path: '/usr/lib/lifeboat/rescue-rc', content: await asset('rescue-rc'), mode: 0o755 },
    { path: '/usr/lib/lifeboat/start-agent', content: await asset('start-agent'), mode: 0o755 },
    { path: '/usr/lib/lifeboat/udhcpc.script', content: await asset('udhcpc.script'), mode: 0o755 },
    { path: '/etc/modprobe.d/lifeboat-blacklist.conf', content: await asset('modprobe-blacklist.conf'), mode: 0o644 },
  ];
}

/** What determines the initrd's bytes besides the modules: hashed into the image's cache key. */
export async function initrdInputs(files: readonly RescueFile[]): Promise<unknown> {
  return {
    format: 3,
    init: sha256(await readFile(join(assetsDir, 'initrd-init.sh'))),
    udhcpc: sha256(await readFile(join(assetsDir, 'udhcpc.script'))),
    busybox: sha256(await readFile(staticBusybox)),
    files: files.map((f) => ({ path: f.path, mode: f.mode, sha256: sha256(f.content) })),
  };
}

/** Checks what another package handed over as rescue files. */
export function checkRescueFiles(files: unknown): RescueFile[] {
  if (!Array.isArray(files)) throw new ImageError('IMAGE_AGENT_FILES_INVALID', 'rescueFiles() did not return an array');
  return files.map((f: unknown, i) => {
    const file = f as Partial<RescueFile>;
    if (typeof file?.path !== 'string' || !file.path.startsWith('/') || file.path.split('/').includes('..')) {
      throw new ImageError('IMAGE_AGENT_FILES_INVALID', `rescue file ${i}: path must be absolute`);
    }
    if (!Buffer.isBuffer(file.content)) throw new ImageError('IMAGE_AGENT_FILES_INVALID', `rescue file ${file.path}: content must be a Buffer`);
    if (typeof file.mode !== 'number') throw new ImageError('IMAGE_AGENT_FILES_INVALID', `rescue file ${file.path}: mode must be a number`);
    return { path: file.path, content: file.content, mode: file.mode };
  });
}

async function treeEntries(dir: string, prefix: string): Promise<CpioEntry[]> {
  const out: CpioEntry[] = [];
  const walk = async (path: string): Promise<void> => {
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      const rel = join(prefix, relative(dir, full));
      if (entry.isDirectory()) {
        out.push({ kind: 'dir', path: rel });
        await walk(full);
      } else if (entry.isSymbolicLink()) out.push({ kind: 'symlink', path: rel, target: await readlink(full) });
      else out.push({ kind: 'file', path: rel, content: await readFile(full), mode: 0o644 });
    }
  };
  await walk(dir);
  return out;
}

/**
 * The initrd, uncompressed (see {@link compressInitrd}): a newc cpio with busybox, `/init`, the modules under `modulesTree`, and `files`
 * (Lifeboat's and the agent's) under /lib/lifeboat/root, which /init copies into the rescue system.
 */
export async function buildInitrd(modulesTree: string, files: readonly RescueFile[]): Promise<Buffer> {
  const busybox = await readFile(staticBusybox);
  if (busybox.includes('/lib64/ld-linux')) {
    throw new ImageError('IMAGE_TOOL_MISSING', `${staticBusybox} is not statically linked: install busybox-static`);
  }
  const applets = (await runTool(staticBusybox, ['--list'])).split('\n').filter((a) => a && a !== 'busybox');
  const entries: CpioEntry[] = [
    ...['dev', 'proc', 'sys', 'tmp', 'run', 'etc', 'media', 'newroot', 'overlay', 'lib/lifeboat/root'].map(
      (path): CpioEntry => ({ kind: 'dir', path }),
    ),
    // cp -a of this tree into the rescue system must keep /root private
    { kind: 'dir', path: 'lib/lifeboat/root/root', mode: 0o700 },
    { kind: 'chardev', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
    { kind: 'chardev', path: 'dev/null', mode: 0o666, major: 1, minor: 3 },
    { kind: 'file', path: 'bin/busybox', content: busybox, mode: 0o755 },
    ...applets.map((a): CpioEntry => ({ kind: 'symlink', path: `bin/${a}`, target: 'busybox' })),
    { kind: 'symlink', path: 'sbin', target: 'bin' },
    { kind: 'file', path: 'init', content: await readFile(join(assetsDir, 'initrd-init.sh')), mode: 0o755 },
    { kind: 'file', path: 'lib/lifeboat/udhcpc.script', content: await readFile(join(assetsDir, 'udhcpc.script')), mode: 0o755 },
    ...(await treeEntries(modulesTree, '')),
    ...files.map((f): CpioEntry => ({ kind: 'file', path: `lib/lifeboat/root${f.path}`, content: f.content, mode: f.mode })),
  ];
  return cpioArchive(entries);
}

/**
 * zstd, fast for the kernel to unpack under emulation. Level 6, not 19: 1 s instead of 30 s on a busy
 * machine for ≈ 1 MB more, and this runs at every agent or helper change.
 */
export async function compressInitrd(cpioPath: string, outPath: string): Promise<void> {
  await runTool('zstd', ['-q', '-f', '-6', '-T0', '--check', cpioPath, '-o', outPath]);
}
