import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LifeboatError, parseConsoleUrl, type Server } from '@lifeboat/core';
import { checkConsoleSetting, consoleDriverFor } from './console-driver.js';
import { SolEscaper, solArgs } from './ipmi-sol.js';

function server(overrides: Partial<Server>): Server {
  return {
    id: 's1',
    name: 'web-1',
    tenantId: 't1',
    macs: [],
    bmc: { driver: 'ipmi', url: 'ipmi://127.0.0.1:6230', user: 'admin', credentialsRef: 'ref' },
    sshEndpoint: null,
    console: null,
    profiles: ['linux'],
    state: 'active',
    createdAt: new Date(),
    ...overrides,
  };
}

const secret = 'Sup3r-S3cret-pw';
const secrets = { bmcPassword: async () => secret };

describe('console drivers', () => {
  it('chooses SOL for an IPMI server, TCP for a console URL, and refuses a Redfish server without one', async () => {
    assert.equal(consoleDriverFor(server({}), secrets).name, 'ipmi-sol');
    const tcp = consoleDriverFor(server({ console: 'tcp://10.0.0.5:7001' }), secrets);
    assert.equal(tcp.name, 'tcp');
    assert.equal(tcp.target, 'tcp://10.0.0.5:7001');
    await tcp.validate();
    const redfish = consoleDriverFor(server({ bmc: { driver: 'redfish', url: 'redfish://127.0.0.1:8000/redfish/v1/Systems/1', user: 'u', credentialsRef: null } }), secrets);
    await assert.rejects(redfish.validate(), (error: unknown) => error instanceof LifeboatError && error.code === 'CONSOLE_INVALID' && /console: "tcp/.test(error.message));
  });

  it('validates the BMC record SOL goes through, without I/O and without the password in a message', async () => {
    await consoleDriverFor(server({}), secrets).validate();
    const bad = consoleDriverFor(server({ bmc: { driver: 'ipmi', url: 'ipmi://admin:pw@127.0.0.1', user: 'admin', credentialsRef: 'r' } }), secrets);
    await assert.rejects(bad.validate(), (error: unknown) => error instanceof LifeboatError && error.code === 'BMC_INVALID' && !error.message.includes(secret));
  });

  it('puts the BMC password in no argv of ipmitool', () => {
    for (const command of ['activate', 'deactivate'] as const) {
      const args = solArgs({ host: '10.0.0.9', port: 623, user: 'admin', cipherSuite: 3 }, command);
      assert.ok(!args.some((arg) => arg.includes(secret)));
      assert.ok(args.includes('-E'), 'the password comes from IPMI_PASSWORD');
      assert.ok(!args.includes('-P') && !args.includes('-f'));
      assert.deepEqual(args.slice(-2), ['sol', command]);
      assert.equal(args[args.indexOf('-e') + 1], '~');
    }
  });

  it('doubles the escape character where ipmitool would read it, and only there, across chunks', () => {
    const escaper = new SolEscaper();
    assert.equal(escaper.escape(Buffer.from('~.')).toString(), '~~.', 'the start counts as after a newline');
    assert.equal(escaper.escape(Buffer.from('a~b\r')).toString(), 'a~b\r');
    assert.equal(escaper.escape(Buffer.from('~?')).toString(), '~~?', 'state carried from the previous chunk');
    assert.equal(escaper.escape(Buffer.from('x\n~~\r~')).toString(), 'x\n~~~\r~~');
    const binary = Buffer.from([0x00, 0xff, 0x7e, 0x0d, 0x7e, 0x1a]);
    assert.deepEqual([...new SolEscaper().escape(binary)], [0x00, 0xff, 0x7e, 0x0d, 0x7e, 0x7e, 0x1a]);
  });

  it('checks console URLs at registration', () => {
    assert.equal(checkConsoleSetting('tcp://127.0.0.1:7001'), 'tcp://127.0.0.1:7001');
    assert.equal(checkConsoleSetting('tcp://[::1]:7001/'), 'tcp://[::1]:7001');
    assert.deepEqual(parseConsoleUrl('tcp://[::1]:7001'), { scheme: 'tcp', host: '::1', port: 7001, url: 'tcp://[::1]:7001' });
    for (const bad of ['127.0.0.1:7001', 'telnet://h:23', 'tcp://h', 'tcp://h:0', 'tcp://u:p@h:1', 'tcp://h:1/x', 'tcp://h:70000']) {
      assert.throws(() => checkConsoleSetting(bad), (error: unknown) => error instanceof LifeboatError && error.code === 'CONSOLE_INVALID' && error.status === 400, bad);
    }
    assert.throws(() => checkConsoleSetting('tcp://u:secret@h:99999'), (error: unknown) => error instanceof Error && !error.message.includes('secret'));
    assert.throws(() => checkConsoleSetting('tcp://u:secret@h:1'), (error: unknown) => error instanceof Error && !error.message.includes('secret'));
  });
});
