import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bootParamsFrom, parseKernelCommandLine } from '@lifeboat/core';
import { chainScript, localDiskScript, rescueScript } from './ipxe-scripts.js';

const params = { bootUrl: 'http://192.0.2.10:8080', serverId: 'srv_1', imageId: 'linux', bootToken: 'bt_AbC-123_x' };

describe('iPXE scripts', () => {
  it('every script is an iPXE script whose labels exist for every goto', () => {
    for (const script of [chainScript(params.bootUrl), rescueScript(params), localDiskScript()]) {
      assert.ok(script.startsWith('#!ipxe\n'));
      const labels = new Set([...script.matchAll(/^:(\S+)$/gm)].map((m) => m[1]));
      for (const [, target] of script.matchAll(/goto (\S+)/g)) assert.ok(labels.has(target), `label ${target} exists`);
    }
  });

  it('retries as configured and falls back to the local disk', () => {
    const script = rescueScript(params, { attempts: 7, delaySeconds: 9 });
    assert.match(script, /^iseq \$\{lifeboat-attempt\} 7 && goto give-up \|\|$/m);
    assert.match(script, /^sleep 9$/m);
    assert.match(script, /:give-up\n.*\nsanboot --no-describe --drive 0x80 \|\|\nexit\n$/);
  });

  it('puts no password-like or injected value into a script', () => {
    for (const bad of ['tok en', 'tok\nshell', 'a${net0/ip}', 'x;y', 'x"y', '']) {
      assert.throws(() => rescueScript({ ...params, bootToken: bad }), /cannot go into an iPXE script|non-empty/, JSON.stringify(bad));
      assert.throws(() => rescueScript({ ...params, serverId: bad }), Error, JSON.stringify(bad));
      assert.throws(() => rescueScript({ ...params, imageId: bad }), Error, JSON.stringify(bad));
    }
    assert.throws(() => chainScript('http://x/ && shell'));
  });

  it("writes a kernel command line that the agent's parser reads back", () => {
    const script = rescueScript({ ...params, serverId: 'srv_01HX-a.b', bootToken: 'bt_+/=~%@,:' });
    // iPXE passes the words after the image URL to the kernel, joined by single spaces.
    const kernel = /^kernel --name vmlinuz \S+ (.*) \|\| goto retry$/m.exec(script)?.[1];
    assert.ok(kernel, 'the kernel line');
    assert.deepEqual(bootParamsFrom(kernel), { url: params.bootUrl, serverId: 'srv_01HX-a.b', bootToken: 'bt_+/=~%@,:' });
    assert.equal(parseKernelCommandLine(kernel).get('lifeboat.rootfs'), `${params.bootUrl}/v1/images/linux/rootfs.squashfs?server=srv_01HX-a.b`);
  });
});
