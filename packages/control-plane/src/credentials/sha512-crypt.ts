/**
 * SHA-512 crypt (`$6$`), as glibc's crypt(3) and `openssl passwd -6` compute it (Ulrich Drepper's
 * "Unix crypt using SHA-256 and SHA-512", 2008). The rescue system's /etc/shadow takes this hash; the
 * control plane computes it so that the agent never sees the password.
 */
import { createHash, randomBytes } from 'node:crypto';

const alphabet = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const defaultRounds = 5000;

// The byte order of the final encoding, three bytes per group (from the specification).
const groups: ReadonlyArray<readonly [number, number, number]> = [
  [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48],
  [28, 49, 7], [50, 8, 29], [9, 30, 51], [31, 52, 10], [53, 11, 32], [12, 33, 54], [34, 55, 13],
  [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41],
];

function sha512(...parts: Buffer[]): Buffer {
  const hash = createHash('sha512');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

/** `length` bytes of `block` repeated. */
function stretch(block: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i += block.length) block.copy(out, i, 0, Math.min(block.length, length - i));
  return out;
}

function encode24(b2: number, b1: number, b0: number, chars: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let out = '';
  for (let i = 0; i < chars; i++) {
    out += alphabet[w & 0x3f];
    w >>= 6;
  }
  return out;
}

/**
 * Hashes a password. `salt` is up to 16 characters of `[./0-9A-Za-z]` (random when omitted);
 * `rounds` between 1000 and 999999999 (5000, the default, is left out of the result as crypt does).
 * Blocks for the whole computation (about 17 ms at 5000 rounds): a request handler uses
 * {@link sha512CryptAsync}.
 */
export function sha512Crypt(password: string, salt?: string, rounds = defaultRounds): string {
  const steps = crypt(password, salt, rounds);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

/** Rounds computed between two turns of the event loop by {@link sha512CryptAsync} (about 1 ms). */
const roundsPerTurn = 250;

/**
 * {@link sha512Crypt} without holding the event loop: the rounds run in slices of about a millisecond,
 * each followed by a turn of the event loop, so other requests (`/healthz`, event streams) are served
 * meanwhile. A worker thread was considered: it would need the TypeScript loader in every worker and
 * a pool sized against the two cores the control plane shares; slices keep the latency of everything
 * else low at the same total CPU cost.
 */
export async function sha512CryptAsync(password: string, salt?: string, rounds = defaultRounds): Promise<string> {
  const steps = crypt(password, salt, rounds);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** The computation; yields every {@link roundsPerTurn} rounds. */
function* crypt(password: string, salt: string | undefined, rounds: number): Generator<void, string, void> {
  const saltText = (salt ?? randomSalt()).slice(0, 16);
  const r = Math.min(999_999_999, Math.max(1000, Math.floor(rounds)));
  const p = Buffer.from(password, 'utf8');
  const s = Buffer.from(saltText, 'utf8');

  const b = sha512(p, s, p);
  const a = createHash('sha512').update(p).update(s).update(stretch(b, p.length));
  for (let n = p.length; n > 0; n >>= 1) a.update(n & 1 ? b : p);
  let c = a.digest();

  const dp = createHash('sha512');
  for (let i = 0; i < p.length; i++) dp.update(p);
  const pBytes = stretch(dp.digest(), p.length);
  const ds = createHash('sha512');
  for (let i = 0; i < 16 + c[0]!; i++) ds.update(s);
  const sBytes = stretch(ds.digest(), s.length);

  for (let i = 0; i < r; i++) {
    if (i > 0 && i % roundsPerTurn === 0) yield;
    const h = createHash('sha512');
    h.update(i & 1 ? pBytes : c);
    if (i % 3 !== 0) h.update(sBytes);
    if (i % 7 !== 0) h.update(pBytes);
    h.update(i & 1 ? c : pBytes);
    c = h.digest();
  }

  let encoded = '';
  for (const [x, y, z] of groups) encoded += encode24(c[x]!, c[y]!, c[z]!, 4);
  encoded += encode24(0, 0, c[63]!, 2);
  const roundsPart = r === defaultRounds && rounds === defaultRounds ? '' : `rounds=${r}$`;
  return `$6$${roundsPart}${saltText}$${encoded}`;
}

/** 16 random salt characters. */
export function randomSalt(): string {
  return [...randomBytes(16)].map((byte) => alphabet[byte & 0x3f]).join('');
}
