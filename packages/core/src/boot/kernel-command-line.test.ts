import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LifeboatError } from '../errors.js';
import { bootParamsFrom, kernelCommandLine, parseKernelCommandLine } from './kernel-command-line.js';

describe('kernel command line: writer', () => {
  it('names the control plane, server, boot token and root file system, and nothing else', () => {
    assert.equal(
      kernelCommandLine({ controlPlaneUrl: 'http://10.0.2.2:8080', serverId: 'srv-1', bootToken: 'tok', rootfsUrl: 'http://10.0.2.2:8080/v1/images/abc/rootfs.squashfs' }),
      'console=ttyS0,115200 lifeboat.url=http://10.0.2.2:8080 lifeboat.server=srv-1 lifeboat.token=tok lifeboat.rootfs=http://10.0.2.2:8080/v1/images/abc/rootfs.squashfs',
    );
  });

  it('quotes a value with spaces instead of splitting it into two parameters', () => {
    const line = kernelCommandLine({ controlPlaneUrl: 'http://x', serverId: 'a b', bootToken: 't', rootfsUrl: 'http://x/r' });
    assert.match(line, / lifeboat\.server="a b" /);
  });

  it('refuses what the kernel cannot carry: a double quote, a newline, a $, an empty value', () => {
    for (const serverId of ['a"b', 'a\nb', '${x}', '']) {
      assert.throws(
        () => kernelCommandLine({ controlPlaneUrl: 'http://x', serverId, bootToken: 't', rootfsUrl: 'http://x/r' }),
        (e: unknown) => e instanceof LifeboatError && e.code === 'BAD_REQUEST' && e.message.includes('lifeboat.server'),
      );
    }
  });
});

describe('kernel command line: the line written for a session parses back in the agent', () => {
  const cases = [
    { controlPlaneUrl: 'http://10.0.2.2:8080', serverId: 'srv_42', bootToken: 'bt_AbC-123_x', rootfsUrl: 'http://10.0.2.2:8080/v1/images/abc/rootfs.squashfs?server=srv_42' },
    { controlPlaneUrl: 'http://[fd00::1]:8080/base path', serverId: "o'brien server", bootToken: "it's a token", rootfsUrl: 'http://h/r?a=1&b=two words' },
  ];
  for (const params of cases) {
    it(`round-trips ${params.serverId}`, () => {
      const line = `BOOT_IMAGE=vmlinuz initrd=initrd ${kernelCommandLine(params)} quiet\n`;
      assert.deepEqual(bootParamsFrom(line), { url: params.controlPlaneUrl, serverId: params.serverId, bootToken: params.bootToken });
      assert.equal(parseKernelCommandLine(line).get('lifeboat.rootfs'), params.rootfsUrl);
      assert.equal(parseKernelCommandLine(line).get('console'), 'ttyS0,115200');
    });
  }
});

describe('kernel command line: the agent\'s parser', () => {
  it('reads the control plane URL, server id and boot token from a real-looking command line', () => {
    const cmdline =
      'BOOT_IMAGE=vmlinuz console=ttyS0,115200 lifeboat.url=http://10.0.2.2:8080/ lifeboat.server=srv_42 ' +
      'lifeboat.token=bt_AbC-123_x lifeboat.rootfs=http://10.0.2.2:8080/v1/images/abc/rootfs.squashfs quiet\n';
    assert.deepEqual(bootParamsFrom(cmdline), { url: 'http://10.0.2.2:8080', serverId: 'srv_42', bootToken: 'bt_AbC-123_x' });
  });

  it('splits words like the kernel: quotes group spaces, bare words have empty values', () => {
    const params = parseKernelCommandLine('ro quiet motd="hello world" a=b=c  x="y"');
    assert.equal(params.get('ro'), '');
    assert.equal(params.get('motd'), 'hello world');
    assert.equal(params.get('a'), 'b=c');
    assert.equal(params.get('x'), 'y');
  });

  it('names the missing parameters without echoing any value', () => {
    assert.throws(
      () => bootParamsFrom('console=ttyS0 lifeboat.token=secret-token-value'),
      (e: unknown) => e instanceof LifeboatError && e.code === 'BOOT_PARAMS_MISSING' &&
        e.message.includes('lifeboat.url') && e.message.includes('lifeboat.server') && !e.message.includes('secret-token-value'),
    );
  });

  it('refuses a URL that is not http(s)', () => {
    assert.throws(() => bootParamsFrom('lifeboat.url=ftp://x lifeboat.server=s lifeboat.token=t'), (e: unknown) => e instanceof LifeboatError && e.code === 'BOOT_PARAMS_MISSING');
  });
});
