/**
 * The real control plane (`main`) with one part replaced, at the PowerDriverFactory boundary only: a
 * BMC double that appends every call to `$RECORDING_BMC_LOG` (one line each) and, while the file
 * `$RECORDING_BMC_HOLD` exists, holds power actions (a BMC that takes its time), so that a test can
 * kill the process in the middle of a job. Like a real BMC, its next boot device outlives the control
 * plane (kept in `$RECORDING_BMC_LOG.boot`, read back by `bootDevice()`); while `$RECORDING_BMC_HOLD_BOOT`
 * exists, `setBootDevice` holds after the device is set (the BMC did it, the answer never came).
 * Its `validate()` is the real driver's: a BMC record the real drivers refuse is refused here too.
 * Run: node --import tsx serve-with-recording-bmc.ts [serve flags]; `startRecordingControlPlane` does.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { main, powerDriverFactory, type BootDevice, type PowerState } from '../src/index.js';

const log = process.env.RECORDING_BMC_LOG;
const hold = process.env.RECORDING_BMC_HOLD;
const holdBoot = process.env.RECORDING_BMC_HOLD_BOOT;
if (!log) throw new Error('RECORDING_BMC_LOG is required');
const bootFile = `${log}.boot`;
const record = (line: string) => appendFileSync(log, `${line}\n`);
let power: PowerState = 'on';
const realDrivers = powerDriverFactory();

const code = await main(process.argv.slice(2), {
  powerDrivers: (bmc) => ({
    name: bmc.driver,
    capabilities: new Set(['power', 'boot-device']),
    validate: () => {
      realDrivers(bmc).validate();
      record('validate');
    },
    powerState: async () => {
      record('powerState');
      return power;
    },
    setPower: async (action) => {
      record(`setPower:${action}:start`);
      while (hold && existsSync(hold)) await new Promise((r) => setTimeout(r, 50));
      power = action === 'off' || action === 'soft' ? 'off' : 'on';
      record(`setPower:${action}:done`);
    },
    setBootDevice: async (device) => {
      writeFileSync(bootFile, device);
      record(`setBootDevice:${device}`);
      while (holdBoot && existsSync(holdBoot)) await new Promise((r) => setTimeout(r, 50));
    },
    bootDevice: async () => {
      record('bootDevice');
      return existsSync(bootFile) ? (readFileSync(bootFile, 'utf8') as BootDevice) : 'none';
    },
  }),
});
process.exit(code);
