import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asText, childPath, downloadUrl } from './paths.js';

describe('explorer paths', () => {
  it('goes down and up directories', () => {
    assert.equal(childPath('/', 'etc'), '/etc');
    assert.equal(childPath('/etc/', 'ssh'), '/etc/ssh');
    assert.equal(childPath('/etc/ssh', '..'), '/etc');
    assert.equal(childPath('/etc', '..'), '/');
  });

  it('encodes the device (LVM names hold a slash) and the path in the download URL', () => {
    assert.equal(downloadUrl('web-1', 'vg0/root', '/var/log/a b'), '/v1/servers/web-1/files/vg0%2Froot/download?path=%2Fvar%2Flog%2Fa%20b');
  });

  it('shows UTF-8 without NUL as text, anything else as binary', () => {
    assert.equal(asText(new TextEncoder().encode('héllo\n')), 'héllo\n');
    assert.equal(asText(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0])), null);
    assert.equal(asText(new Uint8Array([0xff, 0xfe, 0x41])), null);
  });
});
