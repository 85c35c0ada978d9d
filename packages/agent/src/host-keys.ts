/**
 * The rescue system's SSH host keys, as the customer will see them: public key lines and their
 * SHA-256 fingerprints, computed exactly as `ssh-keygen -lf` prints them.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

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
  const bytes = Buffer.from(blob, 'base64');
  // The blob starts with the key type as an SSH string: a check that the line is not garbage.
  const typeLength = bytes.length >= 4 ? bytes.readUInt32BE(0) : -1;
  if (typeLength < 0 || bytes.subarray(4, 4 + typeLength).toString('latin1') !== type) {
    throw new Error(`public key blob does not match its type ${type}`);
  }
  return { type, publicKey: `${type} ${blob}`, fingerprint: sshFingerprint(bytes) };
}

/** `SHA256:...` of a public key blob, as `ssh-keygen -l` prints it (base64 without padding). */
export function sshFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Every `ssh_host_*_key.pub` in a directory (normally `/etc/ssh`), sorted by file name. */
export async function readHostKeys(sshDir: string): Promise<HostKeyReport[]> {
  const names = (await readdir(sshDir)).filter((n) => /^ssh_host_.*_key\.pub$/.test(n)).sort();
  const keys: HostKeyReport[] = [];
  for (const name of names) keys.push(hostKeyFromLine(await readFile(join(sshDir, name), 'utf8')));
  return keys;
}
