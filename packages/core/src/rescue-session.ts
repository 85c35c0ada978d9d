/**
 * A rescue session: one server's stay in rescue, from the request to the return to its disk.
 */
import type { RescueState } from './rescue-state.js';

/** A public SSH host key the rescue system generated at boot. */
export interface HostKey {
  /** `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`. */
  readonly type: string;
  /** The `type base64` line of the public key. */
  readonly publicKey: string;
  /** `SHA256:...` as `ssh-keygen -l` prints it. */
  readonly fingerprint: string;
}

/** A rescue session's record (the password is never part of it, only its crypt hash in the store). */
export interface RescueSession {
  readonly id: string;
  readonly serverId: string;
  readonly profile: string;
  readonly state: RescueState;
  /** Why the session failed (`rescue_failed`, `exit_failed`). */
  readonly reason: string | null;
  /** Where the credentials are mailed, if anywhere. */
  readonly email: string | null;
  /** SSH public keys given with the request; with keys, no password exists. */
  readonly sshKeys: readonly string[];
  readonly passwordLogin: boolean;
  readonly hostKeys: readonly HostKey[];
  /** When the current state's deadline passes (null in states without one). */
  readonly deadlineAt: Date | null;
  /** The end of the lease. */
  readonly expiresAt: Date;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** Set when the server is back to `active` (the session is over). */
  readonly endedAt: Date | null;
  readonly requestedBy: string | null;
}

/** `[host]:port type key` lines for known_hosts (plain `host type key` on port 22). */
export function knownHostsLines(host: string, port: number, hostKeys: readonly HostKey[]): string[] {
  const name = port === 22 && !host.includes(':') ? host : `[${host}]:${port}`;
  return hostKeys.map((key) => `${name} ${key.publicKey.trim().split(/\s+/).slice(0, 2).join(' ')}`);
}
