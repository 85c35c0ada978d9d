import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { nodePlatform } from './platform-node.js';
import { hostKeyFromLine, readHostKeys } from './host-keys.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-hostkeys-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('fingerprints of freshly generated host keys match ssh-keygen -lf', async () => {
  // ssh-keygen -A writes every default host key type under a prefix, as the rescue system's init does.
  mkdirSync(join(dir, 'etc/ssh'), { recursive: true });
  execFileSync('ssh-keygen', ['-A', '-f', dir]);
  const keys = await readHostKeys(nodePlatform, join(dir, 'etc/ssh'));
  assert.deepEqual(keys.map((k) => k.type).sort(), ['ecdsa-sha2-nistp256', 'ssh-ed25519', 'ssh-rsa']);
  for (const key of keys) {
    const file = join(dir, `etc/ssh/ssh_host_${key.type === 'ssh-ed25519' ? 'ed25519' : key.type === 'ssh-rsa' ? 'rsa' : 'ecdsa'}_key.pub`);
    const expected = execFileSync('ssh-keygen', ['-lf', file], { encoding: 'utf8' }).split(' ')[1];
    assert.equal(key.fingerprint, expected);
    assert.match(key.publicKey, new RegExp(`^${key.type} [A-Za-z0-9+/]+=*$`));
  }
});

test('rejects a line whose blob does not carry its declared type', () => {
  const line = execFileSync('sh', ['-c', `cat ${join(dir, 'etc/ssh/ssh_host_ed25519_key.pub')}`], { encoding: 'utf8' });
  assert.throws(() => hostKeyFromLine(line.replace('ssh-ed25519', 'ssh-rsa')), /does not match/);
  assert.throws(() => hostKeyFromLine('garbage'), /not an OpenSSH public key/);
});
