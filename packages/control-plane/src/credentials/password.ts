/** Temporary root passwords of rescue sessions. */
import { randomInt } from 'node:crypto';
import { sha512Crypt } from './sha512-crypt.js';

// No look-alikes (0/O, 1/l/I) and nothing a shell or a French keyboard makes awkward.
const characters = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** A fresh password of `length` (at least 20) unbiased random characters: about 5.8 bits each. */
export function newRescuePassword(length = 24): string {
  const n = Math.max(20, length);
  let out = '';
  for (let i = 0; i < n; i++) out += characters[randomInt(characters.length)];
  return out;
}

/** A password with the SHA-512 crypt hash that the store and the agent get instead of it. */
export function rescuePassword(): { password: string; hash: string } {
  const password = newRescuePassword();
  return { password, hash: sha512Crypt(password) };
}
