import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ServerVm } from '../vm/server-vm.js';
import { createRedfishService } from './service.js';

// A real ServerVm over a directory where no QEMU runs: a powered-off machine. Power-on paths are
// exercised against real VMs in test/bmc.vm.test.ts.
let dir: string;
let server: Server;
let base: string;
const basic = `Basic ${Buffer.from('lab:pw-123').toString('base64')}`;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lifeboat-redfish-'));
  const systems = new Map([['lab-1', { id: 'lab-1', uuid: '11111111-2222-4333-8444-555555555555', mac: '52:54:00:1b:00:01', machine: new ServerVm(dir, 1) }]]);
  server = createServer(createRedfishService({ systems, user: 'lab', password: 'pw-123' }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call(path: string, init: RequestInit = {}) {
  const response = await fetch(base + path, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, any>) : undefined };
}

test('the service root and version document are public and link Systems and Sessions', async () => {
  const version = await call('/redfish');
  assert.deepEqual(version.body, { v1: '/redfish/v1/' });
  const root = await call('/redfish/v1/');
  assert.equal(root.status, 200);
  assert.equal(root.headers.get('odata-version'), '4.0');
  assert.equal(root.body?.['@odata.id'], '/redfish/v1');
  assert.match(root.body?.['@odata.type'], /^#ServiceRoot\.v1_\d+_\d+\.ServiceRoot$/);
  assert.deepEqual(root.body?.Systems, { '@odata.id': '/redfish/v1/Systems' });
  assert.deepEqual(root.body?.Links?.Sessions, { '@odata.id': '/redfish/v1/SessionService/Sessions' });
});

test('Systems needs credentials: 401 with a Basic challenge and a Redfish error body', async () => {
  const denied = await call('/redfish/v1/Systems');
  assert.equal(denied.status, 401);
  assert.match(denied.headers.get('www-authenticate') ?? '', /^Basic /);
  assert.equal(denied.body?.error?.['@Message.ExtendedInfo']?.[0]?.MessageId, 'Base.1.8.NoValidSession');
  const wrong = await call('/redfish/v1/Systems', { headers: { Authorization: `Basic ${Buffer.from('lab:nope').toString('base64')}` } });
  assert.equal(wrong.status, 401);
});

test('with Basic auth, the collection and the system show power state, boot override and Reset', async () => {
  const collection = await call('/redfish/v1/Systems', { headers: { Authorization: basic } });
  assert.equal(collection.body?.['Members@odata.count'], 1);
  assert.deepEqual(collection.body?.Members, [{ '@odata.id': '/redfish/v1/Systems/lab-1' }]);
  const system = await call('/redfish/v1/Systems/lab-1', { headers: { Authorization: basic } });
  assert.equal(system.status, 200);
  assert.equal(system.body?.['@odata.id'], '/redfish/v1/Systems/lab-1');
  assert.match(system.body?.['@odata.type'], /^#ComputerSystem\.v1_\d+_\d+\.ComputerSystem$/);
  assert.equal(system.body?.PowerState, 'Off');
  assert.equal(system.body?.Boot?.BootSourceOverrideTarget, 'Pxe');
  const reset = system.body?.Actions?.['#ComputerSystem.Reset'];
  assert.equal(reset?.target, '/redfish/v1/Systems/lab-1/Actions/ComputerSystem.Reset');
  for (const type of ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'PowerCycle']) {
    assert.ok(reset?.['ResetType@Redfish.AllowableValues'].includes(type), type);
  }
  assert.equal((await call('/redfish/v1/Systems/lab-9', { headers: { Authorization: basic } })).status, 404);
});

test('the system lists its netboot NIC with its MAC', async () => {
  const system = await call('/redfish/v1/Systems/lab-1', { headers: { Authorization: basic } });
  const nics = await call(system.body?.EthernetInterfaces?.['@odata.id'], { headers: { Authorization: basic } });
  assert.equal(nics.body?.['Members@odata.count'], 1);
  const nic = await call(nics.body?.Members?.[0]?.['@odata.id'], { headers: { Authorization: basic } });
  assert.equal(nic.body?.MACAddress, '52:54:00:1b:00:01');
  assert.match(nic.body?.['@odata.type'], /^#EthernetInterface\.v1_\d+_\d+\.EthernetInterface$/);
});

test('a session: POST gives X-Auth-Token and Location, the token authenticates, DELETE ends it', async () => {
  const bad = await call('/redfish/v1/SessionService/Sessions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ UserName: 'lab', Password: 'wrong' }),
  });
  assert.equal(bad.status, 401);
  const created = await call('/redfish/v1/SessionService/Sessions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ UserName: 'lab', Password: 'pw-123' }),
  });
  assert.equal(created.status, 201);
  const token = created.headers.get('x-auth-token');
  const location = created.headers.get('location');
  assert.ok(token);
  assert.equal(location, created.body?.['@odata.id']);
  assert.equal((await call('/redfish/v1/Systems/lab-1', { headers: { 'X-Auth-Token': token } })).status, 200);
  const list = await call('/redfish/v1/SessionService/Sessions', { headers: { 'X-Auth-Token': token } });
  assert.equal(list.body?.['Members@odata.count'], 1);
  assert.equal((await call(location!, { method: 'DELETE', headers: { 'X-Auth-Token': token } })).status, 204);
  assert.equal((await call('/redfish/v1/Systems/lab-1', { headers: { 'X-Auth-Token': token } })).status, 401);
});

test('PATCH Boot stores the boot device that the VM starts from', async () => {
  const patch = (Boot: unknown) =>
    call('/redfish/v1/Systems/lab-1', { method: 'PATCH', headers: { Authorization: basic, 'Content-Type': 'application/json' }, body: JSON.stringify({ Boot }) });
  const hdd = await patch({ BootSourceOverrideTarget: 'Hdd', BootSourceOverrideEnabled: 'Continuous' });
  assert.equal(hdd.status, 200);
  assert.equal(hdd.body?.Boot?.BootSourceOverrideTarget, 'Hdd');
  assert.equal(readFileSync(join(dir, 'boot-device'), 'utf8').trim(), 'disk');
  const pxe = await patch({ BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once' });
  assert.equal(pxe.body?.Boot?.BootSourceOverrideTarget, 'Pxe');
  assert.equal(pxe.body?.Boot?.BootSourceOverrideEnabled, 'Once');
  assert.equal(readFileSync(join(dir, 'boot-device'), 'utf8').trim(), 'network');
  const invalid = await patch({ BootSourceOverrideTarget: 'Floppy' });
  assert.equal(invalid.status, 400);
  assert.equal(invalid.body?.error?.['@Message.ExtendedInfo']?.[0]?.MessageId, 'Base.1.8.PropertyValueNotInList');
});

test('Reset rejects an unknown ResetType and GracefulShutdown of an off machine is a no-op', async () => {
  const post = (ResetType: string) =>
    call('/redfish/v1/Systems/lab-1/Actions/ComputerSystem.Reset', {
      method: 'POST',
      headers: { Authorization: basic, 'Content-Type': 'application/json' },
      body: JSON.stringify({ ResetType }),
    });
  assert.equal((await post('Explode')).status, 400);
  assert.equal((await post('GracefulShutdown')).status, 204);
  assert.equal((await post('ForceOff')).status, 204);
  assert.equal((await call('/redfish/v1/Systems/lab-1', { method: 'DELETE', headers: { Authorization: basic } })).status, 405);
});

test('any machine with power and a boot device can stand behind a system; one without NMI does not offer it', async () => {
  const asked: string[] = [];
  let power: 'on' | 'off' = 'off';
  let device: 'network' | 'disk' = 'disk';
  const machine = {
    powerState: () => power,
    powerOn: async () => {
      asked.push(`on from ${device}`);
      power = 'on';
    },
    forceOff: async () => {
      asked.push('off');
      power = 'off';
    },
    reset: async () => void asked.push('reset'),
    pressPowerButton: async () => void asked.push('button'),
    waitForOff: async () => power === 'off',
    bootDevice: () => device,
    setBootDevice: async (next: 'network' | 'disk') => {
      device = next;
    },
  };
  const own = createServer(createRedfishService({ systems: new Map([['m-1', { id: 'm-1', uuid: '11111111-2222-4333-8444-666666666666', mac: '52:54:00:1b:00:02', machine, description: 'a test machine' }]]), user: 'lab', password: 'pw-123' }));
  await new Promise<void>((resolve) => own.listen(0, '127.0.0.1', resolve));
  const address = own.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/redfish/v1/Systems/m-1`;
  try {
    const send = (method: string, path: string, body: unknown) =>
      fetch(url + path, { method, headers: { Authorization: basic, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await send('PATCH', '', { Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once' } })).status, 200);
    assert.equal((await send('POST', '/Actions/ComputerSystem.Reset', { ResetType: 'On' })).status, 204);
    assert.equal((await send('POST', '/Actions/ComputerSystem.Reset', { ResetType: 'PowerCycle' })).status, 204);
    assert.deepEqual(asked, ['on from network', 'off', 'on from network']);
    const system = (await (await fetch(url, { headers: { Authorization: basic } })).json()) as Record<string, any>;
    assert.equal(system.PowerState, 'On');
    assert.equal(system.Description, 'a test machine');
    assert.equal(system.Actions['#ComputerSystem.Reset']['ResetType@Redfish.AllowableValues'].includes('Nmi'), false);
    assert.equal((await send('POST', '/Actions/ComputerSystem.Reset', { ResetType: 'Nmi' })).status, 400);
  } finally {
    own.closeAllConnections();
    own.close();
  }
});
