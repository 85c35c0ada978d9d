/**
 * The agent's runtime in the rescue image: QuickJS (`qjs`, about 1 MB) instead of Node.js (about 90 MB
 * with its ICU data). Debian 12 does not package QuickJS; Debian 13 does. The build fetches that
 * source package with apt (so the archive's signature and checksums are verified as for any apt
 * download), compiles `qjs` on this machine (gcc, make: Debian 12's toolchain, so the binary runs on
 * the image's Debian 12 libc) and caches it under `$LIFEBOAT_CACHE/quickjs/`. About a minute once.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageError } from '../errors.js';
import { debianSources } from './apt-sources.js';
import { defaultCacheDir, sha256File, withBuildLock } from './cache.js';
import type { Progress } from './rootfs.js';
import { runTool } from './run.js';

/** The Debian suite whose QuickJS source package is built. */
export const quickjsSuite = 'trixie';

/** Bump when the way qjs is built changes. */
const quickjsFormat = 1;

/** A built QuickJS interpreter. */
export interface QuickjsRuntime {
  /** The `qjs` binary in the cache. */
  readonly path: string;
  /** Debian's version of the source package (`2025.04.26-1`). */
  readonly debianVersion: string;
  readonly sha256: string;
  readonly builtAt: string;
}

/** Where the build's record lives. */
interface Record extends QuickjsRuntime {
  readonly format: number;
}

/** The cached `qjs`, built first when missing. */
export async function ensureQuickjs(options: { cacheDir?: string; onProgress?: Progress } = {}): Promise<QuickjsRuntime> {
  const progress = options.onProgress ?? ((): void => undefined);
  const dir = join(options.cacheDir ?? defaultCacheDir(), 'quickjs');
  const recordPath = join(dir, 'runtime.json');
  const fromCache = async (): Promise<QuickjsRuntime | undefined> => {
    if (!existsSync(recordPath)) return undefined;
    const record = JSON.parse(await readFile(recordPath, 'utf8')) as Record;
    if (record.format !== quickjsFormat || !existsSync(record.path)) return undefined;
    return { path: record.path, debianVersion: record.debianVersion, sha256: record.sha256, builtAt: record.builtAt };
  };
  await mkdir(dir, { recursive: true });
  return withBuildLock(join(dir, 'build.lock'), fromCache, async () => {
    const work = join(dir, `.work-${process.pid}`);
    await rm(work, { recursive: true, force: true });
    await mkdir(work, { recursive: true });
    try {
      const { source, debianVersion } = await fetchSource(work, progress);
      progress(`building qjs ${debianVersion} (gcc, about a minute)`);
      const tree = join(work, 'tree');
      await mkdir(tree);
      await runTool('tar', ['-C', tree, '--strip-components=1', '-xf', source]);
      await runTool('make', ['-C', tree, `-j${Math.max(1, Math.min(4, (await cpuCount()) || 1))}`, 'qjs']);
      const binary = join(dir, `qjs-${debianVersion}`);
      await runTool('strip', ['-o', `${binary}.tmp`, join(tree, 'qjs')]);
      await rename(`${binary}.tmp`, binary);
      const built: Record = { format: quickjsFormat, path: binary, debianVersion, sha256: await sha256File(binary), builtAt: new Date().toISOString() };
      await writeFile(`${recordPath}.tmp`, `${JSON.stringify(built, null, 2)}\n`);
      await rename(`${recordPath}.tmp`, recordPath);
      progress(`qjs ${debianVersion} built: ${binary}`);
      return built;
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
}

async function cpuCount(): Promise<number> {
  return (await readFile('/proc/cpuinfo', 'utf8')).split('\n').filter((l) => l.startsWith('processor')).length;
}

/**
 * Downloads QuickJS's source package from {@link quickjsSuite} with apt-get, using a private apt
 * state under `work` (the machine's own apt configuration is neither read for sources nor changed).
 */
async function fetchSource(work: string, progress: Progress): Promise<{ source: string; debianVersion: string }> {
  const mirror = debianSources()[0]?.split(' ')[1] ?? 'http://deb.debian.org/debian';
  const keyring = '/usr/share/keyrings/debian-archive-keyring.gpg';
  if (!existsSync(keyring)) throw new ImageError('IMAGE_TOOL_MISSING', `${keyring} is missing: install debian-archive-keyring`);
  for (const sub of ['lists/partial', 'cache/archives/partial', 'parts', 'src']) await mkdir(join(work, 'apt', sub), { recursive: true });
  await writeFile(join(work, 'apt/sources.list'), `deb-src [signed-by=${keyring}] ${mirror} ${quickjsSuite} main\n`);
  const options = [
    `Dir::Etc::SourceList=${join(work, 'apt/sources.list')}`,
    `Dir::Etc::SourceParts=${join(work, 'apt/parts')}`,
    `Dir::State::Lists=${join(work, 'apt/lists')}`,
    `Dir::Cache=${join(work, 'apt/cache')}`,
    'APT::Sandbox::User=root',
    'Debug::NoLocking=1',
    'Acquire::Languages=none',
  ].flatMap((o) => ['-o', o]);
  progress(`fetching the QuickJS source package from ${mirror} ${quickjsSuite} (apt-get source)`);
  try {
    await runTool('apt-get', [...options, '-q', 'update']);
    await runTool('apt-get', [...options, '-q', 'source', '--download-only', 'quickjs'], { cwd: join(work, 'apt/src') });
  } catch (error) {
    throw new ImageError(
      'IMAGE_QUICKJS_SOURCE_UNAVAILABLE',
      `could not download QuickJS's source package from ${mirror} (${quickjsSuite}): ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  const files = await readdir(join(work, 'apt/src'));
  const orig = files.find((f) => /^quickjs_.*\.orig\.tar\.(xz|gz|bz2)$/.test(f));
  const dsc = files.find((f) => f.endsWith('.dsc'));
  if (!orig || !dsc) throw new ImageError('IMAGE_QUICKJS_SOURCE_UNAVAILABLE', `apt-get source gave ${files.join(', ') || 'nothing'}`);
  const debianVersion = /^quickjs_(.+)\.dsc$/.exec(dsc)?.[1] ?? 'unknown';
  const source = join(work, orig);
  await copyFile(join(work, 'apt/src', orig), source);
  return { source, debianVersion };
}
