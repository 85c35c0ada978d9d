/**
 * Ed25519 private keys in OpenSSH's own file format (`-----BEGIN OPENSSH PRIVATE KEY-----`, the
 * "openssh-key-v1" layout of OpenSSH's PROTOCOL.key), unencrypted: what `ssh-keygen -t ed25519 -N ''`
 * writes and what the host CA is stored as. Written and read here rather than through ssh2, whose
 * generator writes a key its own parser refuses about once in 250 (console/host-key.ts).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { WireReader, WireWriter } from './ssh-wire.js';

/** An ed25519 key pair. */
export interface Ed25519Key {
  /** The signing key (node:crypto). */
  readonly privateKey: KeyObject;
  /** The public key's SSH blob: `string "ssh-ed25519", string key(32)`. */
  readonly publicBlob: Buffer;
}

const magic = Buffer.from('openssh-key-v1\0', 'latin1');
const begin = '-----BEGIN OPENSSH PRIVATE KEY-----';
const end = '-----END OPENSSH PRIVATE KEY-----';

/** A fresh ed25519 key as an OpenSSH private key file's text. */
export function newEd25519PrivateKey(comment: string): string {
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  const seed = Buffer.from(jwk.d as string, 'base64url');
  const pub = Buffer.from(jwk.x as string, 'base64url');
  const publicBlob = new WireWriter().string('ssh-ed25519').string(pub).bytes();
  const check = randomBytes(4).readUInt32BE();
  const secret = new WireWriter().uint32(check).uint32(check).string('ssh-ed25519').string(pub).string(Buffer.concat([seed, pub])).string(comment);
  // The private section is padded with 1, 2, 3, ... to the cipher's block size (8 for "none").
  const unpadded = secret.bytes();
  const padding = Buffer.from(Array.from({ length: (8 - (unpadded.length % 8)) % 8 }, (_, i) => i + 1));
  const body = new WireWriter().raw(magic).string('none').string('none').string('').uint32(1).string(publicBlob).string(Buffer.concat([unpadded, padding])).bytes();
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  return `${begin}\n${lines.join('\n')}\n${end}\n`;
}

/**
 * Reads an OpenSSH ed25519 private key file's text. Throws an `Error` that says what is wrong and never
 * quotes the text (it is a secret).
 */
export function parseEd25519PrivateKey(text: string): Ed25519Key {
  const trimmed = text.trim();
  if (!trimmed.startsWith(begin) || !trimmed.endsWith(end)) throw new Error("not an OpenSSH private key file (the private key, not the .pub: ssh-keygen -t ed25519 writes one)");
  const data = Buffer.from(trimmed.slice(begin.length, -end.length).replace(/\s+/g, ''), 'base64');
  if (!data.subarray(0, magic.length).equals(magic)) throw new Error('not an openssh-key-v1 private key');
  try {
    const r = new WireReader(data.subarray(magic.length));
    const cipher = r.string().toString();
    r.string(); // kdf name
    r.string(); // kdf options
    if (cipher !== 'none') throw new Error('the key is protected by a passphrase; give an unencrypted copy (ssh-keygen -p -N "" -f COPY)');
    if (r.uint32() !== 1) throw new Error('the file holds more than one key');
    const publicBlob = Buffer.from(r.string());
    const secret = new WireReader(r.string());
    if (secret.uint32() !== secret.uint32()) throw new Error('the key file is damaged (check numbers differ)');
    const type = secret.string().toString();
    if (type !== 'ssh-ed25519') throw new Error(`the key is ${type}; the host CA must be an ed25519 key (ssh-keygen -t ed25519)`);
    const pub = secret.string();
    const pair = secret.string();
    if (pub.length !== 32 || pair.length !== 64 || !pair.subarray(32).equals(pub)) throw new Error('the ed25519 key is malformed');
    const privateKey = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: pair.subarray(0, 32).toString('base64url'), x: pub.toString('base64url') }, format: 'jwk' });
    // The public half must be the private half's: a key whose halves disagree would sign certificates nobody trusts.
    const derived = createPublicKey(privateKey).export({ format: 'jwk' }).x;
    if (derived !== pub.toString('base64url') || !publicBlob.equals(new WireWriter().string('ssh-ed25519').string(pub).bytes())) throw new Error('the public key in the file does not match its private key');
    return { privateKey, publicBlob };
  } catch (error) {
    if ((error as Error).message === 'truncated') throw new Error('the key file is truncated');
    throw error;
  }
}
