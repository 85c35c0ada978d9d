/**
 * The slow, cached half of an image: a Debian root file system made by mmdebstrap, pruned, packed
 * as a squashfs; the kernel taken out of it; and the few modules the initrd needs. Nothing of
 * Lifeboat's own goes in here, so agent or helper changes never rebuild it.
 */
import { existsSync } from 'node:fs';
import { copyFile, cp, lstat, mkdir, readdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ImageError } from '../errors.js';
import { debianSources } from './apt-sources.js';
import { inputHash, withBuildLock } from './cache.js';
import {
  dpkgPathFilters,
  droppedModules,
  initrdModules,
  keptGconvModules,
  keptModuleDirs,
  keptModules,
  packageFilesKept,
  prunedDirNames,
  prunedPackageFiles,
  prunedPaths,
  profilePackages,
  profilePrunedPackageFiles,
  profilePrunedPaths,
  requiredInitrdModules,
  rescuePackages,
  suite,
} from './package-set.js';
import type { ImageProfile } from './package-set.js';
import { runTool } from './run.js';

/** Bump when the way the root file system is made changes in a way the lists above do not show. */
const rootfsFormat = 5;

/** How the squashfs is compressed. */
export type SquashfsCompression = 'xz' | 'zstd';

/**
 * The inputs of the root file system: its cache key is their hash. The `linux` profile's are what they were
 * before profiles existed (its cache key did not change); the `windows` profile's name the profile.
 */
export function rootfsInputs(compression: SquashfsCompression, profile: ImageProfile = 'linux'): unknown {
  const inputs = {
    rootfsFormat, suite, rescuePackages, dpkgPathFilters, keptModuleDirs, keptModules, droppedModules, prunedPackageFiles, prunedPaths,
    packageFilesKept, prunedDirNames, keptGconvModules, initrdModules, compression, squashfsArgs: squashfsArgs(compression),
  };
  if (profile === 'linux') return inputs;
  return {
    ...inputs,
    profile,
    rescuePackages: profilePackages(profile),
    prunedPackageFiles: profilePrunedPackageFiles(profile),
    prunedPaths: profilePrunedPaths(profile),
  };
}

/**
 * mksquashfs's compression options. zstd -19 in 1 MiB blocks: 7% smaller than in 256 KiB blocks (where
 * levels 15 to 22 differ by 1%), and it booted no slower (docs/rescue-image.md); zstd decompresses at
 * the same speed whatever the level. xz, smaller still, reads about twice as slowly under emulation,
 * where every module, library and program the boot touches is decompressed.
 */
function squashfsArgs(compression: SquashfsCompression): string[] {
  return compression === 'xz' ? ['-comp', 'xz', '-Xbcj', 'x86', '-b', '1M'] : ['-comp', 'zstd', '-Xcompression-level', '19', '-b', '1M'];
}

/** A built root file system in the cache. */
export interface RootfsStage {
  readonly dir: string;
  readonly hash: string;
  readonly kernelVersion: string;
  /** name → version of every installed package. */
  readonly packages: ReadonlyArray<{ name: string; version: string }>;
  /** Bytes of the unpacked tree that went into the squashfs. */
  readonly treeBytes: number;
  readonly modulesKept: number;
  readonly modulesDropped: number;
  /** Seconds the prune and mksquashfs took (the Debian tree may have come from the cache). */
  readonly buildSeconds: number;
  /** Seconds mmdebstrap took when the Debian tree was made; null when not recorded. */
  readonly bootstrapSeconds: number | null;
  readonly builtAt: string;
  readonly compression: SquashfsCompression;
  /** The image profile whose package set it holds (absent in stages built before profiles: `linux`). */
  readonly profile?: ImageProfile;
}

/** Progress lines of a build. */
export type Progress = (message: string) => void;

