/**
 * For tests and benchmarks whose subject is not the BMC: a BMC that accepts every command at once and
 * reports the power on. The BMC's own behaviour is tested against ipmi_sim and the Redfish simulator.
 */
import type { PowerDriverFactory } from './power-driver.js';

export const acceptingBmc: PowerDriverFactory = (bmc) => ({
  name: bmc.driver,
  capabilities: new Set(['power', 'boot-device']),
  validate() {},
  powerState: async () => 'on',
  setPower: async () => {},
  setBootDevice: async () => {},
});
