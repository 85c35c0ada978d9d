// `lab up --register` adds the lab's servers to a real control plane (SQLite, its entry point in a child process) through its
// HTTP API, with the MAC, BMC and SSH endpoint that `lab status` shows.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { freePort, startControlPlaneProcess, type ControlPlaneProcess } from '@lifeboat/test-support';
import { readLab } from '@lifeboat/lab';
import { cleanUpLab, firstServer, lab, processesMentioning, useTempLab } from './lab-fixture.js';

let dataDir: string;
let labDir: string;
let controlPlane: ControlPlaneProcess;
let token: string;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'lifeboat-register-'));
  controlPlane = await startControlPlaneProcess({ dataDir, port: await freePort() });
  token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  labDir = useTempLab();
  process.env.LIFEBOAT_URL = controlPlane.url;
  process.env.LIFEBOAT_TOKEN = token;
});

after(async () => {
  await cleanUpLab(labDir);
  await controlPlane?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  delete process.env.LIFEBOAT_TOKEN;
  delete process.env.LIFEBOAT_URL;
});

async function servers(): Promise<{ name: string; tenant: string; macs: string[]; bmc: { driver: string; url: string; user: string }; sshEndpoint: string | null; console: string | null }[]> {
  const response = await fetch(`${controlPlane.url}/v1/servers`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(response.status, 200);
  return ((await response.json()) as { servers: [] }).servers;
}

test('lab up --register: each server is in the control plane with its MAC, IPMI BMC and SSH endpoint', async () => {
  await lab('up', '--blank', '--off', '--register');
  const server = firstServer(labDir);
  for (const key of ['name', 'mac', 'state', 'layout', 'scenarios', 'ssh', 'osLogin', 'ipmi', 'redfish', 'console', 'serialLog']) {
    assert.ok(key in server, `lab status --json has ${key}`);
  }
  assert.deepEqual(Object.keys(server.ipmi), ['host', 'port', 'user', 'password']);
  assert.deepEqual(Object.keys(server.redfish), ['url', 'user', 'password']);
  assert.deepEqual(Object.keys(server.ssh), ['host', 'port']);
  assert.equal(server.state, 'off');
  const registered = (await servers()).find((s) => s.name === server.name);
  assert.ok(registered, 'lab-1 is registered');
  assert.equal(registered.tenant, 'lab');
  assert.deepEqual(registered.macs, [server.mac]);
  assert.equal(registered.bmc.driver, 'ipmi');
  assert.equal(registered.bmc.url, `ipmi://127.0.0.1:${server.ipmi.port}`);
  assert.equal(registered.bmc.user, server.ipmi.user);
  assert.equal(registered.sshEndpoint, `127.0.0.1:${server.ssh.port}`);
  assert.equal(registered.console, null, "an IPMI server's console is its BMC's Serial-over-LAN");
  assert.equal(JSON.stringify(registered).includes(server.ipmi.password), false, 'the API never shows the BMC password');
});

test('a new lab registered again replaces the records (new ports), with Redfish BMCs when asked', async () => {
  await lab('down');
  await lab('up', '--blank', '--off', '--register', '--bmc', 'redfish', '--tenant', 'lab-two');
  const server = firstServer(labDir);
  const registered = (await servers()).find((s) => s.name === server.name);
  assert.equal(registered?.tenant, 'lab-two');
  assert.equal(registered?.bmc.driver, 'redfish');
  assert.equal(registered?.bmc.url, `redfish://${new URL(server.redfish.url).host}/redfish/v1/Systems/${server.name}`);
  assert.equal(registered?.console, server.console.url, 'a Redfish server carries its serial port as its console');
  await lab('down');
  assert.deepEqual(processesMentioning(labDir), []);
});

test('lab up --layout windows: a server with the Windows-like disk, registered with both rescue profiles and 2 GiB', async () => {
  await assert.rejects(lab('up', '--layout', 'windows', '--scenario', 'broken-fstab', '--off'), /exited with 1$/);
  await lab('up', '--layout', 'windows', '--scenario', 'hibernated', '--off', '--register', '--tenant', 'win');
  const server = firstServer(labDir);
  assert.deepEqual([server.layout, server.scenarios, server.osLogin], ['windows', ['hibernated'], null]);
  const registered = (await servers()).find((s) => s.name === server.name) as { profiles?: string[]; tenant: string } | undefined;
  assert.deepEqual([registered?.tenant, registered?.profiles], ['win', ['linux', 'windows']]);
  assert.equal(readLab(labDir)?.memoryMiB, 2048);
  await lab('down');
  assert.deepEqual(processesMentioning(labDir), []);
});
