// The lab's Windows-like disk: the partition layout Windows Setup makes on a UEFI machine (ESP, MSR,
// the NTFS C: volume, a recovery partition), made with Linux tools. There is no Windows here: the
// boot manager is a stand-in file, the registry hives are written from scratch (windows-hives.ts).
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cached, defaultCacheDir, hashInputs } from './cache.js';
import { diskSizeBytes } from './layouts.js';
import type { DiskOptions } from './layout-disks.js';
import { LoopMounts } from './loop.js';
import { writeHive } from './registry-hive.js';
import { bcdHiveKeys, labWindowsUsers, samHiveKeys, systemHiveKeys, type SamUser } from './windows-hives.js';
import { regString } from './registry-hive.js';
import { run } from './run.js';

const MiB = 1024 ** 2;

/** GPT partition type GUIDs of a Windows disk. */
export const windowsPartitionTypes = {
  esp: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  msr: 'E3C9E316-0B5C-4DB8-817D-F92DF00215AE',
  basicData: 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7',
  recovery: 'DE94BBA4-06D1-4D40-A16A-BFD50179D6AC',
} as const;

/** What a partition of the Windows disk is for. */
export type WindowsPartitionRole = 'esp' | 'msr' | 'windows' | 'recovery';

/** One partition of the Windows disk. */
export interface WindowsPartition {
  role: WindowsPartitionRole;
  /** Partition number (1-based, as in `/dev/vda3`). */
  number: number;
  typeGuid: string;
  /** GPT partition name, as Windows Setup writes it. */
  name: string;
  /** File system: `vfat` (FAT32), `ntfs`, or none for the MSR. */
  fileSystem?: 'vfat' | 'ntfs';
  /** Volume label of the file system. */
  label?: string;
  offsetBytes: number;
  sizeBytes: number;
}

/** A file of the C: volume that a rescue copies off, with its digest. */
export interface WindowsDocument {
  /** Path on C:, with forward slashes (`Users/Administrator/Documents/report.txt`). */
  path: string;
  sha256: string;
  sizeBytes: number;
}

/** The ways the Windows disk can be prepared. */
export const windowsScenarioNames = ['clean', 'hibernated'] as const;
/** One of {@link windowsScenarioNames}. */
export type WindowsScenarioName = (typeof windowsScenarioNames)[number];

/** A built Windows-like disk image (cached, never written after the build: give each server an overlay). */
export interface WindowsDisk {
  layout: 'windows';
  scenario: WindowsScenarioName;
  /** The raw image. */
  disk: string;
  diskSizeBytes: number;
  partitions: WindowsPartition[];
  /** The accounts of the SAM hive at `Windows/System32/config/SAM` on C:. */
  users: SamUser[];
  documents: WindowsDocument[];
  cacheDir: string;
  /** Seconds this call spent building (0 when it came from the cache). */
  buildSeconds: number;
}

/** Where hive and document files go on C:. */
export const windowsPaths = {
  sam: 'Windows/System32/config/SAM',
  system: 'Windows/System32/config/SYSTEM',
  software: 'Windows/System32/config/SOFTWARE',
  documents: 'Users/Administrator/Documents',
  hiberfile: 'hiberfil.sys',
} as const;

/** Where the boot files go on the ESP. */
export const espPaths = {
  bootManager: 'EFI/Microsoft/Boot/bootmgfw.efi',
  bcd: 'EFI/Microsoft/Boot/BCD',
  fallback: 'EFI/Boot/bootx64.efi',
} as const;

/** The Windows product name the SOFTWARE hive states. */
export const labWindowsProductName = 'Windows Server 2022 Standard (Lifeboat lab stand-in)';

/** Bump when the recipe changes, so cached images rebuild. */
const windowsRecipeVersion = 2;

/** The partition table: ESP 100 MiB, MSR 16 MiB, C:, recovery 256 MiB (Windows Setup's order). */
export function windowsPartitionPlan(sizeBytes = diskSizeBytes): WindowsPartition[] {
  const esp = { offsetBytes: MiB, sizeBytes: 100 * MiB };
  const msr = { offsetBytes: esp.offsetBytes + esp.sizeBytes, sizeBytes: 16 * MiB };
  const recoverySize = 256 * MiB;
  // The last MiB stays free for the backup GPT.
  const recoveryOffset = sizeBytes - MiB - recoverySize;
  const windowsOffset = msr.offsetBytes + msr.sizeBytes;
  return [
    { role: 'esp', number: 1, typeGuid: windowsPartitionTypes.esp, name: 'EFI system partition', fileSystem: 'vfat', label: 'SYSTEM', ...esp },
    { role: 'msr', number: 2, typeGuid: windowsPartitionTypes.msr, name: 'Microsoft reserved partition', ...msr },
    {
      role: 'windows',
      number: 3,
      typeGuid: windowsPartitionTypes.basicData,
      name: 'Basic data partition',
      fileSystem: 'ntfs',
      label: 'Windows',
      offsetBytes: windowsOffset,
      sizeBytes: recoveryOffset - windowsOffset,
    },
    { role: 'recovery', number: 4, typeGuid: windowsPartitionTypes.recovery, name: 'Recovery', fileSystem: 'ntfs', label: 'Recovery', offsetBytes: recoveryOffset, sizeBytes: recoverySize },
  ];
}

