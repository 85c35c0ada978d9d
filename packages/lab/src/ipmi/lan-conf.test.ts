import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bmcEmu, lanConf, shellWord } from './lan-conf.js';

const spec = {
  name: 'lab-1',
  port: 6230,
  user: 'lab',
  password: 'Secret-pw_1.x',
  chassisControl: `${shellWord('/opt/lab dir/chassis-control.sh')} ${shellWord('/lab/servers/lab-1')}`,
  guid: '0123456789abcdef0123456789abcdef',
};

test('lan.conf serves RMCP+ on loopback with the lab user as administrator and our chassis control', () => {
  const conf = lanConf(spec);
  assert.match(conf, /^\s*addr 127\.0\.0\.1 6230$/m);
  assert.match(conf, /^\s*user 2 true "lab" "Secret-pw_1\.x" admin 10 none md2 md5 straight$/m);
  assert.match(conf, /^\s*chassis_control "'\/opt\/lab dir\/chassis-control\.sh' '\/lab\/servers\/lab-1'"$/m);
  assert.match(conf, /^\s*guid 0123456789abcdef0123456789abcdef$/m);
  assert.match(conf, /^\s*startlan 1$/m);
  assert.match(conf, /^\s*endlan$/m);
  assert.doesNotMatch(conf, /startcmd/, 'with chassis_control, ipmi_sim ignores startcmd: none is written');
  assert.doesNotMatch(conf, /^\s*sol /m, 'no Serial-over-LAN without a serial port');
});

test("lan.conf wires Serial-over-LAN to the server's serial port on loopback TCP", () => {
  const conf = lanConf({ ...spec, solPort: 7001 });
  assert.match(conf, /^\s*sol "tcp:127\.0\.0\.1:7001" 115200$/m);
  assert.throws(() => lanConf({ ...spec, solPort: 0 }), /SOL port/);
});

test('lan.conf refuses values its quoted strings cannot hold', () => {
  assert.throws(() => lanConf({ ...spec, password: 'has"quote' }), /password/);
  assert.throws(() => lanConf({ ...spec, password: 'x'.repeat(21) }), /password/);
  assert.throws(() => lanConf({ ...spec, user: '' }), /user/);
  assert.throws(() => lanConf({ ...spec, chassisControl: 'a"b' }), /chassis control/);
  assert.throws(() => lanConf({ ...spec, guid: 'xyz' }), /GUID/);
  assert.throws(() => lanConf({ ...spec, port: 70000 }), /port/);
});

test('the command file declares and enables one BMC at 0x20', () => {
  const emu = bmcEmu();
  assert.match(emu, /^mc_setbmc 0x20$/m);
  assert.match(emu, /^mc_add 0x20 /m);
  assert.match(emu, /^mc_enable 0x20$/m);
});

test('shell words survive single quotes', () => {
  assert.equal(shellWord("it's"), `'it'\\''s'`);
});
