/**
 * The redfish driver against the lab's Redfish service (`@lifeboat/lab`), fronting a real `ServerVm`
 * whose QEMU is not running: a powered-off machine. What needs the VM to start (power on, cycle) is
 * exercised by the end-to-end rescue tests on lab servers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRedfishService, ServerVm } from '@lifeboat/lab';
import { createPowerDriver } from '../../src/drivers/power/index.js';
import type { PowerDriver } from '../../src/drivers/power/power-driver.js';

describe('redfish driver against the lab Redfish service', () => {
  let dir: string;
  let server: Server;
  let port: number;
  let driver: PowerDriver;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-redfish-lab-'));
    const systems = new Map([['web1', { id: 'web1', uuid: '11111111-2222-4333-8444-555555555555', mac: '52:54:00:1b:00:01', machine: new ServerVm(dir, 1) }]]);
    server = createServer(createRedfishService({ systems, user: 'lab', password: 'lab-Secret-7' }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    driver = createPowerDriver({ driver: 'redfish', url: `redfish://127.0.0.1:${port}/redfish/v1/Systems/web1`, user: 'lab', password: 'lab-Secret-7' });
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the power state through a session', async () => {
    driver.validate();
    assert.equal(await driver.powerState(), 'off');
  });

  it('sets the boot device the VM starts from', async () => {
    await driver.setBootDevice('disk', { persistent: true });
    assert.equal(readFileSync(join(dir, 'boot-device'), 'utf8').trim(), 'disk');
    await driver.setBootDevice('network');
    assert.equal(readFileSync(join(dir, 'boot-device'), 'utf8').trim(), 'network');
  });

  it('sends soft-off and off to a machine that is off', async () => {
    await driver.setPower('soft');
    await driver.setPower('off');
    assert.equal(await driver.powerState(), 'off');
  });

  it('maps a wrong password and an unknown system to stable codes', async () => {
    const wrong = createPowerDriver({ driver: 'redfish', url: `redfish://127.0.0.1:${port}/redfish/v1/Systems/web1`, user: 'lab', password: 'nope' });
    await assert.rejects(wrong.powerState(), { code: 'BMC_AUTH_FAILED' });
    const basic = createPowerDriver({ driver: 'redfish', url: `redfish://127.0.0.1:${port}/redfish/v1/Systems/web1`, user: 'lab', password: 'nope' }, { redfish: { auth: 'basic' } });
    await assert.rejects(basic.powerState(), { code: 'BMC_AUTH_FAILED' });
    const missing = createPowerDriver({ driver: 'redfish', url: `redfish://127.0.0.1:${port}/redfish/v1/Systems/db9`, user: 'lab', password: 'lab-Secret-7' });
    await assert.rejects(missing.powerState(), { code: 'BMC_INVALID' });
  });
});