/** The sfdisk script of a partition plan (GPT). */
export function gptScript(partitions: WindowsPartition[]): string {
  return [
    'label: gpt',
    'unit: sectors',
    ...partitions.map((p) => `start=${p.offsetBytes / 512}, size=${p.sizeBytes / 512}, type=${p.typeGuid}, name="${p.name}"`),
    '',
  ].join('\n');
}

/** The documents written to C: (deterministic contents, so their digests are stable). */
function documentContents(): { path: string; data: Buffer }[] {
  const block = Buffer.alloc(MiB);
  for (let i = 0; i < block.length; i += 32) createHash('sha256').update(`lifeboat lab ${i}`).digest().copy(block, i);
  return [
    { path: `${windowsPaths.documents}/report.txt`, data: Buffer.from('Quarterly report: keep this file safe.\r\n') },
    { path: `${windowsPaths.documents}/Factures 2026/facture-001.csv`, data: Buffer.from('client;montant\r\nacme;1200\r\n') },
    { path: `${windowsPaths.documents}/database.bak`, data: block },
  ];
}

async function writeTreeFile(root: string, path: string, data: Buffer | string): Promise<void> {
  const full = join(root, path);
  await mkdir(join(full, '..'), { recursive: true });
  await writeFile(full, data);
}

/** Fills the ESP image file (FAT32) with mtools: a stand-in boot manager and a real BCD hive. */
async function buildEsp(dir: string, esp: WindowsPartition): Promise<string> {
  const image = join(dir, 'esp.img');
  await run('mkfs.fat', ['-F', '32', '-s', '1', '-n', esp.label!, '-C', image, String(esp.sizeBytes / 1024)]);
  const files = join(dir, 'esp-files');
  // A stand-in: the bytes a PE file starts with and a note; no Microsoft binary is shipped.
  const standIn = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(62), Buffer.from('\nLifeboat lab stand-in for bootmgfw.efi, not a boot manager.\n')]);
  await writeTreeFile(files, espPaths.bootManager, standIn);
  await writeTreeFile(files, espPaths.fallback, standIn);
  await mkdir(join(files, 'EFI/Microsoft/Boot'), { recursive: true });
  await writeHive(join(files, espPaths.bcd), 'BCD', bcdHiveKeys());
  await run('mcopy', ['-s', '-i', image, join(files, 'EFI'), '::/']);
  return image;
}

/** Writes the C: volume's tree on a mounted NTFS file system. */
async function fillWindowsVolume(root: string): Promise<WindowsDocument[]> {
  await mkdir(join(root, 'Windows/System32/config'), { recursive: true });
  await mkdir(join(root, 'Windows/System32/drivers'), { recursive: true });
  await mkdir(join(root, 'Program Files'), { recursive: true });
  await writeHive(join(root, windowsPaths.sam), 'SAM', samHiveKeys(labWindowsUsers));
  await writeHive(join(root, windowsPaths.system), 'SYSTEM', systemHiveKeys());
  await writeHive(join(root, windowsPaths.software), 'SOFTWARE', [
    {
      path: ['Microsoft', 'Windows NT', 'CurrentVersion'],
      values: [
        { name: 'ProductName', type: 1, data: regString(labWindowsProductName) },
        { name: 'CurrentBuild', type: 1, data: regString('20348') },
      ],
    },
  ]);
  const documents: WindowsDocument[] = [];
  for (const { path, data } of documentContents()) {
    await writeTreeFile(root, path, data);
    documents.push({ path, sha256: createHash('sha256').update(data).digest('hex'), sizeBytes: data.length });
  }
  return documents;
}

/** Makes an NTFS file system on a loop device holding partition `p` of an image. */
async function makeNtfs(device: string, p: WindowsPartition): Promise<void> {
  // -p/-H/-S: the geometry Windows needs to boot from the volume (mkntfs cannot read it from a loop device).
  await run('mkntfs', ['-Q', '-q', '-F', '-L', p.label!, '-p', String(p.offsetBytes / 512), '-H', '255', '-S', '63', device]);
}

