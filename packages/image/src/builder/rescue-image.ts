/**
 * `ensureRescueImage`: the rescue image for the current inputs, from the cache or built. An image is
 * a directory with `vmlinuz`, `initrd`, `rootfs.squashfs` and `manifest.json`.
 */
import { existsSync } from 'node:fs';
import { copyFile, link, mkdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { lastBuiltImageLink } from '@lifeboat/core';
import { ImageError } from '../errors.js';
import { defaultCacheDir, inputHash, sha256, sha256File, withBuildLock } from './cache.js';
import { buildInitrd, checkRescueFiles, compressInitrd, imageOwnFiles, initrdInputs } from './initrd.js';
import type { RescueFile } from './initrd.js';
import { ensureQuickjs } from './quickjs.js';
import { profileTools } from './package-set.js';
import type { ImageProfile } from './package-set.js';
import { ensureRootfs, rootfsInputs } from './rootfs.js';
import type { Progress, SquashfsCompression } from './rootfs.js';

/** The files of an image, in the order a netboot serves them. */
export const imageFileNames = ['vmlinuz', 'initrd', 'rootfs.squashfs'] as const;

/** One of {@link imageFileNames}. */
export type ImageFileName = (typeof imageFileNames)[number];

/** What `manifest.json` says about an image. */
export interface ImageManifest {
  readonly formatVersion: 1;
  /** The image profile (`linux`, `windows`); absent in manifests written before profiles: `linux`. */
  readonly profile?: ImageProfile;
  /** Hash of every input: the image's id and its cache directory's name. */
  readonly inputHash: string;
  /** Hash of the root file system's inputs (Debian packages, pruning). */
  readonly rootfsHash: string;
  readonly builtAt: string;
  readonly rootfsBuiltAt: string;
  /** Seconds the pruning and mksquashfs took when the root file system was built. */
  readonly rootfsBuildSeconds: number;
  /** Seconds mmdebstrap took when the Debian tree was made (null: not recorded). Cold build ≈ this + rootfsBuildSeconds. */
  readonly bootstrapSeconds: number | null;
  readonly kernelVersion: string;
  readonly squashfsCompression: SquashfsCompression;
  /** Size and sha256 of each file. */
  readonly files: Readonly<Record<ImageFileName, { size: number; sha256: string }>>;
  /** Sum of the three files' sizes: what a server downloads to boot. */
  readonly totalBytes: number;
  /** Bytes of the unpacked root file system. */
  readonly rootfsTreeBytes: number;
  readonly modules: { readonly kept: number; readonly dropped: number };
  readonly packages: ReadonlyArray<{ name: string; version: string }>;
  /** The profile's programs, each with its Debian package and that package's version (none listed for `linux`). */
  readonly tools?: ReadonlyArray<{ command: string; package: string; version: string }>;
  /** Files Lifeboat added to the rescue system (in the initrd, copied in at boot). */
  readonly rescueFiles: ReadonlyArray<{ path: string; mode: number; size: number; sha256: string }>;
}

/** A rescue image on disk. */
export interface RescueImage {
  /** Directory holding the image's files and manifest. */
  readonly dir: string;
  readonly manifest: ImageManifest;
  /** Whether it came from the cache as it was (nothing built). */
  readonly cached: boolean;
}

/** How to get an image. */
export interface EnsureRescueImageOptions {
  /** Cache root; the image goes to `CACHE/images/<hash>/`. Default: {@link defaultCacheDir}. */
  readonly cacheDir?: string;
  /**
   * Files to put into the rescue system instead of the agent's (`rescueFiles()` of @lifeboat/agent):
   * for tests that boot an image without the agent.
   */
  readonly rescueFiles?: readonly RescueFile[];
  /** squashfs compression: `zstd` (the default: boots faster under emulation) or `xz` (≈ 20 MB smaller). */
  readonly compression?: SquashfsCompression;
  /** Called with progress lines; default: none. */
  readonly onProgress?: Progress;
  /** Which image: `linux` (default) or `windows` (the linux tool set, a desktop and WinRescue's jobs). */
  readonly profile?: ImageProfile;
  /**
   * Record the image as the last one of its profile built on this machine (`CACHE/images/latest`, or
   * `latest-windows` for that profile: what `lifeboat serve` serves unless told otherwise): `lifeboat image build` and `npm start` do; tests and benchmarks
   * that build variants (extra files, other compression) do not. Default false.
   */
  readonly recordAsLatest?: boolean;
}

/** The agent package's files for the rescue system, or none while it exports none. */
export async function agentRescueFiles(): Promise<RescueFile[]> {
  // A variable specifier: the agent package is optional to this one (built in parallel).
  const specifier = '@lifeboat/agent';
  let agent: Record<string, unknown>;
  try {
    agent = (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return [];
    throw error;
  }
  const rescueFiles = agent.rescueFiles;
  if (typeof rescueFiles !== 'function') return [];
  return checkRescueFiles(await (rescueFiles as () => Promise<unknown>)());
}

/** The rescue image for the current inputs: from the cache when it is there, else built (minutes on a fresh machine). */
export async function ensureRescueImage(options: EnsureRescueImageOptions = {}): Promise<RescueImage> {
  const image = await findOrBuildRescueImage(options);
  if (options.recordAsLatest) await recordLastBuiltImage(options.cacheDir ?? defaultCacheDir(), image.dir, options.profile ?? 'linux');
  return image;
}

/**
 * Points `CACHE/images/latest` (`latest-PROFILE` for a profile other than `linux`) at `imageDir` (a relative symbolic link, so that the cache can move):
 * a new link renamed over the old one, so that a reader sees the old image or the new one, never none.
 */
export async function recordLastBuiltImage(cacheDir: string, imageDir: string, profile: ImageProfile = 'linux'): Promise<void> {
  const link = lastBuiltImageLink(cacheDir, profile);
  const temporary = `${link}.${process.pid}.tmp`;
  await rm(temporary, { force: true });
  await symlink(basename(imageDir), temporary);
  await rename(temporary, link);
}

async function findOrBuildRescueImage(options: EnsureRescueImageOptions): Promise<RescueImage> {
  const progress = options.onProgress ?? ((): void => undefined);
  const imagesDir = join(options.cacheDir ?? defaultCacheDir(), 'images');
  const compression = options.compression ?? 'zstd';
  const profile = options.profile ?? 'linux';
  const extraFiles = options.rescueFiles ? checkRescueFiles([...options.rescueFiles]) : await agentRescueFiles();
  const quickjs = await ensureQuickjs({ ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}), onProgress: progress });
  const files = [...(await imageOwnFiles(quickjs.path, profile)), ...extraFiles];

  const rootfsHash = inputHash(rootfsInputs(compression, profile));
  const hash = inputHash({ rootfsHash, initrd: await initrdInputs(files) });
  const dir = join(imagesDir, hash);
  const manifestPath = join(dir, 'manifest.json');
  const fromCache = async (): Promise<RescueImage | undefined> =>
    existsSync(manifestPath) ? { dir, manifest: JSON.parse(await readFile(manifestPath, 'utf8')) as ImageManifest, cached: true } : undefined;

  const found = await fromCache();
  if (found) {
    progress(`rescue image ${hash} is cached: ${dir}`);
    return found;
  }
  await mkdir(imagesDir, { recursive: true });
  return withBuildLock(join(imagesDir, `${hash}.lock`), fromCache, async () => {
    const rootfs = await ensureRootfs(imagesDir, compression, progress, profile);
    const tools = profileTools(profile).map((tool) => {
      const version = rootfs.packages.find((p) => p.name === tool.package)?.version;
      if (version === undefined) throw new ImageError('IMAGE_BUILD_FAILED', `${tool.command}: package ${tool.package} is not installed`);
      return { ...tool, version };
    });
    progress('building the initrd (busybox, boot modules, Lifeboat files)');
    const work = join(imagesDir, `.work-${hash}-${process.pid}`);
    await rm(work, { recursive: true, force: true });
    await mkdir(work);
    try {
      await writeFile(join(work, 'initrd.cpio'), await buildInitrd(join(rootfs.dir, 'initrd-modules'), files));
      await compressInitrd(join(work, 'initrd.cpio'), join(work, 'initrd'));
      await rm(join(work, 'initrd.cpio'));
      for (const name of ['vmlinuz', 'rootfs.squashfs']) await linkOrCopy(join(rootfs.dir, name), join(work, name));
      const described = {} as Record<ImageFileName, { size: number; sha256: string }>;
      for (const name of imageFileNames) {
        described[name] = { size: (await stat(join(work, name))).size, sha256: await sha256File(join(work, name)) };
      }
      const manifest: ImageManifest = {
        formatVersion: 1,
        profile,
        inputHash: hash,
        rootfsHash,
        builtAt: new Date().toISOString(),
        rootfsBuiltAt: rootfs.builtAt,
        rootfsBuildSeconds: rootfs.buildSeconds,
        bootstrapSeconds: rootfs.bootstrapSeconds ?? null,
        kernelVersion: rootfs.kernelVersion,
        squashfsCompression: rootfs.compression,
        files: described,
        totalBytes: imageFileNames.reduce((sum, name) => sum + described[name].size, 0),
        rootfsTreeBytes: rootfs.treeBytes,
        modules: { kept: rootfs.modulesKept, dropped: rootfs.modulesDropped },
        packages: rootfs.packages,
        ...(tools.length > 0 ? { tools } : {}),
        rescueFiles: files.map((f) => ({ path: f.path, mode: f.mode, size: f.content.length, sha256: sha256(f.content) })),
      };
      await writeFile(join(work, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
      await rm(dir, { recursive: true, force: true });
      await rename(work, dir);
      progress(`rescue image ${hash} built: ${dir}`);
      return { dir, manifest, cached: false };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
}

/** Hard-links `from` to `to` (same file system, no copy), else copies. */
export async function linkOrCopy(from: string, to: string): Promise<void> {
  await rm(to, { force: true });
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to);
  }
}
