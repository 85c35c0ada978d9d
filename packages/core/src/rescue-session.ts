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
  /** The agent's last heartbeat (every 30 s while the rescue system runs); null before the first. */
  readonly lastHeartbeatAt: Date | null;
}

/** The agent heartbeats every 30 s: after this long without one, it is taken as not responding. */
export const agentSilenceMs = 90_000;

/**
 * Whether the rescue system's agent still answers: null outside the `rescue` state (nothing is
 * expected of it), else whether a heartbeat came within {@link agentSilenceMs} (counting from the
 * session's last change before the first heartbeat). A silent agent means the rescue system crashed,
 * was rebooted by hand or lost its network.
 */
export function agentResponding(
  session: Pick<RescueSession, 'state' | 'lastHeartbeatAt' | 'updatedAt'>,
  now: Date,
  silenceMs: number = agentSilenceMs,
): boolean | null {
  if (session.state !== 'rescue') return null;
  const heard = Math.max(session.lastHeartbeatAt?.getTime() ?? 0, session.updatedAt.getTime());
  return now.getTime() - heard <= silenceMs;
}

/** `[host]:port type key` lines for known_hosts (plain `host type key` on port 22). */
export function knownHostsLines(host: string, port: number, hostKeys: readonly HostKey[]): string[] {
  const name = port === 22 && !host.includes(':') ? host : `[${host}]:${port}`;
  return hostKeys.map((key) => `${name} ${key.publicKey.trim().split(/\s+/).slice(0, 2).join(' ')}`);
}
