/** `lifeboat image ...`: build the rescue image and show where it is. */
import { constants } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureRescueImage, imageFileNames } from './builder/rescue-image.js';
import { imageProfiles, isImageProfile } from './builder/package-set.js';
import type { SquashfsCompression } from './builder/rootfs.js';
import { ImageError } from './errors.js';

const usage = `usage: lifeboat image build [--profile linux|windows] [--out DIR] [--cache DIR] [--compression zstd|xz]

Builds the rescue image (vmlinuz, initrd, rootfs.squashfs, manifest.json) from Debian 12 packages,
or finds it in the cache (\$LIFEBOAT_CACHE/images/<hash>/), and records it as the last one of its
profile built on this machine (\$LIFEBOAT_CACHE/images/latest, latest-windows): \`lifeboat serve\`
serves them unless told otherwise (--image, --image-profile).
--profile windows adds a desktop (VNC), Firefox ESR and the Windows repair tools (default: linux).
--out copies the files to DIR.`;

/** Runs `lifeboat image <argv>`; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== 'build' || rest.includes('--help') || rest.includes('-h')) {
    (command === 'help' || command === '--help' || rest.includes('--help') ? console.log : console.error)(usage);
    return command === 'build' || command === 'help' || command === '--help' ? 0 : 2;
  }
  let values: { out?: string; cache?: string; compression?: string; profile?: string };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: { out: { type: 'string' }, cache: { type: 'string' }, compression: { type: 'string' }, profile: { type: 'string' } },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    return 2;
  }
  if (values.compression !== undefined && values.compression !== 'xz' && values.compression !== 'zstd') {
    console.error(`--compression must be xz or zstd\n${usage}`);
    return 2;
  }
  const profile = values.profile ?? 'linux';
  if (!isImageProfile(profile)) {
    console.error(`--profile must be one of ${imageProfiles.join(', ')}\n${usage}`);
    return 2;
  }
  const started = Date.now();
  const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  try {
    const image = await ensureRescueImage({
      ...(values.cache ? { cacheDir: resolve(values.cache) } : {}),
      ...(values.compression ? { compression: values.compression as SquashfsCompression } : {}),
      onProgress: (line) => console.error(`[image ${elapsed()}] ${line}`),
      profile,
      recordAsLatest: true,
    });
    let dir = image.dir;
    if (values.out) {
      dir = resolve(values.out);
      await mkdir(dir, { recursive: true });
      // copies (reflinks where the file system can), not hard links: editing DIR must not alter the cache
      for (const name of [...imageFileNames, 'manifest.json']) await copyFile(join(image.dir, name), join(dir, name), constants.COPYFILE_FICLONE);
    }
    const m = image.manifest;
    const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
    console.log(`rescue image ${m.inputHash}, profile ${profile} (${image.cached ? 'cached' : 'built'} in ${elapsed()}): ${dir}`);
    for (const name of imageFileNames) console.log(`  ${name.padEnd(16)} ${mb(m.files[name].size).padStart(9)}  sha256 ${m.files[name].sha256}`);
    console.log(`  total            ${mb(m.totalBytes).padStart(9)}  (${m.packages.length} Debian packages, kernel ${m.kernelVersion})`);
    return 0;
  } catch (error) {
    if (error instanceof ImageError) {
      console.error(`lifeboat image build: ${error.code}: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
