import { LifeboatError } from '@lifeboat/core';
import type { BmcDriverName, BmcEndpoint } from './power-driver.js';

/** Where a BMC URL points. */
export interface BmcTarget {
  /** Host name or address, without IPv6 brackets. */
  readonly host: string;
  readonly port: number;
  /** `https` for `redfish+https://`, `http` for `redfish://` and `redfish+http://`; `udp` for IPMI. */
  readonly transport: 'http' | 'https' | 'udp';
  /** The URL's path (`/redfish/v1/Systems/1`), `''` when it has none. */
  readonly path: string;
}

const schemes: Readonly<Record<string, { driver: BmcDriverName; transport: BmcTarget['transport']; port: number }>> = {
  'ipmi:': { driver: 'ipmi', transport: 'udp', port: 623 },
  'redfish:': { driver: 'redfish', transport: 'http', port: 80 },
  'redfish+http:': { driver: 'redfish', transport: 'http', port: 80 },
  'redfish+https:': { driver: 'redfish', transport: 'https', port: 443 },
};

/** Size limits of a BMC record, whatever the protocol (a protocol may be stricter). */
export const bmcLimits = {
  /** `bmc.url`, in characters. */
  urlLength: 2048,
  /** `bmc.user`, in UTF-8 bytes. */
  userBytes: 64,
  /** `bmc.password`, in UTF-8 bytes. */
  passwordBytes: 256,
} as const;

/**
 * Parses a BMC record's URL for `driver` without any I/O; throws `BMC_INVALID` with a message that
 * names the field (`bmc.url`, `bmc.user`, `bmc.password`) and says what is expected. Credentials inside
 * the URL are refused: they have their own fields. No message holds the password or an over-long value.
 */
export function parseBmcUrl(bmc: BmcEndpoint, driver: BmcDriverName): BmcTarget {
  if (bmc.url.length > bmcLimits.urlLength) throw new LifeboatError('BMC_INVALID', `bmc.url is longer than ${bmcLimits.urlLength} characters`);
  if (Buffer.byteLength(bmc.user) > bmcLimits.userBytes) throw new LifeboatError('BMC_INVALID', `bmc.user is longer than ${bmcLimits.userBytes} bytes`);
  if (Buffer.byteLength(bmc.password) > bmcLimits.passwordBytes) {
    throw new LifeboatError('BMC_INVALID', `bmc.password is longer than ${bmcLimits.passwordBytes} bytes`);
  }
  let url: URL;
  try {
    url = new URL(bmc.url);
  } catch {
    throw new LifeboatError('BMC_INVALID', `bmc.url is not a URL (or its port is not 1-65535): ${bmc.url}`);
  }
  const scheme = schemes[url.protocol];
  if (scheme === undefined || scheme.driver !== driver || bmc.driver !== driver) {
    const expected = driver === 'ipmi' ? 'ipmi://HOST:PORT' : 'redfish://HOST:PORT/redfish/v1/Systems/ID (or redfish+https://)';
    throw new LifeboatError('BMC_INVALID', `bmc.url: the ${driver} driver expects ${expected}, not ${url.protocol}//...`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new LifeboatError('BMC_INVALID', 'bmc.url: put the BMC user and password in their own fields (bmc.user, bmc.password), not in the URL');
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new LifeboatError('BMC_INVALID', `bmc.url has no host: ${bmc.url}`);
  if (bmc.user === '') throw new LifeboatError('BMC_INVALID', 'bmc.user is empty: the BMC needs a user name');
  const port = url.port === '' ? scheme.port : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new LifeboatError('BMC_INVALID', `bmc.url: port ${url.port} is not 1-65535`);
  return { host, port, transport: scheme.transport, path: decodeURIComponent(url.pathname) };
}
