/**
 * OpenSSH public keys as users paste them (`ssh-ed25519 AAAA... comment`): parsed, checked against
 * what the console gateway and the rescue system accept, and fingerprinted the way `ssh-keygen -lf`
 * prints it (`SHA256:` + unpadded base64 of the blob's SHA-256).
 */
import { createHash } from 'node:crypto';
import { LifeboatError } from '@lifeboat/core';

/** The key types accepted. DSA is refused (OpenSSH dropped it); security-key types need hardware the rescue flow cannot assume. */
export const acceptedKeyTypes = ['ssh-ed25519', 'ssh-rsa', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521'] as const;

/** An accepted key type. */
export type SshKeyType = (typeof acceptedKeyTypes)[number];

/** The smallest RSA modulus accepted, in bits. */
export const minimumRsaBits = 2048;

/** A parsed public key. */
export interface SshPublicKey {
  readonly type: SshKeyType;
  /** The key's wire-format blob. */
  readonly blob: Buffer;
  /** Modulus bits (RSA), curve size (ECDSA), 256 (ed25519). */
  readonly bits: number;
  readonly comment: string;
  /** `SHA256:...`. */
  readonly fingerprint: string;
  /** `type base64 comment`, normalised (one space, no line break). */
  readonly line: string;
}

/** The fingerprint of a key blob, as `ssh-keygen -lf` prints it. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Reads the SSH wire format's length-prefixed fields. */
class WireReader {
  readonly #data: Buffer;
  #offset = 0;

  constructor(data: Buffer) {
    this.#data = data;
  }

  field(): Buffer {
    if (this.#offset + 4 > this.#data.length) throw invalid('the key blob is truncated');
    const length = this.#data.readUInt32BE(this.#offset);
    const start = this.#offset + 4;
    if (start + length > this.#data.length) throw invalid('the key blob is truncated');
    this.#offset = start + length;
    return this.#data.subarray(start, start + length);
  }

  get done(): boolean {
    return this.#offset === this.#data.length;
  }
}

function invalid(why: string): LifeboatError {
  return new LifeboatError('KEY_INVALID', `not an SSH public key Lifeboat accepts: ${why} (expected one line such as "ssh-ed25519 AAAA... you@laptop")`);
}

function bitLength(mpint: Buffer): number {
  let i = 0;
  while (i < mpint.length && mpint[i] === 0) i++;
  if (i === mpint.length) return 0;
  return (mpint.length - i - 1) * 8 + (32 - Math.clz32(mpint[i] ?? 0));
}

const curveBits: Record<string, number> = { nistp256: 256, nistp384: 384, nistp521: 521 };

/** Parses one public key line; `KEY_INVALID` says what is wrong. */
export function parsePublicKey(text: string): SshPublicKey {
  const line = text.trim();
  if (line.length === 0) throw invalid('the text is empty');
  if (/[\r\n]/.test(line)) throw invalid('give one key, on one line');
  if (line.startsWith('-----BEGIN')) throw invalid('this is a private key or a PEM file; give the .pub file');
  const [typeField, base64, ...rest] = line.split(/\s+/);
  const type = acceptedKeyTypes.find((t) => t === typeField);
  if (type === undefined) throw invalid(`key type ${JSON.stringify((typeField ?? '').slice(0, 40))} is not one of ${acceptedKeyTypes.join(', ')}`);
  if (base64 === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 !== 0) throw invalid('the second field is not base64');
  const blob = Buffer.from(base64, 'base64');
  const reader = new WireReader(blob);
  const inner = reader.field().toString('latin1');
  if (inner !== type) throw invalid(`the blob holds a ${inner.slice(0, 40)} key, the line says ${type}`);
  let bits: number;
  if (type === 'ssh-ed25519') {
    if (reader.field().length !== 32) throw invalid('an ed25519 key is 32 bytes');
    bits = 256;
  } else if (type === 'ssh-rsa') {
    const exponent = reader.field();
    bits = bitLength(reader.field());
    if (bitLength(exponent) < 2) throw invalid('the RSA exponent is not valid');
    if (bits < minimumRsaBits) throw invalid(`an RSA key of ${bits} bits is too short (at least ${minimumRsaBits})`);
  } else {
    const curve = reader.field().toString('latin1');
    if (`ecdsa-sha2-${curve}` !== type) throw invalid(`the curve ${curve.slice(0, 20)} does not match ${type}`);
    const point = reader.field();
    if (point[0] !== 4) throw invalid('the ECDSA point is not an uncompressed point');
    bits = curveBits[curve] ?? 0;
  }
  if (!reader.done) throw invalid('the key blob has trailing bytes');
  const comment = rest.join(' ');
  return { type, blob, bits, comment, fingerprint: fingerprintOf(blob), line: `${type} ${blob.toString('base64')}${comment ? ` ${comment}` : ''}` };
}
