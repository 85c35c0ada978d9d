/**
 * The SSH console gateway's host key: ed25519, generated on first start and kept in the database,
 * sealed like every other secret, so that every replica of the control plane shows the same key and
 * users verify its fingerprint once.
 */
import ssh2 from 'ssh2';
import type { Store } from '../store/store.js';
import { parsePublicKey } from '../keys/public-key.js';

/** The secret id of the host key. */
const secretId = 'console.ssh_host_key';

/** The gateway's host key. */
export interface ConsoleHostKey {
  /** OpenSSH private key (PEM-like text); never logged. */
  readonly privateKey: string;
  /** `ssh-ed25519 AAAA...`. */
  readonly publicKey: string;
  /** `SHA256:...`. */
  readonly fingerprint: string;
}

/**
 * A new ed25519 host key in OpenSSH format. ssh2's generator writes a key that its own parser refuses
 * about once in 250 (measured: 12 of 3,000, "Malformed OpenSSH private key"): the first that parses is kept.
 */
export function newHostKey(): string {
  for (let attempt = 0; attempt < 20; attempt++) {
    const key = ssh2.utils.generateKeyPairSync('ed25519', {}).private;
    if (!(ssh2.utils.parseKey(key) instanceof Error)) return key;
  }
  throw new Error('could not generate a console host key that parses');
}

/** The host key, generated and stored on first use. */
export async function consoleHostKey(store: Store): Promise<ConsoleHostKey> {
  const privateKey = await store.secrets.getOrCreate(secretId, newHostKey);
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error) throw new Error('the stored console host key cannot be read', { cause: parsed });
  const publicKey = `${parsed.type} ${parsed.getPublicSSH().toString('base64')}`;
  return { privateKey, publicKey, fingerprint: parsePublicKey(publicKey).fingerprint };
}
