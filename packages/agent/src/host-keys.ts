/**
 * The rescue system's SSH host keys, as the customer will see them: public key lines and their
 * SHA-256 fingerprints, computed exactly as `ssh-keygen -lf` prints them.
 */
import { base64Decode, base64Encode, sha256 } from './encoding.js';
import { joinPath } from './platform.js';
import type { Platform } from './platform.js';

/** A public host key, in the shape of the agent API's `POST /host-keys`. */
export interface HostKeyReport {
  /** `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`. */
  readonly type: string;
  /** `type base64` (the comment is dropped: it names the build host, not this server). */
  readonly publicKey: string;
  /** `SHA256:` + unpadded base64 of the SHA-256 of the key blob. */
  readonly fingerprint: string;
}

/** Parses one OpenSSH public key line; throws when it is not one. */
export function hostKeyFromLine(line: string): HostKeyReport {
  const [type, blob] = line.trim().split(/\s+/);
  if (!type || !blob || !/^[A-Za-z0-9+/]+=*$/.test(blob)) throw new Error('not an OpenSSH public key line');
  const bytes = base64Decode(blob);
  // The blob starts with the key type as an SSH string: a check that the line is not garbage.
  const typeLength = bytes.length >= 4 ? new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0) : -1;
  if (typeLength < 0 || String.fromCharCode(...bytes.subarray(4, 4 + typeLength)) !== type) {
    throw new Error(`public key blob does not match its type ${type}`);
  }
  return { type, publicKey: `${type} ${blob}`, fingerprint: sshFingerprint(bytes) };
}

/** `SHA256:...` of a public key blob, as `ssh-keygen -l` prints it (base64 without padding). */
export function sshFingerprint(blob: Uint8Array): string {
  return `SHA256:${base64Encode(sha256(blob)).replace(/=+$/, '')}`;
}

/** Every `ssh_host_*_key.pub` in a directory (normally `/etc/ssh`), sorted by file name. */
export async function readHostKeys(platform: Platform, sshDir: string): Promise<HostKeyReport[]> {
  const names = (await platform.readdir(sshDir)).filter((n) => /^ssh_host_.*_key\.pub$/.test(n)).sort();
  const keys: HostKeyReport[] = [];
  for (const name of names) keys.push(hostKeyFromLine(await platform.readText(joinPath(sshDir, name))));
  return keys;
}
