import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { RescueSession, Server } from '@lifeboat/core';
import { SecretBox } from '../credentials/secret-box.js';
import { Store } from '../store/store.js';
import { hostCaSecretId, hostPrincipals, loadSshHostCa, sessionSerial, SshHostCa } from './host-ca.js';
import { signHostCertificate } from './host-certificate.js';
import { newEd25519PrivateKey, parseEd25519PrivateKey } from './openssh-key.js';

const deadlines = { requestMs: 60_000, rescueMs: 60_000, exitMs: 60_000 };
const dir = mkdtempSync(join(tmpdir(), 'lifeboat-host-ca-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const run = (program: string, args: string[]): string => execFileSync(program, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** A host key made by the real ssh-keygen: its private file's path and public line. */
function hostKey(type: 'ed25519' | 'ecdsa' | 'rsa'): { file: string; line: string } {
  const file = join(dir, `ssh_host_${type}_key`);
  rmSync(file, { force: true });
  rmSync(`${file}.pub`, { force: true });
  run('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', 'root@build', '-f', file]);
  return { file, line: readFileSync(`${file}.pub`, 'utf8').trim() };
}

function caFile(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

const server = (name: string, host: string | null): Server => ({
  id: `id-${name}`, name, tenantId: 't', macs: [], bmc: { url: 'ipmi://127.0.0.1:1', user: 'u' } as Server['bmc'],
  sshEndpoint: host === null ? null : { host, port: 22 }, console: null, profiles: ['linux'], state: 'rescue', createdAt: new Date(),
});

test('a generated CA key is an OpenSSH ed25519 private key that ssh-keygen reads, with the same public key', () => {
  const text = newEd25519PrivateKey('lifeboat-host-ca');
  const file = caFile('generated_ca', text);
  const ca = new SshHostCa(parseEd25519PrivateKey(text), 'generated');
  assert.equal(run('ssh-keygen', ['-y', '-f', file]).trim().split(' ').slice(0, 2).join(' '), ca.publicKey);
  assert.equal(run('ssh-keygen', ['-lf', file]).split(' ')[1], ca.fingerprint);
  assert.match(ca.knownHostsLine, /^@cert-authority \* ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]+=* lifeboat-host-ca$/);
});

test('certificates of every host key type read back with ssh-keygen -L: host type, principals, validity, serial, key id, signing CA', () => {
  const text = newEd25519PrivateKey('lifeboat-host-ca');
  const ca = new SshHostCa(parseEd25519PrivateKey(text), 'generated');
  const validAfter = new Date('2030-01-02T03:04:00Z');
  const validBefore = new Date('2030-01-03T03:04:00Z');
  for (const type of ['ed25519', 'ecdsa', 'rsa'] as const) {
    const key = hostKey(type);
    const certificate = signHostCertificate(parseEd25519PrivateKey(text), {
      publicKey: key.line, principals: ['web-1', '192.0.2.10'], validAfter, validBefore, serial: 1234567890123n, keyId: `lifeboat server=web-1 session=s1 key=${type}`,
    });
    const certFile = `${key.file}-cert.pub`;
    writeFileSync(certFile, `${certificate}\n`);
    const shown = run('ssh-keygen', ['-L', '-f', certFile]);
    const keyType = { ed25519: 'ssh-ed25519', ecdsa: 'ecdsa-sha2-nistp256', rsa: 'ssh-rsa' }[type];
    assert.match(shown, new RegExp(`Type: ${keyType}-cert-v01@openssh.com host certificate`));
    assert.match(shown, new RegExp(`Signing CA: ED25519 ${ca.fingerprint.replace(/[+/]/g, '\\$&')} \\(using ssh-ed25519\\)`));
    assert.match(shown, /Serial: 1234567890123\n/);
    assert.match(shown, new RegExp(`Key ID: "lifeboat server=web-1 session=s1 key=${type}"`));
    assert.match(shown, /Principals: \n\s+web-1\n\s+192\.0\.2\.10\n/);
    // ssh-keygen prints local time: compare with the same instants in the local zone
    const local = (d: Date): string => run('date', ['-d', `@${d.getTime() / 1000}`, '+%Y-%m-%dT%H:%M:%S']).trim();
    assert.match(shown, new RegExp(`Valid: from ${local(validAfter)} to ${local(validBefore)}`));
    assert.match(shown, /Critical Options: \(none\)\n\s+Extensions: \(none\)/);
    // The certified key is the host key.
    assert.match(shown, new RegExp(`Public key: ${keyType === 'ssh-rsa' ? 'RSA' : keyType === 'ssh-ed25519' ? 'ED25519' : 'ECDSA'}-CERT ${run('ssh-keygen', ['-lf', `${key.file}.pub`]).split(' ')[1]?.replace(/[+/]/g, '\\$&')}`));
  }
});

test('sshd -t accepts the host keys with their HostCertificate lines, and refuses a certificate of another key', () => {
  const text = newEd25519PrivateKey('lifeboat-host-ca');
  const now = Date.now();
  const keys = (['ed25519', 'ecdsa', 'rsa'] as const).map((type) => hostKey(type));
  for (const key of keys) {
    writeFileSync(`${key.file}-cert.pub`, `${signHostCertificate(parseEd25519PrivateKey(text), { publicKey: key.line, principals: ['web-1'], validAfter: new Date(now - 60_000), validBefore: new Date(now + 3_600_000), serial: 1n, keyId: 'k' })}\n`);
  }
  const config = join(dir, 'sshd_config');
  const lines = keys.flatMap((k) => [`HostKey ${k.file}`, `HostCertificate ${k.file}-cert.pub`]);
  writeFileSync(config, `${lines.join('\n')}\nUsePAM no\n`);
  execFileSync('mkdir', ['-p', '/run/sshd']);
  // sshd -t says nothing when every key and certificate loads (it reports a certificate it cannot use
  // on standard error, and still exits 0: the output is what tells).
  const check = (): { status: number | null; stderr: string } => {
    const { status, stderr } = spawnSync('/usr/sbin/sshd', ['-t', '-f', config], { encoding: 'utf8' });
    return { status, stderr };
  };
  assert.deepEqual(check(), { status: 0, stderr: '' });
  // The ed25519 key's certificate in place of the RSA key's: sshd finds no key for it.
  writeFileSync(`${keys[2]!.file}-cert.pub`, readFileSync(`${keys[0]!.file}-cert.pub`));
  writeFileSync(config, `HostKey ${keys[2]!.file}\nHostCertificate ${keys[2]!.file}-cert.pub\nUsePAM no\n`);
  assert.match(check().stderr, /No matching private key for certificate/);
});

test("an operator's key file made by ssh-keygen is used as it is; other keys are refused with CONFIG_INVALID naming the file, not the key", async () => {
  const box = new SecretBox(Buffer.alloc(32, 7));
  const store = await Store.open({ databaseUrl: `sqlite:${join(dir, 'ca.db')}`, secretBox: box, deadlines });
  try {
    const ed = join(dir, 'operator_ca');
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'provider ca', '-f', ed]);
    const ca = await loadSshHostCa({ store, keyFile: ed, hosts: '*.rescue.example.net,192.0.2.*' });
    assert.equal(ca.source, 'file');
    assert.equal(ca.publicKey, readFileSync(`${ed}.pub`, 'utf8').split(' ').slice(0, 2).join(' '));
    assert.equal(ca.knownHostsLine, `@cert-authority *.rescue.example.net,192.0.2.* ${ca.publicKey} lifeboat-host-ca`);
    assert.equal(await store.secrets.get(hostCaSecretId), undefined, 'nothing stored');

    const rsa = join(dir, 'operator_rsa');
    run('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', rsa]);
    const locked = join(dir, 'operator_locked');
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'a passphrase', '-f', locked]);
    const cases: Array<[string, RegExp]> = [
      [rsa, /must be an ed25519 key/],
      [locked, /protected by a passphrase/],
      [`${ed}.pub`, /not an OpenSSH private key/],
      [join(dir, 'missing'), /cannot read it \(ENOENT\)/],
    ];
    for (const [file, why] of cases) {
      await assert.rejects(loadSshHostCa({ store, keyFile: file }), (error: { code: string; message: string }) => {
        assert.equal(error.code, 'CONFIG_INVALID');
        assert.match(error.message, why);
        assert.ok(error.message.includes(file));
        assert.ok(!error.message.includes('AAAA') && !error.message.includes('BEGIN'), error.message);
        return true;
      });
    }
  } finally {
    await store.close();
  }
});

