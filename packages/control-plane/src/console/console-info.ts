/** `GET /v1/console`: what a user needs to reach the SSH console gateway and to trust it. */
import type { ConsoleInfo } from '@lifeboat/core';
import type { ConsoleHostKey } from './host-key.js';

const wildcard = new Set(['0.0.0.0', '::', '']);

/** The gateway's description; `address` null when it is off. */
export function consoleInfoOf(address: { host: string; port: number } | null, hostKey: ConsoleHostKey | null): ConsoleInfo {
  if (address === null || hostKey === null) return { listen: null, hostKeyFingerprint: null, sshCommandExample: null };
  const bracketed = address.host.includes(':') ? `[${address.host}]` : address.host;
  // A wildcard address is not one a user can type: the example and known_hosts line need a real name.
  const host = wildcard.has(address.host) ? null : bracketed;
  return {
    listen: `${bracketed}:${address.port}`,
    hostKeyFingerprint: hostKey.fingerprint,
    ...(host === null ? {} : { knownHostsLine: `${address.port === 22 ? host : `[${address.host}]:${address.port}`} ${hostKey.publicKey}` }),
    sshCommandExample: `ssh -p ${address.port} SERVER@${host ?? 'CONTROL-PLANE-HOST'}`,
  };
}
