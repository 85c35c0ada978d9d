import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { cached, defaultCacheDir, hashInputs } from './cache.js';
import { ensureDataDisk, type DataDisk } from './data-disk.js';
import { DiskError } from './errors.js';
import { ensureLayoutDisks, type DiskOptions } from './layout-disks.js';
import { readLayoutFile, type LayoutDisks, type LayoutName } from './layouts.js';
import { run } from './run.js';
import { applyScenarios, checkScenarios, isScenarioName, scenarioNames, type ScenarioName } from './scenarios.js';

/** Bump when a scenario's recipe changes, so cached variants rebuild. */
const scenarioRecipeVersion = 1;

/** Base images of a layout with scenarios applied: what a server's overlays sit on. */
export interface ScenarioDisks extends LayoutDisks {
  /** The scenarios applied, in a stable order (empty: the layout's own images). */
  scenarios: ScenarioName[];
}

/**
 * Returns cached base images of `layout` with `scenarios` applied (a variant per set of scenarios,
 * made once by copying the layout's images and breaking them on the host). With no scenario, the
 * layout's own images.
 */
export async function ensureScenarioDisks(
  layout: LayoutName,
  scenarios: readonly string[],
  options: DiskOptions = {},
): Promise<ScenarioDisks> {
  for (const scenario of scenarios)
    if (!isScenarioName(scenario))
      throw new DiskError('LAB_DISK_UNKNOWN_SCENARIO', `unknown scenario "${scenario}"; known: ${scenarioNames.join(', ')}`);
  const wanted = scenarioNames.filter((name) => scenarios.includes(name));
  const base = await ensureLayoutDisks(layout, options);
  if (wanted.length === 0) return { ...base, scenarios: [] };
  checkScenarios(base, wanted);
  const started = Date.now();
  const dir = `${base.cacheDir}+${wanted.join('+')}-${hashInputs({ scenarioRecipeVersion, wanted })}`;
  let built = false;
  await cached(
    dir,
    async (tmp) => {
      built = true;
      options.onProgress?.(`breaking a copy of the ${layout} disks: ${wanted.join(', ')}`);
      const copies: string[] = [];
      for (const disk of base.disks) {
        const copy = join(tmp, basename(disk));
        await run('cp', ['--sparse=always', disk, copy]);
        copies.push(copy);
      }
      await applyScenarios(base, copies, wanted, tmp);
      const stored = { ...base, disks: copies.map((disk) => basename(disk)), login: undefined, cacheDir: undefined, buildSeconds: undefined };
      await writeFile(join(tmp, 'layout.json'), `${JSON.stringify(stored, null, 2)}\n`);
    },
    options,
  );
  const description = await readLayoutFile(dir);
  return {
    ...base,
    disks: description.disks.map((disk) => join(dir, disk)),
    cacheDir: dir,
    scenarios: wanted,
    buildSeconds: base.buildSeconds + (built ? (Date.now() - started) / 1000 : 0),
  };
}

/** A server's own disks: copy-on-write overlays over cached base images. */
export interface ServerOverlays {
  /** qcow2 overlays, one per disk in attach order (`-drive file=...,format=qcow2`). */
  disks: string[];
  /** What the overlays sit on. */
  base: ScenarioDisks;
  /** The qcow2 overlay of the empty data disk (`dir/data.qcow2`), attached as NVMe: `nvme0n1`, partition `nvme0n1p1` labelled `data`. */
  dataDisk: string;
  /** What the data disk's overlay sits on. */
  dataBase: DataDisk;
}

/**
 * Creates `dir/disk<N>.qcow2`, one copy-on-write overlay per base image of `layout` with
 * `scenarios` applied (`qemu-img create -f qcow2 -F raw -b BASE`). Overlays already there are
 * replaced: the server starts from the base images again. The server writes only to its overlays.
 * Every server also gets an overlay of the empty data disk ({@link ensureDataDisk}).
 */
export async function createServerDisks(
  request: { layout: LayoutName; scenarios?: readonly string[]; dir: string },
  options: DiskOptions = {},
): Promise<ServerOverlays> {
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const base = await ensureScenarioDisks(request.layout, request.scenarios ?? [], { ...options, cacheDir });
  const dataBase = await ensureDataDisk({ ...options, cacheDir });
  await mkdir(request.dir, { recursive: true });
  const disks: string[] = [];
  for (const [index, image] of base.disks.entries()) {
    const overlay = join(request.dir, `disk${index}.qcow2`);
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', image, overlay]);
    disks.push(overlay);
  }
  const dataDisk = join(request.dir, 'data.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', dataBase.image, dataDisk]);
  return { disks, base, dataDisk, dataBase };
}
