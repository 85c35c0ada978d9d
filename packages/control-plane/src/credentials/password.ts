/** Temporary root passwords of rescue sessions. */
import { randomInt } from 'node:crypto';
import { sha512CryptAsync } from './sha512-crypt.js';

// No look-alikes (0/O, 1/l/I) and nothing a shell or a French keyboard makes awkward.
const characters = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** A fresh password of `length` (at least 20) unbiased random characters: about 5.8 bits each. */
export function newRescuePassword(length = 24): string {
  const n = Math.max(20, length);
  let out = '';
  for (let i = 0; i < n; i++) out += characters[randomInt(characters.length)];
  return out;
}

/** A new password and its hash. */
export interface RescueCredentials {
  readonly password: string;
  /** SHA-512 crypt: what the store and the agent get instead of the password. */
  readonly hash: string;
}

/** A fresh password with its SHA-512 crypt hash, computed without holding the event loop. */
export async function rescuePassword(): Promise<RescueCredentials> {
  const password = newRescuePassword();
  return { password, hash: await sha512CryptAsync(password) };
}
