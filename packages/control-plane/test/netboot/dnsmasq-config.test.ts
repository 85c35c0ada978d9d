import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { dnsmasqConfig } from '@lifeboat/core';

describe('dnsmasq configuration for proxy DHCP + iPXE chainload', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-dnsmasq-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  function dnsmasqTest(text: string): { status: number | null; output: string } {
    const file = join(dir, 'lifeboat.conf');
    writeFileSync(file, text);
    const run = spawnSync('dnsmasq', ['--test', `--conf-file=${file}`], { encoding: 'utf8' });
    return { status: run.status, output: `${run.stdout}${run.stderr}` };
  }

  it('is accepted by dnsmasq --test', () => {
    const text = dnsmasqConfig({ bootUrl: 'http://192.0.2.10:8080/', interface: 'eth1', range: '192.0.2.0/24' });
    const { status, output } = dnsmasqTest(text);
    assert.equal(status, 0, output);
    assert.match(output, /syntax check OK/);
    assert.match(text, /^dhcp-range=192\.0\.2\.0,proxy,255\.255\.255\.0$/m);
    assert.match(text, /^interface=eth1$/m);
    assert.match(text, /^port=0$/m);
    assert.match(text, /^pxe-service=tag:!ipxe,x86PC,"iPXE \(BIOS\)",undionly\.kpxe$/m);
    assert.match(text, /^dhcp-boot=tag:ipxe,http:\/\/192\.0\.2\.10:8080\/boot\.ipxe$/m);
  });

  it('takes other prefixes and a TFTP root', () => {
    const text = dnsmasqConfig({ bootUrl: 'https://lifeboat.example:8443', interface: 'br0', range: '10.20.0.0/16', tftpRoot: '/srv/tftp' });
    assert.equal(dnsmasqTest(text).status, 0);
    assert.match(text, /^dhcp-range=10\.20\.0\.0,proxy,255\.255\.0\.0$/m);
    assert.match(text, /^tftp-root=\/srv\/tftp$/m);
  });

  it('refuses values that would break the file (and dnsmasq agrees they would)', () => {
    assert.throws(() => dnsmasqConfig({ bootUrl: 'http://x:1', interface: 'eth0\nport=53', range: '192.0.2.0/24' }), { code: 'BAD_REQUEST' });
    assert.throws(() => dnsmasqConfig({ bootUrl: 'http://x:1', interface: 'eth0', range: '192.0.2.0/33' }), { code: 'BAD_REQUEST' });
    assert.throws(() => dnsmasqConfig({ bootUrl: 'tftp://x', interface: 'eth0', range: '192.0.2.0' }), { code: 'BAD_REQUEST' });
    assert.throws(() => dnsmasqConfig({ bootUrl: 'http://x:1/a,b', interface: 'eth0', range: '192.0.2.0' }), { code: 'BAD_REQUEST' });
    assert.notEqual(dnsmasqTest('dhcp-range=192.0.2.0,proxy,255.255.255.0\nno-such-option=1\n').status, 0);
  });
});