/** Builds the clean Windows disk into `dir`; returns what the description file stores. */
async function buildWindowsDisk(dir: string): Promise<Omit<WindowsDisk, 'cacheDir' | 'buildSeconds' | 'disk'> & { disk: string }> {
  const image = join(dir, 'disk0.raw');
  const partitions = windowsPartitionPlan();
  await run('truncate', ['-s', String(diskSizeBytes), image]);
  await run('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', image], { input: gptScript(partitions) });
  const esp = partitions.find((p) => p.role === 'esp')!;
  const espImage = await buildEsp(dir, esp);
  await run('dd', [`if=${espImage}`, `of=${image}`, 'bs=1M', `seek=${esp.offsetBytes / MiB}`, 'conv=notrunc,sparse', 'status=none']);
  await run('rm', ['-rf', espImage, join(dir, 'esp-files')]);
  const loops = new LoopMounts();
  let documents: WindowsDocument[] = [];
  try {
    for (const p of partitions.filter((q) => q.fileSystem === 'ntfs')) {
      const device = await loops.attach(image, p.offsetBytes, p.sizeBytes);
      await makeNtfs(device, p);
      const mnt = join(dir, `mnt-${p.role}`);
      await loops.mount(device, mnt, 'ntfs-3g');
      if (p.role === 'windows') documents = await fillWindowsVolume(mnt);
      else await writeTreeFile(mnt, 'Recovery/WindowsRE/ReAgent.xml', '<?xml version="1.0"?>\r\n<WindowsRE version="2.0"><!-- Lifeboat lab stand-in --></WindowsRE>\r\n');
    }
  } finally {
    await loops.release();
  }
  await run('rm', ['-rf', join(dir, 'mnt-windows'), join(dir, 'mnt-recovery')]);
  return { layout: 'windows', scenario: 'clean', disk: 'disk0.raw', diskSizeBytes, partitions, users: [...labWindowsUsers], documents };
}

/**
 * Marks C: as hibernated the way Windows does (hibernation, or "fast startup", which hibernates the
 * kernel session at shutdown): a `hiberfil.sys` whose first bytes are `HIBR`. ntfs-3g reads that
 * header when it opens the volume and then refuses to mount it read-write.
 */
async function markHibernated(image: string, windows: WindowsPartition, dir: string): Promise<void> {
  const loops = new LoopMounts();
  try {
    const device = await loops.attach(image, windows.offsetBytes, windows.sizeBytes);
    const mnt = join(dir, 'mnt-windows');
    await loops.mount(device, mnt, 'ntfs-3g');
    const hiberfile = Buffer.alloc(64 * 1024);
    hiberfile.write('HIBR', 0, 'latin1');
    await writeFile(join(mnt, windowsPaths.hiberfile), hiberfile);
  } finally {
    await loops.release();
  }
  await run('rm', ['-rf', join(dir, 'mnt-windows')]);
}

/**
 * Returns the Windows-like disk image for `scenario` (default `clean`), building what is missing
 * under `<cacheDir>/disks/windows-<hash>/` (and `windows-hibernated-<hash>/`, a copy of the clean
 * one). Needs root (loop devices, FUSE) and ntfs-3g, mtools, dosfstools, libhivex-bin.
 */
export async function ensureWindowsDisk(scenario: WindowsScenarioName = 'clean', options: DiskOptions = {}): Promise<WindowsDisk> {
  const cacheRoot = options.cacheDir ?? defaultCacheDir();
  const started = Date.now();
  let built = false;
  const baseDir = join(cacheRoot, 'disks', `windows-${hashInputs({ windowsRecipeVersion })}`);
  await cached(
    baseDir,
    async (tmp) => {
      built = true;
      options.onProgress?.('building the windows lab disk image');
      const description = await buildWindowsDisk(tmp);
      await writeFile(join(tmp, 'layout.json'), `${JSON.stringify(description, null, 2)}\n`);
    },
    options,
  );
  let dir = baseDir;
  if (scenario === 'hibernated') {
    dir = join(cacheRoot, 'disks', `windows-hibernated-${hashInputs({ windowsRecipeVersion, scenario })}`);
    await cached(
      dir,
      async (tmp) => {
        built = true;
        options.onProgress?.('marking the windows lab disk hibernated');
        const base = JSON.parse(await readFile(join(baseDir, 'layout.json'), 'utf8')) as WindowsDisk;
        await run('cp', ['--sparse=always', join(baseDir, base.disk), join(tmp, base.disk)]);
        await markHibernated(join(tmp, base.disk), base.partitions.find((p) => p.role === 'windows')!, tmp);
        await writeFile(join(tmp, 'layout.json'), `${JSON.stringify({ ...base, scenario }, null, 2)}\n`);
      },
      options,
    );
  }
  const description = JSON.parse(await readFile(join(dir, 'layout.json'), 'utf8')) as WindowsDisk;
  return { ...description, disk: join(dir, description.disk), cacheDir: dir, buildSeconds: built ? (Date.now() - started) / 1000 : 0 };
}
