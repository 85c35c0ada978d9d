// A lab server's console out of the box, without a VM: `lab up --register` against a real control
// plane, then the OpenSSH client through the control plane's SSH gateway, its console hub and IPMI
// Serial-over-LAN driver (ipmitool), the lab's ipmi_sim and serial fan-out, to the server's serial
// socket (played here by a unix socket where QEMU would serve it). The VM version of this path, with
// the rescue system's getty, is e2e/console.vm.test.ts.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { freePort, startControlPlaneProcess, waitFor, type ControlPlaneProcess } from '@lifeboat/test-support';
import { cleanUpLab, firstServer, lab, useTempLab } from './lab-fixture.js';

let dataDir: string;
let labDir: string;
let controlPlane: ControlPlaneProcess;
let serial: Server;
let line: Socket | null = null;
let received = '';

async function call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${controlPlane.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'lifeboat-lab-console-'));
  controlPlane = await startControlPlaneProcess({ dataDir, port: await freePort() });
  labDir = useTempLab();
  process.env.LIFEBOAT_URL = controlPlane.url;
  process.env.LIFEBOAT_TOKEN = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  try {
    await lab('up', '--blank', '--off', '--register', '--tenant', 'acme');
  } finally {
    delete process.env.LIFEBOAT_TOKEN;
    delete process.env.LIFEBOAT_URL;
  }
  serial = createServer((socket) => {
    line = socket;
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('error', () => undefined);
  });
  serial.listen(join(labDir, 'servers', 'lab-1', 'serial.sock'));
  await once(serial, 'listening');
});

after(async () => {
  line?.destroy();
  await new Promise<void>((resolve) => serial?.close(() => resolve()));
  await cleanUpLab(labDir);
  await controlPlane?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('ssh -p PORT lab-1@127.0.0.1 reaches the lab server through IPMI SOL, both ways; ~. detaches', { timeout: 120_000 }, async () => {
  const admin = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  const server = firstServer(labDir);
  const registered = await call('GET', `/v1/servers/${server.name}`, admin);
  assert.equal(registered.body.console, null, "registered without a console URL: its BMC's SOL");
  const key = join(dataDir, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  const token = (await call('POST', '/v1/tokens', admin, { role: 'customer', tenant: 'acme' })).body.token as string;
  assert.equal((await call('POST', '/v1/keys', token, { name: 'laptop', publicKey: readFileSync(`${key}.pub`, 'utf8') })).status, 201);
  const info = (await call('GET', '/v1/console', token)).body;
  const knownHosts = join(dataDir, 'known_hosts');
  writeFileSync(knownHosts, `${String(info.knownHostsLine)}\n`);
  const port = String(info.listen).split(':').pop() ?? '';

  const child: ChildProcessWithoutNullStreams = spawn('ssh', [
    '-F', '/dev/null', '-p', port, '-i', key, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none',
    '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-e', 'none',
    `${server.name}@127.0.0.1`, '--', '--write',
  ]);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('latin1')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('latin1')));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  try {
    await waitFor('the console banner', () => stderr.includes('~. at the start of a line detaches'), 30_000, 50);
    await waitFor('the fan-out on the serial socket', () => line, 10_000, 50);
    // Output reaches a SOL client once the BMC's session is up: print until it arrives.
    await waitFor('the serial output over SSH', () => {
      line?.write('lab-1 login: ');
      return stdout.includes('lab-1 login: ');
    }, 30_000, 500);
    // ipmi_sim may drop the first keystroke packet of a session (docs/console.md): type until it arrives.
    await waitFor('the keystrokes at the serial port', () => {
      if (!received.includes('root\r')) child.stdin.write('root\r');
      return received.includes('root\r');
    }, 30_000, 1000);
    child.stdin.write('\r~.');
    assert.equal(await exited, 0);
    assert.match(stderr, /detached \(~\.\)/);
    assert.ok(!received.includes('~.'), '~. was not typed at the server');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