test('a generated CA is stored sealed once: loads of two replicas at once get the same one', async () => {
  const box = new SecretBox(Buffer.alloc(32, 9));
  const url = `sqlite:${join(dir, 'replicas.db')}`;
  const one = await Store.open({ databaseUrl: url, secretBox: box, deadlines });
  const two = await Store.open({ databaseUrl: url, secretBox: box, deadlines });
  try {
    const [a, b] = await Promise.all([loadSshHostCa({ store: one, keyFile: null }), loadSshHostCa({ store: two, keyFile: null })]);
    assert.equal(a.source, 'generated');
    assert.equal(a.publicKey, b.publicKey);
    assert.equal((await loadSshHostCa({ store: one, keyFile: null })).publicKey, a.publicKey, 'the next start reads it back');
    const row = await one.database.db.selectFrom('secrets').select('sealed').where('id', '=', hostCaSecretId).executeTakeFirstOrThrow();
    assert.match(row.sealed, /^v1:/);
    assert.ok(!row.sealed.includes('OPENSSH'), 'sealed, not in clear');
  } finally {
    await one.close();
    await two.close();
  }
});

test('principals: the server name when it is a host name and the SSH endpoint; serial and key id name the session', () => {
  assert.deepEqual(hostPrincipals(server('web-1', '192.0.2.10')), ['web-1', '192.0.2.10']);
  assert.deepEqual(hostPrincipals(server('Web-1.Example.NET', 'rescue.example.net')), ['web-1.example.net', 'rescue.example.net']);
  assert.deepEqual(hostPrincipals(server('web_1 (old)', '2001:db8::1')), ['2001:db8::1']);
  assert.deepEqual(hostPrincipals(server('web_1', null)), []);
  const ca = new SshHostCa(parseEd25519PrivateKey(newEd25519PrivateKey('c')), 'generated');
  const session = { id: 'session-1', expiresAt: new Date(Date.now() + 3_600_000) } as RescueSession;
  const key = hostKey('ed25519');
  assert.deepEqual(ca.certify(server('web_1', null), session, [{ type: 'ssh-ed25519', publicKey: key.line, fingerprint: 'SHA256:x' }], new Date()), [], 'no principal: no certificate');
  const [cert] = ca.certify(server('web-1', '192.0.2.10'), session, [{ type: 'ssh-ed25519', publicKey: key.line, fingerprint: 'SHA256:x' }], new Date());
  writeFileSync(join(dir, 'c-cert.pub'), `${cert!.certificate}\n`);
  const shown = run('ssh-keygen', ['-L', '-f', join(dir, 'c-cert.pub')]);
  assert.match(shown, new RegExp(`Serial: ${sessionSerial('session-1')}\n`));
  assert.match(shown, /Key ID: "lifeboat server=web-1 session=session-1 key=ssh-ed25519"/);
  assert.ok(sessionSerial('session-1') < 2n ** 63n);
});
