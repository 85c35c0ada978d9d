/** The Lifeboat control plane. */
export { main, startControlPlane, type ControlPlaneParts, type RunningControlPlane } from './main.js';
export { parseConfig, configHelp, bootUrlFor, type Config } from './config.js';
export { LifeboatError, type ErrorCode } from './errors.js';
export { dnsmasqConfig, type DnsmasqConfigOptions } from './netboot/index.js';
export type { PowerState } from './drivers/power/power-driver.js';
export { powerDriverFactory } from './drivers/power/index.js';
export { ConsoleHubs, consoleDriverFactory, type ConsoleAttachment, type ConsoleViewer, type ConsoleDriver } from './console/index.js';
