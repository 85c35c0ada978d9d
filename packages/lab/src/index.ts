// The lab: simulated servers made of real parts (QEMU + iPXE, installed Debian disks, IPMI and Redfish BMCs).
export { main, type LabMainOptions } from './cli.js';
export { labDown, labPowerOn, labProcesses, labStatus, labUp, labMac, type LabServerStatus, type LabUpOptions, type ServerDisks } from './lab.js';
export { labDir, readLab, type LabRecord, type LabServerRecord } from './lab-state.js';
export { ServerVm, type VmBootDevice, type VmPowerState } from './vm/server-vm.js';
export { createRedfishService, type RedfishMachine, type RedfishOptions, type RedfishSystem } from './redfish/service.js';
export { lanConf, type BmcSpec } from './ipmi/lan-conf.js';
export { LabError, type LabErrorCode } from './errors.js';
export {
  createServerDisks,
  dataDiskLabel,
  dataDiskSizeBytes,
  defaultCacheDir,
  DiskError,
  ensureDataDisk,
  ensureLabLogin,
  ensureLayoutDisks,
  ensureScenarioDisks,
  isLayoutName,
  isScenarioName,
  layoutNames,
  scenarioDescriptions,
  scenarioNames,
  type DataDisk,
  type DiskOptions,
  type LabLogin,
  type LayoutDisks,
  type LayoutName,
  type ScenarioDisks,
  type ScenarioName,
  type ServerOverlays,
  accountBits,
  ensureWindowsDisk,
  espPaths,
  labWindowsProductName,
  labWindowsUsers,
  readUserF,
  readUserV,
  userKeyName,
  windowsPaths,
  windowsScenarioNames,
  writeHive,
  readBinaryValue,
  samHiveKeys,
  builtinAliases,
  labMachineSid,
  sidBytes,
  type SamUser,
  type WindowsDisk,
  type WindowsPartition,
  type WindowsScenarioName,
} from './disks/index.js';
export { freeTcpPort, freeUdpPort } from './processes/free-port.js';
