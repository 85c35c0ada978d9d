import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { authorizedKeysFile, isSha512CryptHash, rewriteShadow } from './credentials.js';

const shadow = [
  'root:*:19700:0:99999:7:::',
  'daemon:*:19700:0:99999:7:::',
  'sshd:!:19700::::::',
  '',
].join('\n');

test('puts the hash into root\'s line only, and sets the last change so no expiry prompt appears', () => {
  const hash = execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: 'correct horse\n', encoding: 'utf8' }).trim();
  assert.ok(isSha512CryptHash(hash));
  const out = rewriteShadow(shadow, 'root', hash, 20415);
  assert.equal(out, [`root:${hash}:20415:0:99999:7:::`, 'daemon:*:19700:0:99999:7:::', 'sshd:!:19700::::::', ''].join('\n'));
});

test('"*" means no password: keys only', () => {
  const out = rewriteShadow('root:$6$abc$def:1:0:99999:7:::\n', 'root', '*', 5);
  assert.equal(out, 'root:*:5:0:99999:7:::\n');
});

test('appends a line for a user the file lacks, pads short lines, refuses a field with a colon', () => {
  assert.equal(rewriteShadow('daemon:*:1\n', 'root', '*', 9), 'daemon:*:1\nroot:*:9:0:99999:7:::\n');
  assert.equal(rewriteShadow('root:x\n', 'root', '*', 9), 'root:*:9::::::\n');
  assert.throws(() => rewriteShadow(shadow, 'root', 'a:b', 1), /invalid password field/);
});

test('recognises SHA-512 crypt hashes only', () => {
  assert.equal(isSha512CryptHash('correct horse'), false);
  assert.equal(isSha512CryptHash('$1$abc$def'), false);
  assert.equal(isSha512CryptHash(`$6$rounds=5000$saltsalt$${'a'.repeat(86)}`), true);
});

test('authorized_keys: one key a line, blanks dropped', () => {
  assert.equal(authorizedKeysFile(['ssh-ed25519 AAAA one', '  ', 'ssh-rsa BBBB two\n']), 'ssh-ed25519 AAAA one\nssh-rsa BBBB two\n');
  assert.equal(authorizedKeysFile([]), '');
});
