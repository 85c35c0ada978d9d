/**
 * Servers as an operator registers them: MACs for netboot, a BMC for power, an SSH endpoint for the
 * customer (and for checking that the installed system is back).
 */
import { LifeboatError } from './errors.js';
import type { RescueState } from './rescue-state.js';

/** BMC protocols (kept in step with the control plane's power drivers). */
export type BmcDriver = 'ipmi' | 'redfish';

/** A server's BMC: which driver, where, who; the password lives in the secret store. */
export interface Bmc {
  readonly driver: BmcDriver;
  /** `ipmi://HOST:PORT` or `redfish://HOST:PORT/redfish/v1/Systems/ID`. */
  readonly url: string;
  readonly user: string;
  /** Reference to the encrypted password in the secret store, or null when the BMC needs none. */
  readonly credentialsRef: string | null;
}

/** Where SSH reaches the server (its installed OS, then the rescue system). */
export interface SshEndpoint {
  readonly host: string;
  readonly port: number;
}

/** A registered server. */
export interface Server {
  readonly id: string;
  /** Unique name (`web-1`). */
  readonly name: string;
  readonly tenantId: string;
  /** Lower-case `aa:bb:cc:dd:ee:ff`. */
  readonly macs: readonly string[];
  readonly bmc: Bmc;
  readonly sshEndpoint: SshEndpoint | null;
  /**
   * Where its serial console is: `tcp://HOST:PORT` (a serial concentrator, the lab), or null for the
   * BMC's own (IPMI Serial-over-LAN).
   */
  readonly console: string | null;
  /** Rescue profiles this server may boot (`linux`). */
  readonly profiles: readonly string[];
  /** The state of its open rescue session, `active` without one. */
  readonly state: RescueState;
  readonly createdAt: Date;
}

/** Normalises a MAC to lower-case colon form, or throws `BAD_REQUEST`. */
export function parseMac(mac: string): string {
  const hex = mac.toLowerCase().replace(/[-:.]/g, '');
  if (!/^[0-9a-f]{12}$/.test(hex)) throw new LifeboatError('BAD_REQUEST', `not a MAC address: ${mac}`);
  return hex.match(/../g)!.join(':');
}

/** The driver a BMC URL names, or `BMC_INVALID`. */
export function bmcDriverOf(url: string): BmcDriver {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new LifeboatError('BMC_INVALID', `bmc.url is not a URL: ${url} (expected ipmi://HOST:PORT or redfish://HOST:PORT/redfish/v1/Systems/ID)`);
  }
  if (parsed.username || parsed.password) {
    throw new LifeboatError('BMC_INVALID', 'bmc.url: put the BMC user and password in their own fields (bmc.user, bmc.password), not in the URL');
  }
  if (parsed.protocol === 'ipmi:') return 'ipmi';
  if (parsed.protocol === 'redfish:' || parsed.protocol === 'redfish+https:' || parsed.protocol === 'redfish+http:') return 'redfish';
  throw new LifeboatError('BMC_INVALID', `bmc.url: unknown BMC protocol ${parsed.protocol.replace(/:$/, '')} (expected ipmi or redfish)`);
}

/** Console URL schemes a server may be registered with. */
export type ConsoleUrlScheme = 'tcp';

/**
 * Checks a server's console setting (`tcp://HOST:PORT`) without I/O and returns it normalised, or
 * throws `CONSOLE_INVALID` saying what is expected.
 */
export function parseConsoleUrl(text: string): { scheme: ConsoleUrlScheme; host: string; port: number; url: string } {
  const expected = '(expected tcp://HOST:PORT, or nothing for the BMC\'s Serial-over-LAN)';
  if (text.length > 2048) throw new LifeboatError('CONSOLE_INVALID', `console is longer than 2048 characters ${expected}`);
  let parsed: URL;
  try {
    parsed = new URL(text.trim());
  } catch {
    throw new LifeboatError('CONSOLE_INVALID', `console is not a URL: ${withoutUserInfo(text).slice(0, 200)} ${expected}`);
  }
  if (parsed.protocol !== 'tcp:') throw new LifeboatError('CONSOLE_INVALID', `console: unknown scheme ${parsed.protocol.replace(/:$/, '')} ${expected}`);
  if (parsed.username || parsed.password) throw new LifeboatError('CONSOLE_INVALID', 'console: a tcp:// console takes no user or password');
  if ((parsed.pathname !== '' && parsed.pathname !== '/') || parsed.search || parsed.hash) {
    throw new LifeboatError('CONSOLE_INVALID', `console: a tcp:// console has no path or query ${expected}`);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(parsed.port);
  if (host === '' || parsed.port === '' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new LifeboatError('CONSOLE_INVALID', `console: needs a host and a port 1-65535: ${withoutUserInfo(text).slice(0, 200)} ${expected}`);
  }
  return { scheme: 'tcp', host, port, url: `tcp://${host.includes(':') ? `[${host}]` : host}:${port}` };
}

/** A URL-ish text with any `user:password@` removed, for messages. */
function withoutUserInfo(text: string): string {
  return text.replace(/\/\/[^/@]*@/, '//');
}

/** Parses `HOST:PORT` (`[v6]:PORT` too); the port defaults to 22. */
export function parseSshEndpoint(text: string): SshEndpoint {
  const match = /^(?:\[([^\]]+)\]|([^:\s]+))(?::(\d{1,5}))?$/.exec(text.trim());
  const host = match?.[1] ?? match?.[2];
  const port = match?.[3] === undefined ? 22 : Number(match[3]);
  if (!host || port < 1 || port > 65535) throw new LifeboatError('BAD_REQUEST', `not an SSH endpoint: ${text} (expected HOST:PORT)`);
  return { host, port };
}

/** Server names: what a user types in a command line and a URL path. */
export function isValidName(name: string): boolean {
  return /^[a-z0-9][a-z0-9._-]{0,62}$/i.test(name);
}

/** Parses `90s`, `30m`, `24h`, `2d` (or plain seconds) into milliseconds, or throws `BAD_REQUEST`. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new LifeboatError('BAD_REQUEST', `not a duration: ${text} (e.g. 90s, 30m, 24h, 2d)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? 's'] ?? 1000;
  return Math.round(Number(match[1]) * unit);
}
