/**
 * Issue 14, finding 8: `kill -9` of the control plane must not leave its ipmitool children running.
 * The real control plane (its bin, real ipmi driver) runs as a child process; its server's BMC is a UDP
 * socket that swallows every packet, so ipmitool keeps retrying (about 18 s with the driver's defaults).
 * The control plane is killed with SIGKILL while ipmitool runs: ipmitool must be gone at once.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { api, freePort, waitFor } from '@lifeboat/test-support';
import { createTestImages } from '../../src/netboot/testing.js';

const bin = fileURLToPath(new URL('../../bin/lifeboat-control-plane.mjs', import.meta.url));

/** Pid, parent pid and state of a process from /proc, or undefined when it no longer exists. */
function processInfo(pid: number): { ppid: number; state: string; comm: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm is in parentheses and may hold spaces: the fields after it are split on the last ')'.
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const [state = '', ppid = '0'] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(ppid), state, comm };
  } catch {
    return undefined;
  }
}

/** A process that exists and is not a zombie (a killed orphan may wait a while for its reaper). */
function alive(pid: number): boolean {
  const info = processInfo(pid);
  return info !== undefined && info.state !== 'Z' && info.state !== 'X';
}

describe('ipmitool dies with the control plane', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-orphans-'));
  const images = createTestImages();
  const bmc = createSocket('udp4');
  let plane: ReturnType<typeof spawn> | undefined;
  let ipmitool: number | undefined;

  after(async () => {
    if (plane && plane.exitCode === null && plane.signalCode === null) plane.kill('SIGKILL');
    if (ipmitool !== undefined && alive(ipmitool)) process.kill(ipmitool, 'SIGKILL');
    bmc.close();
    rmSync(dir, { recursive: true, force: true });
    images.remove();
  });

  it('kills the running ipmitool when the control plane is killed with SIGKILL', async () => {
    bmc.on('message', () => {});
    await new Promise<void>((resolve) => bmc.bind(0, '127.0.0.1', resolve));
    const bmcPort = bmc.address().port;
    const port = await freePort();
    const dataDir = join(dir, 'data');
    let output = '';
    plane = spawn(process.execPath, [bin, '--data', dataDir, '--listen', `127.0.0.1:${port}`, '--console-listen', '127.0.0.1:0', '--image', images.dirOf('linux'), '--log-level', 'warn'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LIFEBOAT_CACHE: join(dir, 'cache') },
    });
    plane.stdout!.on('data', (chunk) => (output += chunk));
    plane.stderr!.on('data', (chunk) => (output += chunk));
    const url = `http://127.0.0.1:${port}`;
    await waitFor('the control plane', async () => {
      if (plane!.exitCode !== null) throw new Error(`it exited: ${output}`);
      return (await fetch(`${url}/healthz`).catch(() => undefined))?.ok;
    });
    const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
    assert.equal((await api(url, token, 'POST', '/v1/tenants', { name: 'acme' })).status, 201);
    const added = await api(url, token, 'POST', '/v1/servers', { name: 'web-1', tenant: 'acme', macs: ['52:54:00:00:08:01'], bmc: { url: `ipmi://127.0.0.1:${bmcPort}`, user: 'admin', password: 'pw-orphan' } });
    assert.equal(added.status, 201);
    assert.equal((await api(url, token, 'POST', '/v1/servers/web-1/rescue', {})).status, 202);

    // The enter job's first BMC command, retrying against a BMC that never answers.
    const pid = plane.pid!;
    ipmitool = await waitFor('ipmitool to run under the control plane', () =>
      readdirSync('/proc')
        .filter((name) => /^\d+$/.test(name))
        .map(Number)
        .find((child) => {
          const info = processInfo(child);
          return info?.ppid === pid && info.comm === 'ipmitool' && alive(child);
        }),
    );
    const exited = new Promise((resolve) => plane!.once('exit', resolve));
    plane.kill('SIGKILL');
    await exited;
    // ipmitool alone would go on for about 18 s; it dies with its parent.
    const orphan = ipmitool;
    await waitFor('ipmitool to die with the control plane', () => !alive(orphan), 5_000, 50);
    assert.ok(!output.includes('pw-orphan'), 'the BMC password is in no log line');
  });
});
