/**
 * The provider's SSH host certificate authority: an ed25519 key that signs every rescue system's host
 * keys, so that a customer who put one `@cert-authority` line in known_hosts trusts every rescue
 * (docs/security.md, "The SSH host CA"). Generated at the first start and kept in the database sealed
 * like the BMC passwords (every replica signs with the same one), or read from the operator's file
 * (`--ssh-host-ca-key`), which is then used as it is and nothing is stored.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { HostKey, RescueSession, Server } from '@lifeboat/core';
import { LifeboatError } from '../errors.js';
import { fingerprintOf } from '../keys/public-key.js';
import type { Store } from '../store/store.js';
import { signHostCertificate } from './host-certificate.js';
import { newEd25519PrivateKey, parseEd25519PrivateKey, type Ed25519Key } from './openssh-key.js';

/** The secret id of the generated CA's private key. */
export const hostCaSecretId = 'ssh_host_ca.private_key';

/** The comment of the CA's public key (in the `@cert-authority` line). */
export const hostCaComment = 'lifeboat-host-ca';

/** Certificates start this long before they are signed: clocks of customers and servers drift. */
const validFromSkewMs = 5 * 60_000;

/** A host certificate for one reported host key. */
export interface HostCertificate {
  /** The key's type (`ssh-ed25519`). */
  readonly type: string;
  /** The certified public key (`ssh-ed25519 AAAA...`). */
  readonly publicKey: string;
  /** The certificate line (`ssh-ed25519-cert-v01@openssh.com AAAA... keyId`). */
  readonly certificate: string;
}

/** The CA, ready to sign. */
export class SshHostCa {
  readonly #key: Ed25519Key;
  readonly #hosts: string;
  /** `ssh-ed25519 AAAA...`. */
  readonly publicKey: string;
  /** `SHA256:...` of the CA's public key. */
  readonly fingerprint: string;
  /** Where the key came from: `generated` (the database) or `file`. */
  readonly source: 'generated' | 'file';

  /** `hosts`: the known_hosts pattern list the customer's line trusts it for (`*` or `*.example.net,203.0.113.*`). */
  constructor(key: Ed25519Key, source: 'generated' | 'file', hosts = '*') {
    this.#key = key;
    this.#hosts = hosts;
    this.source = source;
    this.publicKey = `ssh-ed25519 ${key.publicBlob.toString('base64')}`;
    this.fingerprint = fingerprintOf(key.publicBlob);
  }

  /** The line a customer adds to known_hosts: `@cert-authority * ssh-ed25519 AAAA... lifeboat-host-ca`. */
  get knownHostsLine(): string {
    return `@cert-authority ${this.#hosts} ${this.publicKey} ${hostCaComment}`;
  }

  /**
   * Host certificates for a rescue session's host keys: valid for the server's principals
   * ({@link hostPrincipals}) from a few minutes before now to the end of its lease; serial and key id
   * name the session. None when the server has no principal.
   */
  certify(server: Server, session: RescueSession, hostKeys: readonly HostKey[], now: Date): HostCertificate[] {
    const principals = hostPrincipals(server);
    if (principals.length === 0) return [];
    const serial = sessionSerial(session.id);
    return hostKeys.map((key) => ({
      type: key.type,
      publicKey: key.publicKey,
      certificate: signHostCertificate(this.#key, {
        publicKey: key.publicKey,
        principals,
        validAfter: new Date(now.getTime() - validFromSkewMs),
        validBefore: new Date(Math.max(session.expiresAt.getTime(), now.getTime()) + validFromSkewMs),
        serial,
        keyId: `lifeboat server=${server.name} session=${session.id} key=${key.type}`,
      }),
    }));
  }
}

/**
 * The names and addresses a server's rescue system answers SSH on, as the rescue view gives them to
 * the customer: the SSH endpoint's host (an address or a DNS name) and the server's name when it is a
 * host name (`web-1`, `web-1.example.net`: what `ssh -o HostKeyAlias=NAME` checks). Endpoints that share
 * an address (NAT, the lab's forwarded ports) share that principal: there the name tells servers apart.
 */
export function hostPrincipals(server: Server): string[] {
  const found = new Set<string>();
  if (isHostName(server.name)) found.add(server.name.toLowerCase());
  const host = server.sshEndpoint?.host;
  if (host !== undefined && (isIP(host) !== 0 || isHostName(host))) found.add(isIP(host) === 0 ? host.toLowerCase() : host);
  return [...found];
}

function isHostName(name: string): boolean {
  return name.length <= 253 && name.split('.').every((label) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label));
}

/** A session's certificates share one serial (63 bits of its id's SHA-256): a KRL revokes the session with one line. */
export function sessionSerial(sessionId: string): bigint {
  return createHash('sha256').update(sessionId).digest().readBigUInt64BE() & 0x7fff_ffff_ffff_ffffn;
}

/** Where the CA comes from. */
export interface HostCaSource {
  readonly store: Store;
  /** The operator's OpenSSH ed25519 private key file (`--ssh-host-ca-key`); null: generated and stored. */
  readonly keyFile: string | null;
  /** The `@cert-authority` line's host patterns (`--ssh-host-ca-hosts`, default `*`). */
  readonly hosts?: string;
}

/**
 * The CA: the operator's file when given (an unreadable or wrong file is `CONFIG_INVALID`, naming the
 * file, never its content), else the one in the database, created by the first replica that starts
 * (replicas starting together keep the first one stored).
 */
export async function loadSshHostCa(source: HostCaSource): Promise<SshHostCa> {
  if (source.keyFile !== null) {
    let text: string;
    try {
      text = readFileSync(source.keyFile, 'utf8');
    } catch (error) {
      throw new LifeboatError('CONFIG_INVALID', `--ssh-host-ca-key ${source.keyFile}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    try {
      return new SshHostCa(parseEd25519PrivateKey(text), 'file', source.hosts);
    } catch (error) {
      throw new LifeboatError('CONFIG_INVALID', `--ssh-host-ca-key ${source.keyFile}: ${(error as Error).message}`);
    }
  }
  const stored = await source.store.secrets.getOrCreate(hostCaSecretId, () => newEd25519PrivateKey(hostCaComment));
  return new SshHostCa(parseEd25519PrivateKey(stored), 'generated', source.hosts);
}
