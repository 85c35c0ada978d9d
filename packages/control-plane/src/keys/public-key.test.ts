import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LifeboatError } from '@lifeboat/core';
import { parsePublicKey } from './public-key.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-keys-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A key made by ssh-keygen, with the fingerprint ssh-keygen prints for it. */
let made = 0;
function keygen(type: string, bits?: number): { line: string; fingerprint: string } {
  const file = join(dir, `key-${made++}`);
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(bits ? ['-b', String(bits)] : []), '-N', '', '-C', 'me@laptop', '-f', file]);
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1] ?? '';
  return { line: readFileSync(`${file}.pub`, 'utf8'), fingerprint };
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof LifeboatError);
    return error.code;
  }
  return 'no error';
}

describe('SSH public keys', () => {
  it('parses ed25519, RSA and ECDSA keys with the fingerprint ssh-keygen prints', () => {
    for (const [type, bits, expectedBits] of [['ed25519', undefined, 256], ['rsa', 3072, 3072], ['ecdsa', 256, 256], ['ecdsa', 521, 521]] as const) {
      const made = keygen(type, bits);
      const key = parsePublicKey(made.line);
      assert.equal(key.fingerprint, made.fingerprint, type);
      assert.equal(key.bits, expectedBits);
      assert.equal(key.comment, 'me@laptop');
      assert.equal(key.line, made.line.trim());
    }
  });

  it('refuses short RSA keys, DSA, private keys, junk and mismatched types', () => {
    const rsa1024 = keygen('rsa', 1024).line;
    assert.equal(code(() => parsePublicKey(rsa1024)), 'KEY_INVALID');
    assert.match((() => { try { parsePublicKey(rsa1024); } catch (e) { return (e as Error).message; } return ''; })(), /1024 bits is too short/);
    const ed = keygen('ed25519').line.split(' ');
    assert.equal(code(() => parsePublicKey(`ssh-rsa ${ed[1]}`)), 'KEY_INVALID');
    assert.equal(code(() => parsePublicKey(`ssh-dss AAAAB3NzaC1kc3M=`)), 'KEY_INVALID');
    assert.equal(code(() => parsePublicKey('-----BEGIN OPENSSH PRIVATE KEY-----')), 'KEY_INVALID');
    assert.equal(code(() => parsePublicKey('ssh-ed25519 not*base64')), 'KEY_INVALID');
    assert.equal(code(() => parsePublicKey(`ssh-ed25519 ${Buffer.from('short').toString('base64')}`)), 'KEY_INVALID');
    assert.equal(code(() => parsePublicKey(`${ed.join(' ')}\n${ed.join(' ')}`)), 'KEY_INVALID');
    assert.equal(code(() => parsePublicKey('')), 'KEY_INVALID');
  });
});
