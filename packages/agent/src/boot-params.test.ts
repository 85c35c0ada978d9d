import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BootParamsError, bootParamsFrom, parseCmdline } from './boot-params.js';

test('reads the control plane URL, server id and boot token from a real-looking command line', () => {
  const cmdline =
    'BOOT_IMAGE=vmlinuz console=ttyS0,115200 lifeboat.url=http://10.0.2.2:8080/ lifeboat.server=srv_42 ' +
    'lifeboat.token=bt_AbC-123_x lifeboat.rootfs=http://10.0.2.2:8080/v1/images/abc/rootfs.squashfs quiet\n';
  assert.deepEqual(bootParamsFrom(cmdline), { url: 'http://10.0.2.2:8080', serverId: 'srv_42', bootToken: 'bt_AbC-123_x' });
});

test('splits words like the kernel: quotes group spaces, bare words have empty values', () => {
  const params = parseCmdline('ro quiet motd="hello world" a=b=c  x="y"');
  assert.equal(params.get('ro'), '');
  assert.equal(params.get('motd'), 'hello world');
  assert.equal(params.get('a'), 'b=c');
  assert.equal(params.get('x'), 'y');
});

test('names the missing parameters without echoing any value', () => {
  assert.throws(
    () => bootParamsFrom('console=ttyS0 lifeboat.token=secret-token-value'),
    (e: unknown) => e instanceof BootParamsError && e.code === 'BOOT_PARAMS_MISSING' &&
      e.message.includes('lifeboat.url') && e.message.includes('lifeboat.server') && !e.message.includes('secret-token-value'),
  );
});

test('refuses a URL that is not http(s)', () => {
  assert.throws(() => bootParamsFrom('lifeboat.url=ftp://x lifeboat.server=s lifeboat.token=t'), BootParamsError);
});
