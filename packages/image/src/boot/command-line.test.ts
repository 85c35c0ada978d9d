import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kernelCommandLine } from './command-line.js';

test('the kernel command line names the control plane, server, boot token and root file system, and nothing else', () => {
  assert.equal(
    kernelCommandLine({ controlPlaneUrl: 'http://10.0.2.2:8080', serverId: 'srv-1', bootToken: 'tok', rootfsUrl: 'http://10.0.2.2:8080/v1/images/abc/rootfs.squashfs' }),
    'console=ttyS0,115200 lifeboat.url=http://10.0.2.2:8080 lifeboat.server=srv-1 lifeboat.token=tok lifeboat.rootfs=http://10.0.2.2:8080/v1/images/abc/rootfs.squashfs',
  );
});

test('a value with a space, which would split into two parameters, is refused', () => {
  assert.throws(() => kernelCommandLine({ controlPlaneUrl: 'http://x', serverId: 'a b', bootToken: 't', rootfsUrl: 'http://x/r' }));
});
