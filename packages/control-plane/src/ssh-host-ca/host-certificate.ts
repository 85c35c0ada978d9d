/**
 * OpenSSH host certificates (`ssh-ed25519-cert-v01@openssh.com` and the RSA and ECDSA kinds), signed in
 * TypeScript with node:crypto's ed25519, in the layout of OpenSSH's PROTOCOL.certkeys.
 *
 * Signing here rather than with `ssh-keygen -s`: no child process per rescue, and the CA's private key
 * never leaves the process (no temporary file to write, protect and remove). `ssh-keygen -L` and
 * `sshd -t` check what is written here in the tests.
 */
import { randomBytes, sign } from 'node:crypto';
import { parsePublicKey } from '../keys/public-key.js';
import type { Ed25519Key } from './openssh-key.js';
import { WireReader, WireWriter } from './ssh-wire.js';

/** What a host certificate says. */
export interface HostCertificateRequest {
  /** The host's public key line (`ssh-ed25519 AAAA...`). */
  readonly publicKey: string;
  /** Names and addresses the certificate is valid for (what the client typed, or its HostKeyAlias). */
  readonly principals: readonly string[];
  readonly validAfter: Date;
  readonly validBefore: Date;
  /** A number naming what was signed (a KRL can revoke it). */
  readonly serial: bigint;
  /** Free text that sshd logs and `ssh-keygen -L` shows. */
  readonly keyId: string;
}

/** `SSH2_CERT_TYPE_HOST` of PROTOCOL.certkeys (1 is a user certificate). */
const hostCertificateType = 2;

/**
 * Signs a host certificate with `ca`; returns its line (`ssh-ed25519-cert-v01@openssh.com AAAA... keyId`),
 * the content of an `ssh_host_*_key-cert.pub` file. A host key Lifeboat does not accept throws `KEY_INVALID`.
 */
export function signHostCertificate(ca: Ed25519Key, request: HostCertificateRequest): string {
  const key = parsePublicKey(request.publicKey);
  if (request.principals.length === 0) throw new Error('a host certificate needs at least one principal (none would make it valid for every host)');
  const principals = new WireWriter();
  for (const p of request.principals) principals.string(p);
  // The certified key's own fields follow the nonce, in the order of its public blob (ed25519: pk;
  // RSA: e, n; ECDSA: curve, point): its blob without the leading type string.
  const keyFields = new WireReader(key.blob);
  keyFields.string();
  const body = new WireWriter()
    .string(`${key.type}-cert-v01@openssh.com`)
    .string(randomBytes(32))
    .raw(keyFields.rest())
    .uint64(request.serial)
    .uint32(hostCertificateType)
    .string(request.keyId)
    .string(principals.bytes())
    .uint64(BigInt(Math.floor(request.validAfter.getTime() / 1000)))
    .uint64(BigInt(Math.floor(request.validBefore.getTime() / 1000)))
    .string('') // critical options: none are defined for host certificates
    .string('') // extensions: likewise
    .string('') // reserved
    .string(ca.publicBlob)
    .bytes();
  const signature = new WireWriter().string('ssh-ed25519').string(sign(null, body, ca.privateKey)).bytes();
  const certificate = new WireWriter().raw(body).string(signature).bytes();
  return `${key.type}-cert-v01@openssh.com ${certificate.toString('base64')} ${request.keyId.replace(/\s+/g, '_')}`;
}
