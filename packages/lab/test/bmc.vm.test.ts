// The lab's BMCs drive real VMs: ipmitool (IPMI over RMCP+ to ipmi_sim) and DMTF's redfishtool and
// python3-sushy (to the lab's Redfish service) change the QEMU process and what its firmware does.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { serverDir } from '../src/lab-state.js';
import { qmp } from '../src/vm/qmp.mjs';
import { ServerVm } from '../src/vm/server-vm.js';
import { cleanUpLab, eventually, firstServer, ipmitool, lab, processesMentioning, redfishtool, startBootServer, useTempLab } from './lab-fixture.js';
import type { BootServer } from './lab-fixture.js';

const run = promisify(execFile);
let dir: string;
let boot: BootServer;
let vm: ServerVm;
let qmpSocket: string;

before(async () => {
  // iPXE fetches this script at every boot, then waits at its shell: one fetch = one boot.
  boot = await startBootServer('#!ipxe\necho lifeboat lab test boot\nshell\n');
  dir = useTempLab();
  await lab('up', '--blank', '--off', '--boot-url', boot.guestUrl);
  vm = new ServerVm(serverDir(dir, 'lab-1'), 1);
  qmpSocket = join(serverDir(dir, 'lab-1'), 'qmp.sock');
});

after(async () => {
  await cleanUpLab(dir);
  await boot.close();
});

const bootindex = async (id: string) => qmp(qmpSocket, 'qom-get', { path: `/machine/peripheral/${id}`, property: 'bootindex' });

test('ipmitool power on/status/reset/cycle/off act on the VM for real', async () => {
  const server = firstServer(dir);
  assert.equal(await ipmitool(server, 'chassis', 'power', 'status'), 'Chassis Power is off');
  assert.equal(vm.pid(), undefined);

  await ipmitool(server, 'chassis', 'power', 'on');
  const firstPid = vm.pid();
  assert.ok(firstPid, 'power on started QEMU');
  assert.equal(await vm.runState(), 'running');
  assert.equal(await ipmitool(server, 'chassis', 'power', 'status'), 'Chassis Power is on');
  await eventually('iPXE fetched the boot script after power on', () => boot.fetches() >= 1, 60_000);
  const serial = readFileSync(server.serialLog, 'utf8');
  assert.match(serial, /SeaBIOS/, 'the serial log holds the firmware from the first byte');
  assert.ok(serial.includes(`Filename: ${boot.guestUrl}`), 'iPXE got the boot URL from DHCP');
  assert.match(serial, /net0: 52:54:00:1b:00:01/);

  const before = boot.fetches();
  await ipmitool(server, 'chassis', 'power', 'reset');
  await eventually('iPXE fetched the boot script again after reset', () => boot.fetches() > before, 60_000);
  assert.equal(vm.pid(), firstPid, 'a reset keeps the same QEMU process');

  await ipmitool(server, 'chassis', 'power', 'cycle');
  await eventually('a new QEMU process after power cycle', () => vm.pid() !== undefined && vm.pid() !== firstPid, 30_000);

  await ipmitool(server, 'chassis', 'power', 'off');
  assert.equal(vm.pid(), undefined, 'power off ended QEMU');
  assert.equal(await ipmitool(server, 'chassis', 'power', 'status'), 'Chassis Power is off');
});

test('ipmitool chassis bootdev disk|pxe is stored and applied to the running VM', async () => {
  const server = firstServer(dir);
  await ipmitool(server, 'chassis', 'bootdev', 'disk');
  assert.equal(firstServer(dir).bootDevice, 'disk');
  await ipmitool(server, 'chassis', 'power', 'on');
  assert.equal(await bootindex('disk0'), 1, 'powered on with the disk first');
  assert.equal(await bootindex('nic0'), 9);
  await ipmitool(server, 'chassis', 'bootdev', 'pxe');
  assert.equal(firstServer(dir).bootDevice, 'network');
  assert.equal(await bootindex('nic0'), 1, 'the next reset boots the network first');
  assert.equal(await bootindex('disk0'), 2);
  const soft = await ipmitool(server, 'chassis', 'power', 'soft');
  assert.match(soft, /Soft/);
  await ipmitool(server, 'chassis', 'power', 'off');
  assert.equal(vm.pid(), undefined);
});

