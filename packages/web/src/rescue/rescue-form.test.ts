import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { enterRescueBody } from './enter-rescue-body.js';
import { sshCommand } from './ssh-command.js';

describe('enter rescue form', () => {
  it('sends only the fields filled in, one key per non-empty, non-comment line', () => {
    assert.deepEqual(enterRescueBody({ profile: '', keys: '\n  \n', email: ' ', lease: '' }), {});
    assert.deepEqual(
      enterRescueBody({ profile: 'linux', keys: 'ssh-ed25519 AAAA a@b\n# old key\n\n  ssh-rsa BBBB c@d  \n', email: ' me@example.com ', lease: '4h' }),
      { profile: 'linux', sshKeys: ['ssh-ed25519 AAAA a@b', 'ssh-rsa BBBB c@d'], email: 'me@example.com', expiresIn: '4h' },
    );
  });

  it('names the keys chosen from the key store beside the pasted ones', () => {
    assert.deepEqual(enterRescueBody({ profile: '', keys: '', keyNames: [], email: '', lease: '' }), {});
    assert.deepEqual(enterRescueBody({ profile: '', keys: 'ssh-ed25519 AAAA a@b', keyNames: ['laptop', 'desk'], email: '', lease: '' }), {
      sshKeys: ['ssh-ed25519 AAAA a@b'],
      keys: ['laptop', 'desk'],
    });
  });
});

describe('ssh command', () => {
  const ssh = { host: '203.0.113.7', port: 22, user: 'root', hostKeyFingerprints: [], knownHosts: [] };
  it('leaves out port 22 and names another port', () => {
    assert.equal(sshCommand(ssh), 'ssh root@203.0.113.7');
    assert.equal(sshCommand({ ...ssh, port: 2222 }), 'ssh -p 2222 root@203.0.113.7');
    assert.equal(sshCommand({ ...ssh, host: null }), null);
  });
});
