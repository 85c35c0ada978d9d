/**
 * The control plane's desktop client key (issue 16): ed25519, generated on first use and sealed in the
 * database like the console gateway's host key, so that every replica presents the same key. The agent
 * of a rescue whose profile has a desktop authorizes its public half for one thing only: forwarding to
 * the rescue's VNC server (`desktopAuthorizedKeyLine` of core).
 */
import ssh2 from 'ssh2';
import { newHostKey } from '../console/host-key.js';
import type { Store } from '../store/store.js';

/** The secret id of the key. */
const secretId = 'desktop.ssh_client_key';

/** The key: the private half never leaves the control plane. */
export interface DesktopClientKey {
  /** OpenSSH private key; never logged. */
  readonly privateKey: string;
  /** `ssh-ed25519 BASE64`, what the agent authorizes. */
  readonly publicKey: string;
}

/** The desktop client key, generated and stored on first use. */
export async function desktopClientKey(store: Store): Promise<DesktopClientKey> {
  const privateKey = await store.secrets.getOrCreate(secretId, newHostKey);
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error) throw new Error('the stored desktop client key cannot be read', { cause: parsed });
  return { privateKey, publicKey: `${parsed.type} ${parsed.getPublicSSH().toString('base64')}` };
}