/** The cached root file system for the current inputs, built first when missing. */
export async function ensureRootfs(
  imagesDir: string,
  compression: SquashfsCompression,
  progress: Progress,
  profile: ImageProfile = 'linux',
): Promise<RootfsStage> {
  const hash = inputHash(rootfsInputs(compression, profile));
  const dir = join(imagesDir, `rootfs-${hash}`);
  const stageFile = join(dir, 'stage.json');
  const isDone = async (): Promise<RootfsStage | undefined> =>
    existsSync(stageFile) ? ({ ...JSON.parse(await readFile(stageFile, 'utf8')), dir } as RootfsStage) : undefined;
  await mkdir(imagesDir, { recursive: true });
  return withBuildLock(join(imagesDir, `rootfs-${hash}.lock`), isDone, async () => {
    const work = join(imagesDir, `.work-rootfs-${hash}-${process.pid}`);
    await rm(work, { recursive: true, force: true });
    await mkdir(work, { recursive: true });
    try {
      const stage = await buildRootfs(work, hash, compression, progress, profile);
      await rm(dir, { recursive: true, force: true });
      await rename(join(work, 'out'), dir);
      await writeFile(stageFile, JSON.stringify(stage, null, 2));
      return { ...stage, dir };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
}

async function buildRootfs(
  work: string,
  hash: string,
  compression: SquashfsCompression,
  progress: Progress,
  profile: ImageProfile,
): Promise<Omit<RootfsStage, 'dir'>> {
  const root = join(work, 'root');
  const out = join(work, 'out');
  await mkdir(out);
  const bootstrapSeconds = await bootstrap(dirname(work), root, progress, profilePackages(profile));
  const pruneStarted = Date.now();

  const kernelVersion = (await readdir(join(root, 'lib/modules')))[0];
  if (!kernelVersion) throw new ImageError('IMAGE_KERNEL_NOT_FOUND', 'linux-image-amd64 installed no modules');
  const vmlinuz = join(root, 'boot', `vmlinuz-${kernelVersion}`);
  if (!existsSync(vmlinuz)) throw new ImageError('IMAGE_KERNEL_NOT_FOUND', `no ${vmlinuz}`);
  await copyFile(vmlinuz, join(out, 'vmlinuz'));

  const packages = (await runTool('dpkg-query', [`--admindir=${join(root, 'var/lib/dpkg')}`, '-W', '-f', '${Package}\t${Version}\n']))
    .trim()
    .split('\n')
    .map((line) => {
      const [name = '', version = ''] = line.split('\t');
      return { name, version };
    });

  progress('pruning kernel modules and caches');
  const { kept, dropped } = await pruneModules(root, kernelVersion);
  for (const path of profilePrunedPaths(profile)) await rm(join(root, path), { recursive: true, force: true });
  for (const name of profilePrunedPackageFiles(profile)) await removePackageFiles(root, name);
  for (const [name, keep] of Object.entries(packageFilesKept)) await removePackageFiles(root, name, keep);
  for (const name of prunedDirNames) {
    await runTool('find', [join(root, 'usr/lib'), '-type', 'd', '-name', name, '-prune', '-exec', 'rm', '-rf', '{}', '+']);
  }
  const gconv = join(root, 'usr/lib/x86_64-linux-gnu/gconv');
  for (const entry of existsSync(gconv) ? await readdir(gconv) : []) {
    if (entry.endsWith('.so') && !keptGconvModules.includes(entry)) await rm(join(gconv, entry));
  }
  await mkdir(join(root, 'boot'));
  await mkdir(join(root, 'var/log'), { recursive: true });
  await copyInitrdModules(root, kernelVersion, join(out, 'initrd-modules'), progress);
  const treeBytes = Number((await runTool('du', ['-sb', root])).split('\t')[0]);

  progress(`mksquashfs (${compression}) of ${Math.round(treeBytes / 1e6)} MB (a minute or two)`);
  await runTool('mksquashfs', [root, join(out, 'rootfs.squashfs'), ...squashfsArgs(compression), '-noappend', '-no-progress', '-quiet']);

  return {
    hash,
    kernelVersion,
    packages,
    treeBytes,
    modulesKept: kept,
    modulesDropped: dropped,
    buildSeconds: Math.round((Date.now() - pruneStarted) / 100) / 10,
    bootstrapSeconds,
    builtAt: new Date().toISOString(),
    compression,
    profile,
  };
}

/** Bump when the mmdebstrap call changes in a way the lists do not show. */
const bootstrapFormat = 2;

/**
 * Unpacks the Debian tree for the package set into `root`: mmdebstrap's tarball, itself cached
 * (`images/bootstrap-<hash>.tar`) so that a change to the pruning or compression does not download
 * and install again.
 */
async function bootstrap(imagesDir: string, root: string, progress: Progress, packages: readonly string[]): Promise<number | null> {
  // the key is named as before profiles existed, so that the linux profile's tarball keeps its name
  const hash = inputHash({ bootstrapFormat, suite, rescuePackages: packages, dpkgPathFilters });
  const tarball = join(imagesDir, `bootstrap-${hash}.tar`);
  const record = join(imagesDir, `bootstrap-${hash}.json`);
  if (!existsSync(tarball)) {
    const started = Date.now();
    const sources = debianSources();
    const mirrors = sources.map((s) => s.split(' ')[1]).filter((u, i, a) => a.indexOf(u) === i);
    progress(`mmdebstrap: ${packages.length} packages and their dependencies from ${mirrors.join(', ')} (about a minute)`);
    // update-initramfs is diverted to a no-op: the kernel package would otherwise spend time on an
    // initramfs-tools initrd that the image never uses.
    const noInitramfs =
      'chroot "$1" dpkg-divert --quiet --local --rename --divert /usr/sbin/update-initramfs.distrib --add /usr/sbin/update-initramfs && ' +
      'printf "#!/bin/sh\\nexit 0\\n" > "$1/usr/sbin/update-initramfs" && chmod 755 "$1/usr/sbin/update-initramfs"';
    const partial = `${tarball}.${process.pid}.tar`;
    try {
      await runTool(
        'mmdebstrap',
        [
          '--variant=minbase',
          '--mode=root',
          '--aptopt=APT::Install-Recommends "false"',
          // merged /usr by symlinks plus usr-is-merged: bookworm's default, usrmerge, pulls in all of Perl
          '--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr',
          ...dpkgPathFilters.map((f) => `--dpkgopt=${f}`),
          `--essential-hook=${noInitramfs}`,
          `--include=${packages.join(',')}`,
          suite,
          partial,
          ...sources,
        ],
        { onLine: (line) => (/^I: (installing|downloading|running apt|cleaning|success)/.test(line) ? progress(`  ${line.slice(3)}`) : undefined) },
      );
      await rename(partial, tarball);
      await writeFile(record, JSON.stringify({ seconds: Math.round((Date.now() - started) / 100) / 10, builtAt: new Date().toISOString() }));
    } finally {
      await rm(partial, { force: true });
    }
  } else progress(`Debian tree from the cache (${tarball})`);
  await mkdir(root, { recursive: true });
  await runTool('tar', ['-C', root, '--numeric-owner', '-xf', tarball]);
  const recorded = existsSync(record) ? (JSON.parse(await readFile(record, 'utf8')) as { seconds?: unknown }).seconds : undefined;
  return typeof recorded === 'number' ? recorded : null;
}

/** Parses modules.dep: module path → its dependencies' paths (relative to /lib/modules/VERSION). */
export async function readModulesDep(modulesDir: string): Promise<Map<string, string[]>> {
  const deps = new Map<string, string[]>();
  for (const line of (await readFile(join(modulesDir, 'modules.dep'), 'utf8')).split('\n')) {
    const [path, rest = ''] = line.split(':');
    if (path) deps.set(path, rest.trim().split(/\s+/).filter(Boolean));
  }
  return deps;
}

function closure(roots: Iterable<string>, deps: ReadonlyMap<string, readonly string[]>): Set<string> {
  const out = new Set<string>();
  const visit = (path: string): void => {
    if (out.has(path)) return;
    out.add(path);
    for (const dep of deps.get(path) ?? []) visit(dep);
  };
  for (const r of roots) visit(r);
  return out;
}

/**
 * The modules (paths relative to /lib/modules/VERSION, as in modules.dep) that stay: those under
 * {@link keptModuleDirs}, those named in {@link keptModules} or {@link initrdModules} (the initrd takes its
 * modules from the pruned tree), minus {@link droppedModules}; then everything they depend on.
 */
export function modulesToKeep(deps: ReadonlyMap<string, readonly string[]>): Set<string> {
  const names = (list: readonly string[]): Set<string> => new Set(list.map((n) => n.replace(/-/g, '_')));
  const wantedNames = names([...keptModules, ...initrdModules]);
  const droppedNames = names(droppedModules);
  const roots = [...deps.keys()].filter((path) => {
    const name = moduleName(path);
    if (wantedNames.has(name)) return true;
    if (droppedNames.has(name)) return false;
    return keptModuleDirs.some((dir) => path.startsWith(`kernel/${dir}/`));
  });
  return closure(roots, deps);
}

/** Deletes the modules {@link modulesToKeep} does not keep, then runs depmod. */
async function pruneModules(root: string, kernelVersion: string): Promise<{ kept: number; dropped: number }> {
  const modulesDir = join(root, 'lib/modules', kernelVersion);
  const deps = await readModulesDep(modulesDir);
  const kept = modulesToKeep(deps);
  let dropped = 0;
  for (const path of deps.keys()) {
    if (kept.has(path)) continue;
    await unlink(join(modulesDir, path));
    dropped++;
  }
  await runTool('chroot', [root, 'depmod', kernelVersion]);
  return { kept: kept.size, dropped };
}

/**
 * Deletes the files (and then the directories left empty) that dpkg lists for package `name`, but those
 * in `keep`, leaving dpkg's database as it is: the package still counts as installed, `apt install
 * --reinstall` restores it.
 */
async function removePackageFiles(root: string, name: string, keep: readonly string[] = []): Promise<void> {
  const info = join(root, 'var/lib/dpkg/info');
  const list = [`${name}.list`, `${name}:amd64.list`].map((f) => join(info, f)).find((f) => existsSync(f));
  if (!list) throw new ImageError('IMAGE_BUILD_FAILED', `package ${name} (files to prune) is not installed`);
  const paths = (await readFile(list, 'utf8')).split('\n').filter((p) => p.startsWith('/'));
  const patterns = keep.map((pattern) => new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`));
  const missing = keep.filter((_, i) => !paths.some((path) => patterns[i]?.test(path)));
  if (missing.length > 0) throw new ImageError('IMAGE_BUILD_FAILED', `package ${name} has no ${missing.join(', ')} (files to keep)`);
  const kept = (path: string): boolean => patterns.some((p) => p.test(path)) || (keep.length > 0 && /^\/usr\/share\/doc\/[^/]+\/copyright$/.test(path));
  // A path with entries below it is a directory to dpkg, even where merged /usr made it a symlink (/lib).
  const parents = new Set(paths.flatMap((p) => p.split('/').slice(1, -1).map((_, i, parts) => `/${parts.slice(0, i + 1).join('/')}`)));
  const directories: string[] = [];
  for (const path of paths.filter((p) => !kept(p))) {
    const full = join(root, path);
    const info = await lstat(full).catch(() => undefined);
    if (!info) continue;
    if (info.isDirectory()) directories.push(full);
    else if (!parents.has(path)) await unlink(full);
  }
  for (const dir of directories.sort((a, b) => b.length - a.length)) await rmdir(dir).catch(() => undefined);
}

const moduleName = (path: string): string => (path.split('/').pop() ?? '').replace(/\.ko(\.[a-z]+)?$/, '').replace(/-/g, '_');

/** Copies {@link initrdModules} and their dependencies to `dest/lib/modules/VERSION`, with depmod's indexes. */
async function copyInitrdModules(root: string, kernelVersion: string, dest: string, progress: Progress): Promise<void> {
  const modulesDir = join(root, 'lib/modules', kernelVersion);
  const deps = await readModulesDep(modulesDir);
  const byName = new Map([...deps.keys()].map((p) => [moduleName(p), p]));
  const builtin = await readFile(join(modulesDir, 'modules.builtin'), 'utf8');
  const builtinNames = new Set(builtin.split('\n').map(moduleName));
  const wanted: string[] = [];
  for (const name of initrdModules) {
    const path = byName.get(name.replace(/-/g, '_'));
    if (path) wanted.push(path);
    else if (builtinNames.has(name.replace(/-/g, '_'))) continue;
    else if (requiredInitrdModules.includes(name)) throw new ImageError('IMAGE_MODULE_NOT_FOUND', `kernel ${kernelVersion} has no module ${name}`);
    else progress(`  kernel ${kernelVersion} has no ${name} module; the initrd goes without it`);
  }
  const destModules = join(dest, 'lib/modules', kernelVersion);
  for (const path of closure(wanted, deps)) {
    await mkdir(dirname(join(destModules, path)), { recursive: true });
    await copyFile(join(modulesDir, path), join(destModules, path));
  }
  for (const file of ['modules.builtin', 'modules.builtin.modinfo', 'modules.order']) {
    if (existsSync(join(modulesDir, file))) await cp(join(modulesDir, file), join(destModules, file));
  }
  await runTool('depmod', ['-b', dest, kernelVersion]);
  await stat(join(destModules, 'modules.dep'));
}
