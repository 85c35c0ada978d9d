import assert from 'node:assert/strict';
import { test } from 'node:test';
import { desktopAuthorizedKeyLine, profileHasDesktop } from './desktop.js';

const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIinQZW0K5uMtVu7n3Kt66PPml+16j5E9JPDAxuImZ/T';

test('the desktop key may forward to the VNC server and do nothing else', () => {
  assert.equal(
    desktopAuthorizedKeyLine(`${key} any comment`),
    `restrict,port-forwarding,permitopen="127.0.0.1:5900",command="/bin/false" ${key} lifeboat-desktop`,
  );
});

test('a desktop key that could carry options of its own is refused', () => {
  for (const bad of ['', 'ssh-ed25519', `command="sh" ${key}`, `ssh-rsa ${key.split(' ')[1]}`, 'ssh-ed25519 AAAA"x', `ssh-ed25519 AAAA,permitopen="*:*"`]) {
    assert.throws(() => desktopAuthorizedKeyLine(bad), /not an ssh-ed25519 public key/, bad);
  }
});

test('only the windows profile has a desktop', () => {
  assert.deepEqual(['linux', 'windows', null, undefined, 'other'].map(profileHasDesktop), [false, true, false, false, false]);
});
