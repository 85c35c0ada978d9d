/**
 * The test control plane and the test BMC are what they claim: the control plane's entry point as a
 * child process (found by its bin name), and a Redfish BMC whose machine netboots from the control
 * plane's iPXE script when the control plane powers it on for a rescue.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { controlPlaneProgram } from './control-plane-program.js';
import { api, startControlPlaneProcess, type ControlPlaneProcess } from './control-plane-process.js';
import { playAgent } from './played-agent.js';
import { freePort } from './ports.js';
import { RecordingMachine, startTestBmc, type TestBmc } from './test-bmc.js';
import { waitFor } from './wait.js';

it('the control plane program is the bin npm linked, with its manifest\'s Node.js options', () => {
  const program = controlPlaneProgram();
  assert.match(program.file, /packages\/control-plane\/bin\/lifeboat-control-plane\.mjs$/);
  assert.deepEqual(program.nodeOptions, ['--max-semi-space-size=4']);
});

describe('a rescue through the test BMC', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-test-bmc-'));
  const mac = '52:54:00:5e:00:01';
  const machine = new RecordingMachine();
  let plane: ControlPlaneProcess;
  let bmc: TestBmc;
  let admin: string;

  before(async () => {
    plane = await startControlPlaneProcess({ dataDir: join(dir, 'data'), port: await freePort(), flags: ['--exit-agent-timeout', '1s'] });
    assert.equal(plane.child.spawnargs.includes(controlPlaneProgram().file), true, 'the entry point, in a child process');
    bmc = await startTestBmc({ controlPlaneUrl: plane.url, mac, machine });
    admin = plane.adminToken();
    assert.equal((await api(plane.url, admin, 'POST', '/v1/tenants', { name: 'acme' })).status, 201);
    assert.equal((await api(plane.url, admin, 'POST', '/v1/servers', { name: 'web-1', tenant: 'acme', macs: [mac], bmc: bmc.record })).status, 201);
  });
  after(async () => {
    await plane?.stop();
    await bmc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is a Redfish BMC the control plane validates, and it refuses a wrong password', async () => {
    assert.match(bmc.record.url, /^redfish:\/\/127\.0\.0\.1:\d+\/redfish\/v1\/Systems\/test-1$/);
    const valid = await api(plane.url, admin, 'POST', '/v1/servers/web-1/validate');
    assert.deepEqual([valid.status, valid.body.driver, valid.body.reachable, valid.body.powerState], [200, 'redfish', true, 'off']);
    const right = bmc.record.password;
    bmc.setPassword('not-the-registered-one');
    try {
      const refused = await api(plane.url, admin, 'POST', '/v1/servers/web-1/validate');
      assert.notEqual(refused.status, 200, JSON.stringify(refused.body));
    } finally {
      bmc.setPassword(right);
    }
  });

  it('enter: the BMC sets the network boot and powers on; the machine boots with the iPXE script\'s parameters; exit: disk and a power cycle', async () => {
    const entered = await api(plane.url, admin, 'POST', '/v1/servers/web-1/rescue', {});
    assert.equal(entered.status, 202, JSON.stringify(entered.body));
    const boot = await waitFor('the rescue boot', () => machine.boots[0], 30_000);
    const server = await api(plane.url, admin, 'GET', '/v1/servers/web-1');
    assert.equal(boot.serverId, server.body.id);
    assert.equal(boot.url, plane.url.replace('127.0.0.1', '10.0.2.2'), 'the boot URL as a VM reaches it');
    assert.deepEqual(bmc.actions, ['boot device network', 'power on: rescue']);
    // The same address asks again (as the played agent does): the same boot, redeemed once.
    const agent = await playAgent(plane.url, mac);
    assert.equal(agent.serverId, boot.serverId);
    await waitFor('rescue', async () => (await api(plane.url, admin, 'GET', '/v1/servers/web-1')).body.state === 'rescue');
    assert.equal((await api(plane.url, admin, 'POST', '/v1/servers/web-1/rescue/exit', {})).status, 202);
    await waitFor('active', async () => (await api(plane.url, admin, 'GET', '/v1/servers/web-1')).body.state === 'active', 60_000);
    assert.deepEqual(bmc.actions.slice(2), ['boot device disk', 'power off', 'power on: disk']);
    assert.equal(machine.poweredOn, false, 'no installed system: it stays off');
  });
});
