import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { sshdConfig } from './sshd-config.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-sshd-'));
after(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'etc/ssh'), { recursive: true });
execFileSync('ssh-keygen', ['-A', '-f', dir]);
mkdirSync('/run/sshd', { recursive: true });
const hostKeyFiles = ['ed25519', 'rsa'].map((t) => join(dir, `etc/ssh/ssh_host_${t}_key`));

/** What sshd itself makes of a config file (`sshd -T`: the effective settings). */
function effective(text: string): Map<string, string> {
  const file = join(dir, 'sshd_config');
  writeFileSync(file, text);
  const r = spawnSync('/usr/sbin/sshd', ['-T', '-f', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return new Map(r.stdout.split('\n').map((l) => [l.split(' ')[0] ?? '', l.slice(l.indexOf(' ') + 1)]));
}

test('password session: sshd accepts the config and allows root with a password', () => {
  const settings = effective(sshdConfig({ passwordLogin: true, hostKeyFiles }));
  assert.equal(settings.get('permitrootlogin'), 'yes');
  assert.equal(settings.get('passwordauthentication'), 'yes');
  assert.equal(settings.get('usepam'), 'no');
  assert.equal(settings.get('port'), '22');
});

test('key session: root by key only, password login off', () => {
  const settings = effective(sshdConfig({ passwordLogin: false, hostKeyFiles, port: 2222 }));
  assert.equal(settings.get('permitrootlogin'), 'without-password');
  assert.equal(settings.get('passwordauthentication'), 'no');
  assert.equal(settings.get('kbdinteractiveauthentication'), 'no');
  assert.equal(settings.get('port'), '2222');
  assert.deepEqual([...sshdConfig({ passwordLogin: false, hostKeyFiles }).matchAll(/^HostKey (.*)$/gm)].map((m) => m[1]), hostKeyFiles);
});

test('host certificates: a HostCertificate line beside each key, and sshd -t loads them without a word', () => {
  const ca = join(dir, 'ca');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', ca]);
  for (const key of hostKeyFiles) execFileSync('ssh-keygen', ['-q', '-s', ca, '-h', '-I', 'test', '-n', 'web-1', `${key}.pub`]);
  const hostCertificateFiles = hostKeyFiles.map((k) => `${k}-cert.pub`);
  const text = sshdConfig({ passwordLogin: false, hostKeyFiles, hostCertificateFiles });
  assert.deepEqual([...text.matchAll(/^HostCertificate (.*)$/gm)].map((m) => m[1]), hostCertificateFiles);
  const file = join(dir, 'sshd_config');
  writeFileSync(file, text);
  const r = spawnSync('/usr/sbin/sshd', ['-t', '-f', file], { encoding: 'utf8' });
  assert.deepEqual([r.status, r.stderr], [0, '']);
  const settings = spawnSync('/usr/sbin/sshd', ['-T', '-f', file], { encoding: 'utf8' }).stdout;
  assert.deepEqual([...settings.matchAll(/^hostcertificate (.*)$/gm)].map((m) => m[1]), hostCertificateFiles);
});

test('a rescue with a desktop: sshd forwards X11 (ssh -X), others do not', () => {
  assert.equal(effective(sshdConfig({ passwordLogin: false, hostKeyFiles })).get('x11forwarding'), 'no');
  const settings = effective(sshdConfig({ passwordLogin: false, hostKeyFiles, x11Forwarding: true }));
  assert.equal(settings.get('x11forwarding'), 'yes');
  assert.equal(settings.get('x11uselocalhost'), 'yes');
  assert.equal(settings.get('allowtcpforwarding'), 'yes', 'the VNC tunnel (ssh -L 5900:127.0.0.1:5900) needs local forwarding');
});
