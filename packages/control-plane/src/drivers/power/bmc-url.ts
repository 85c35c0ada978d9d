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

/**
 * Parses a BMC record's URL for `driver` without any I/O; throws `BMC_INVALID` with a message that
 * says what is expected. Credentials inside the URL are refused: they have their own fields.
 */
export function parseBmcUrl(bmc: BmcEndpoint, driver: BmcDriverName): BmcTarget {
  let url: URL;
  try {
    url = new URL(bmc.url);
  } catch {
    throw new LifeboatError('BMC_INVALID', `not a BMC URL: ${bmc.url}`);
  }
  const scheme = schemes[url.protocol];
  if (scheme === undefined || scheme.driver !== driver || bmc.driver !== driver) {
    const expected = driver === 'ipmi' ? 'ipmi://HOST:PORT' : 'redfish://HOST:PORT/redfish/v1/Systems/ID (or redfish+https://)';
    throw new LifeboatError('BMC_INVALID', `the ${driver} driver expects ${expected}, not ${url.protocol}//...`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new LifeboatError('BMC_INVALID', 'put the BMC user and password in their own fields, not in the URL');
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new LifeboatError('BMC_INVALID', `the BMC URL has no host: ${bmc.url}`);
  if (bmc.user === '') throw new LifeboatError('BMC_INVALID', 'the BMC needs a user name');
  const port = url.port === '' ? scheme.port : Number(url.port);
  return { host, port, transport: scheme.transport, path: decodeURIComponent(url.pathname) };
}
