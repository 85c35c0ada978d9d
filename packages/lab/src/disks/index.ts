// The lab's disks: installed Debian 12 images in several layouts, broken on demand by scenarios.
export { defaultCacheDir } from './cache.js';
export { DiskError, type DiskErrorCode } from './errors.js';
export { ensureLabLogin, type LabLogin } from './lab-login.js';
export { ensureInstalledTree, installedPackages, labHostname, type InstalledTree } from './installed-tree.js';
export { ensureLayoutDisks, isLayoutName, type DiskOptions } from './layout-disks.js';
export { diskSizeBytes, layoutNames, type FileSystemPlacement, type LayoutDisks, type LayoutFileSystem, type LayoutName } from './layouts.js';
export {
  badSshdLine,
  brokenFstabLine,
  corruptedPath,
  renamedNic,
  isScenarioName,
  scenarioDescriptions,
  scenarioNames,
  sharedBlockPath,
  type ScenarioName,
} from './scenarios.js';
export { createServerDisks, ensureScenarioDisks, type ScenarioDisks, type ServerOverlays } from './server-disks.js';
export {
  ensureWindowsDisk,
  espPaths,
  labWindowsProductName,
  windowsPartitionTypes,
  windowsPaths,
  windowsScenarioNames,
  type WindowsDisk,
  type WindowsDocument,
  type WindowsPartition,
  type WindowsScenarioName,
} from './windows-disk.js';
export {
  accountBits,
  builtinAliases,
  labMachineSid,
  labWindowsUsers,
  readUserF,
  readUserV,
  samHiveKeys,
  sidBytes,
  userKeyName,
  type SamUser,
} from './windows-hives.js';
export { emptyHive, readBinaryValue, writeHive, type HiveKey, type HiveValue } from './registry-hive.js';
export { dataDiskLabel, dataDiskSizeBytes, ensureDataDisk, type DataDisk } from './data-disk.js';
