import { randomUUID } from 'node:crypto';
import { writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cached, defaultCacheDir, hashInputs } from './cache.js';
import type { DiskOptions } from './layout-disks.js';
import { run } from './run.js';

/** Bump when the data disk's recipe changes, so the cached image rebuilds. */
const dataDiskRecipeVersion = 1;
const MiB = 1024 ** 2;

/** The size of a lab server's empty data disk (sparse on the host). */
export const dataDiskSizeBytes = 256 * MiB;
/** The label of the data disk's only file system. */
export const dataDiskLabel = 'data';

/**
 * A small empty data disk, built once and shared read-only (servers get an overlay): one MBR
 * partition holding an empty ext4 file system labelled `data`. Lab servers attach it as their NVMe
 * disk (`nvme0n1`, partition `nvme0n1p1`), so that SMART over NVMe, a disk read test and an fsck have
 * a target that is not the installed system.
 */
export interface DataDisk {
  /** The raw image. */
  image: string;
  sizeBytes: number;
  /** The partition's first byte and size in the image. */
  partition: { offsetBytes: number; sizeBytes: number };
  /** The ext4 file system's UUID and label. */
  uuid: string;
  label: string;
  /** Cache directory holding the image and `data-disk.json`. */
  cacheDir: string;
}

/**
 * Returns the cached data disk image, building it when missing (no root needed: `sfdisk` on the
 * image file, then `mkfs.ext4 -E offset=` straight into the partition, no loop device). Its cache key
 * holds only the recipe, so every layout and scenario shares one image.
 */
export async function ensureDataDisk(options: DiskOptions = {}): Promise<DataDisk> {
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const dir = join(cacheDir, 'disks', `data-${hashInputs({ dataDiskRecipeVersion, dataDiskSizeBytes, dataDiskLabel })}`);
  await cached(
    dir,
    async (tmp) => {
      options.onProgress?.('building the lab data disk image');
      const image = join(tmp, 'data.raw');
      const partition = { offsetBytes: MiB, sizeBytes: dataDiskSizeBytes - MiB };
      await run('truncate', ['-s', String(dataDiskSizeBytes), image]);
      await run('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', image], {
        input: `label: dos\nunit: sectors\nstart=${partition.offsetBytes / 512}, size=${partition.sizeBytes / 512}, type=83\n`,
      });
      const uuid = randomUUID();
      await run('mkfs.ext4', ['-q', '-F', '-L', dataDiskLabel, '-U', uuid, '-E', `offset=${partition.offsetBytes}`, image, `${partition.sizeBytes / 1024}k`]);
      const stored = { image: 'data.raw', sizeBytes: dataDiskSizeBytes, partition, uuid, label: dataDiskLabel };
      await writeFile(join(tmp, 'data-disk.json'), `${JSON.stringify(stored, null, 2)}\n`);
    },
    options,
  );
  const stored = JSON.parse(await readFile(join(dir, 'data-disk.json'), 'utf8')) as Omit<DataDisk, 'cacheDir'>;
  return { ...stored, image: join(dir, stored.image), cacheDir: dir };
}
