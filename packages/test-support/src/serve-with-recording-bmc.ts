/**
 * The real control plane (`main`) with one part replaced, at the PowerDriverFactory boundary only: a
 * BMC double that appends every call to `$RECORDING_BMC_LOG` (one line each) and, while the file
 * `$RECORDING_BMC_HOLD` exists, holds power actions (a BMC that takes its time), so that a test can
 * kill the process in the middle of a job. Its `validate()` is the real driver's: a BMC record the real
 * drivers refuse is refused here too. Run: node --import tsx serve-with-recording-bmc.ts [serve flags].
 */
import { appendFileSync, existsSync } from 'node:fs';
import { main, powerDriverFactory, type PowerState } from '@lifeboat/control-plane';

const log = process.env.RECORDING_BMC_LOG;
const hold = process.env.RECORDING_BMC_HOLD;
if (!log) throw new Error('RECORDING_BMC_LOG is required');
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
    setBootDevice: async (device) => record(`setBootDevice:${device}`),
  }),
});
process.exit(code);