test('redfishtool: On, ForceRestart, PowerCycle, ForceOff and boot override change the VM', async () => {
  const server = firstServer(dir);
  const system = ['Systems', '-I', 'lab-1'];
  await redfishtool(server, ...system, 'reset', 'On');
  const pid = vm.pid();
  assert.ok(pid, 'On started QEMU');
  assert.equal(JSON.parse(await redfishtool(server, ...system)).PowerState, 'On');

  const before = boot.fetches();
  await redfishtool(server, ...system, 'reset', 'ForceRestart');
  await eventually('iPXE fetched the boot script after ForceRestart', () => boot.fetches() > before, 60_000);
  assert.equal(vm.pid(), pid);

  await redfishtool(server, ...system, 'reset', 'PowerCycle');
  assert.ok(vm.pid() !== undefined && vm.pid() !== pid, 'PowerCycle started a new QEMU process');

  await redfishtool(server, ...system, 'setBootOverride', 'Continuous', 'Hdd');
  assert.equal(await bootindex('disk0'), 1);
  assert.equal(JSON.parse(await redfishtool(server, ...system)).Boot.BootSourceOverrideTarget, 'Hdd');
  await redfishtool(server, ...system, 'setBootOverride', 'Continuous', 'Pxe');
  assert.equal(await bootindex('nic0'), 1);

  await redfishtool(server, '-A', 'Basic', ...system, 'reset', 'ForceOff');
  assert.equal(vm.pid(), undefined, 'ForceOff ended QEMU');
  assert.equal(JSON.parse(await redfishtool(server, ...system)).PowerState, 'Off');
});

test('python3-sushy (OpenStack Ironic\'s Redfish library) reads and drives the system, with session and Basic auth', async () => {
  const server = firstServer(dir);
  const script = `
import os, sushy
url, user, password = os.environ['RF_ROOT'], os.environ['RF_USER'], os.environ['RF_PASSWORD']
for auth in (sushy.auth.SessionAuth(user, password), sushy.auth.BasicAuth(user, password)):
    root = sushy.Sushy(url, auth=auth)
    members = [m.identity for m in root.get_system_collection().get_members()]
    assert members == ['lab-1'], members
    system = root.get_system('/redfish/v1/Systems/lab-1')
    assert sushy.ResetType.FORCE_OFF in system.get_allowed_reset_system_values()
    assert os.environ['RF_MAC'] in system.ethernet_interfaces.summary, system.ethernet_interfaces.summary
    system.reset_system(sushy.RESET_ON)
    system.refresh()
    assert system.power_state == sushy.POWER_STATE_ON, system.power_state
    system.set_system_boot_options(sushy.BOOT_SOURCE_TARGET_HDD, enabled=sushy.BOOT_SOURCE_ENABLED_CONTINUOUS)
    system.refresh()
    assert system.boot.target == sushy.BOOT_SOURCE_TARGET_HDD, system.boot.target
    system.set_system_boot_options(sushy.BOOT_SOURCE_TARGET_PXE, enabled=sushy.BOOT_SOURCE_ENABLED_ONCE)
    system.refresh()
    assert system.boot.target == sushy.BOOT_SOURCE_TARGET_PXE and system.boot.enabled == sushy.BOOT_SOURCE_ENABLED_ONCE
    system.reset_system(sushy.RESET_FORCE_OFF)
    system.refresh()
    assert system.power_state == sushy.POWER_STATE_OFF, system.power_state
print('sushy ok')
`;
  const rfRoot = new URL('/redfish/v1', server.redfish.url).toString();
  // Debian's python3-sushy lives in the system interpreter's dist-packages.
  const { stdout } = await run('/usr/bin/python3', ['-c', script], {
    env: { ...process.env, RF_ROOT: rfRoot, RF_USER: server.redfish.user, RF_PASSWORD: server.redfish.password, RF_MAC: server.mac },
    timeout: 120_000,
  });
  assert.match(stdout, /sushy ok/);
  assert.equal(vm.pid(), undefined);
});

test('lab down stops every process of the lab', async () => {
  await ipmitool(firstServer(dir), 'chassis', 'power', 'on');
  assert.ok(vm.pid());
  assert.ok(processesMentioning(dir).length >= 3, 'QEMU, ipmi_sim and the Redfish service run');
  await lab('down');
  assert.deepEqual(processesMentioning(dir), []);
  assert.equal(firstServer(dir).state, 'off');
});
