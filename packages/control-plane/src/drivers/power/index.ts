/** Power drivers by BMC protocol; the rescue flow gets one through `createPowerDriver`. */
import { LifeboatError } from '@lifeboat/core';
import { IpmiPowerDriver, type IpmiOptions } from './ipmi.js';
import type { BmcEndpoint, PowerDriver, PowerDriverFactory } from './power-driver.js';
import { RedfishPowerDriver, type RedfishOptions } from './redfish.js';

export type * from './power-driver.js';
export { IpmiPowerDriver, type IpmiOptions } from './ipmi.js';
export { RedfishPowerDriver, type RedfishOptions } from './redfish.js';

/** Operator settings of the drivers (timeouts, TLS trust), one block per protocol. */
export interface PowerDriverOptions {
  readonly ipmi?: IpmiOptions;
  readonly redfish?: RedfishOptions;
}

/** Builds the driver a BMC record names. Construction does no I/O; call `validate()` to check the record. */
export function createPowerDriver(bmc: BmcEndpoint, options: PowerDriverOptions = {}): PowerDriver {
  switch (bmc.driver) {
    case 'ipmi':
      return new IpmiPowerDriver(bmc, options.ipmi);
    case 'redfish':
      return new RedfishPowerDriver(bmc, options.redfish);
    default:
      throw new LifeboatError('BMC_INVALID', `unknown BMC driver ${String((bmc as { driver: unknown }).driver)} (expected ipmi or redfish)`);
  }
}

/** A factory with fixed operator settings, in the shape the rescue flow takes. */
export function powerDriverFactory(options: PowerDriverOptions = {}): PowerDriverFactory {
  return (bmc) => createPowerDriver(bmc, options);
}
