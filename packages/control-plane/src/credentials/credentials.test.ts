import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { newRescuePassword, rescuePassword } from './password.js';
import { SecretBox } from './secret-box.js';
import { randomSalt, sha512Crypt, sha512CryptAsync } from './sha512-crypt.js';
import { hashToken, newToken } from './tokens.js';

/** `openssl passwd -6`, the password on stdin (never argv). */
function openssl(password: string, salt: string): string {
  const result = spawnSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: `${password}\n`, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.trim();
}

describe('sha512-crypt', () => {
  it('matches the vectors of the specification', () => {
    assert.equal(
      sha512Crypt('Hello world!', 'saltstring'),
      '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
    );
    assert.equal(
      sha512Crypt('Hello world!', 'saltstringsaltstring', 10000),
      '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.',
    );
    assert.equal(
      sha512Crypt('we have a short salt string but not a short password', 'short', 77777),
      '$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0',
    );
    assert.equal(
      sha512Crypt('a very much longer text to encrypt.  This one even stretches over morethan one line.', 'anotherlongsaltstring', 1400),
      '$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1',
    );
  });

  it('agrees with openssl passwd -6 on random passwords and salts', () => {
    for (let i = 0; i < 5; i++) {
      const password = newRescuePassword(20 + i * 7);
      const salt = randomSalt();
      assert.equal(sha512Crypt(password, salt), openssl(password, salt));
    }
    assert.equal(sha512Crypt('pässwörd ünïcode', 'abc'), openssl('pässwörd ünïcode', 'abc'));
  });
});

describe('rescue passwords and tokens', () => {
  it('makes long random passwords and hashes them', async () => {
    const { password, hash } = await rescuePassword();
    assert.ok(password.length >= 20);
    assert.match(hash, /^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
    assert.equal(sha512Crypt(password, hash.split('$')[2]), hash);
    assert.notEqual((await rescuePassword()).password, password);
  });

  it('hashes in slices, serving the event loop meanwhile, to the same result', async () => {
    let turns = 0;
    const ticking = setInterval(() => turns++, 0);
    try {
      const hash = await sha512CryptAsync('Hello world!', 'saltstring');
      assert.equal(hash, sha512Crypt('Hello world!', 'saltstring'));
    } finally {
      clearInterval(ticking);
    }
    // 5000 rounds in slices of 250: timers ran between slices (a blocking hash lets none run).
    assert.ok(turns >= 2, `timers ran ${turns} times during the hash`);
  });

  it('makes distinct tokens and hashes them', () => {
    const token = newToken('boot');
    assert.match(token, /^lbb_/);
    assert.notEqual(newToken('boot'), token);
    assert.match(hashToken(token), /^[0-9a-f]{64}$/);
  });

  it('seals and opens secrets, and refuses tampered ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-box-'));
    try {
      const box = SecretBox.fromKeyFile(join(dir, 'secret.key'));
      const sealed = box.seal('bmc-password');
      assert.ok(!sealed.includes('bmc-password'));
      assert.equal(SecretBox.fromKeyFile(join(dir, 'secret.key')).open(sealed), 'bmc-password');
      const parts = sealed.split(':');
      parts[3] = Buffer.from('xxxxxxxxxxxx').toString('base64');
      assert.throws(() => box.open(parts.join(':')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
