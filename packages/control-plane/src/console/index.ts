/** Serial consoles: drivers, and the hubs that share one connection per server between viewers. */
export * from './console-driver.js';
export * from './console-hub.js';
export { IpmiSolDriver, SolEscaper, solArgs, type IpmiSolOptions, type SolTarget } from './ipmi-sol.js';
export { TcpSerialDriver, type TcpSerialOptions } from './tcp-serial.js';
export { ByteRing } from './byte-ring.js';
