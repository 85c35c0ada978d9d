/**
 * Users' passwords, hashed with scrypt (node:crypto): a per-user random salt, OWASP's parameters
 * (N = 2^17, r = 8, p = 1: 128 MiB and about half a second per hash here), compared in constant time.
 * The stored form names its parameters (`scrypt$17$8$1$<salt>$<hash>`), so stronger ones can be chosen
 * later without invalidating old hashes. scrypt runs on libuv's thread pool: a sign-in does not block
 * the event loop.
 *
 * argon2id would do as well, but needs a native npm module (a build toolchain on every install); scrypt
 * is in Node itself and is one of the functions OWASP recommends.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { newRescuePassword } from './password.js';

/** scrypt's cost parameters. */
export interface ScryptParameters {
  /** log2 of N, the CPU/memory cost. */
  readonly logN: number;
  /** Block size. */
  readonly r: number;
  /** Parallelism. */
  readonly p: number;
}

/** The parameters new hashes get. */
export const passwordHashParameters: ScryptParameters = Object.freeze({ logN: 17, r: 8, p: 1 });

const keyLength = 64;

function derive(password: string, salt: Buffer, params: ScryptParameters): Promise<Buffer> {
  const options: ScryptOptions = { N: 2 ** params.logN, r: params.r, p: params.p, maxmem: 2 * 128 * params.r * 2 ** params.logN + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyLength, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** The stored form of a password. */
export async function hashUserPassword(password: string, params: ScryptParameters = passwordHashParameters): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, params);
  return ['scrypt', params.logN, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Whether `password` matches a stored hash (false for a malformed one). */
export async function verifyUserPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [logN, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![logN, r, p].every((n) => Number.isInteger(n) && n > 0) || logN > 22) return false;
  const salt = Buffer.from(parts[4] ?? '', 'base64url');
  const expected = Buffer.from(parts[5] ?? '', 'base64url');
  if (expected.length !== keyLength) return false;
  const key = await derive(password, salt, { logN, r, p });
  return timingSafeEqual(key, expected);
}

// Checked when the user name is unknown, so that a wrong name costs as long as a wrong password: the
// hash of 32 random bytes nobody kept, with the parameters of new hashes (the cost is the parameters',
// not the password's; a constant spares computing one at start).
const decoy = 'scrypt$17$8$1$xTDoTzlpMX3ivD7EKUV6Ng$8Jol4-wzGZfn_C1vbhX4JQ91ej1ZWBSsckXyb1QVJqh2CZWwsJ_IMLCkR60j-6aQb6FiH0N8WcryDs-MmYfXmQ';

/** Spends the time of one verification against a hash of nobody's password; always false. */
export async function verifyNobody(password: string): Promise<false> {
  await verifyUserPassword(password, decoy);
  return false;
}

/** A generated password for a new user (24 unambiguous characters, about 140 bits). */
export function newUserPassword(): string {
  return newRescuePassword(24);
}
