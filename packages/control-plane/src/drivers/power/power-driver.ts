/**
 * How Lifeboat drives a server's power and next boot device through its BMC.
 * One implementation per BMC protocol (`ipmi`, `redfish`), side by side in this folder; a server's
 * `bmc.driver` picks one. Modelled on Ironic's power and management interfaces.
 */

/** The BMC protocols Lifeboat speaks. */
export type BmcDriverName = 'ipmi' | 'redfish';

/** What a server's BMC record holds: enough to reach and authenticate to it. */
export interface BmcEndpoint {
  /** Which driver talks to this BMC. */
  readonly driver: BmcDriverName;
  /**
   * `ipmi://HOST:PORT` (`?cipher=N` picks the RMCP+ cipher suite, default 3) or
   * `redfish://HOST:PORT/redfish/v1/Systems/ID` (plain HTTP; `redfish+https://` for TLS).
   */
  readonly url: string;
  /** BMC user name. */
  readonly user: string;
  /** BMC password, decrypted only for the duration of a call; never logged, never in argv. */
  readonly password: string;
}

/** Power states as Lifeboat names them; each driver maps its vendor's states onto these in one table. */
export type PowerState = 'on' | 'off';

/** Power actions. `soft` asks the running OS to shut down (ACPI); `cycle` is off then on. */
export type PowerAction = 'on' | 'off' | 'soft' | 'cycle' | 'reset';

/** Devices a server may boot from next. */
export type BootDevice = 'network' | 'disk';

/** What a driver can do; the rescue flow checks these instead of branching on vendor names. */
export type PowerCapability = 'power' | 'soft-power' | 'boot-device' | 'persistent-boot-device';

/** A BMC driver, bound to one server's BMC. */
export interface PowerDriver {
  /** The protocol name, e.g. `ipmi`. */
  readonly name: BmcDriverName;
  /** What this driver supports. */
  readonly capabilities: ReadonlySet<PowerCapability>;
  /**
   * Checks the BMC record without any I/O (cheap enough to call inside an API request): URL shape,
   * required properties. Throws a `LifeboatError` with code `BMC_INVALID` when something is wrong.
   */
  validate(): void;
  /** Reads the current power state. */
  powerState(signal?: AbortSignal): Promise<PowerState>;
  /** Performs a power action; resolves when the BMC accepted it. */
  setPower(action: PowerAction, signal?: AbortSignal): Promise<void>;
  /** Sets the device of the next boot (and, when `persistent`, of every boot after it). */
  setBootDevice(device: BootDevice, options?: { persistent?: boolean; signal?: AbortSignal }): Promise<void>;
  /**
   * Reads the boot device the BMC will use at the next boot: `none` when no override is in force.
   * Optional: a job resumed after a crash reads it, when the driver can, instead of setting it again.
   */
  bootDevice?(signal?: AbortSignal): Promise<BootDevice | 'none'>;
}

/** Builds a driver for one BMC endpoint. */
export type PowerDriverFactory = (bmc: BmcEndpoint) => PowerDriver;
