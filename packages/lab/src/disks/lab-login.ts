import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cached } from './cache.js';
import { run } from './run.js';

/** How to log in to the installed Debian of every lab disk (lab-only credentials). */
export interface LabLogin {
  /** Always `root`. */
  user: 'root';
  /** Private key (ed25519, no passphrase) that the installed systems accept for root. */
  keyFile: string;
  /** The matching public key line, as in `/root/.ssh/authorized_keys`. */
  publicKey: string;
  /** File holding root's password on the console and over SSH (mode 0600). */
  passwordFile: string;
}

/**
 * The lab's own SSH key pair and root password, generated once under `<cacheDir>/lab-login/` and
 * reused by every later build, so images and tests agree on them.
 */
export async function ensureLabLogin(cacheDir: string): Promise<LabLogin> {
  const dir = await cached(join(cacheDir, 'lab-login'), async (tmp) => {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'lifeboat-lab', '-f', join(tmp, 'id_ed25519')]);
    await writeFile(join(tmp, 'root-password'), `${randomBytes(12).toString('base64url')}\n`, { mode: 0o600 });
  });
  return {
    user: 'root',
    keyFile: join(dir, 'id_ed25519'),
    publicKey: (await readFile(join(dir, 'id_ed25519.pub'), 'utf8')).trim(),
    passwordFile: join(dir, 'root-password'),
  };
}

/** Reads the lab root password from its file. */
export async function readLabPassword(login: LabLogin): Promise<string> {
  return (await readFile(login.passwordFile, 'utf8')).trim();
}
