/**
 * `lifeboat desktop` against a running control plane and a real desktop host (network namespace, sshd,
 * Xtigervnc; @lifeboat/test-support's `startDesktopHost`) played as a windows rescue: what it prints
 * before and during the rescue, and `--listen`, a local VNC port relayed through the control plane's
 * desktop WebSocket (the RFB banner of the host's VNC server arrives), refused on a non-loopback address.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { desktopAuthorizedKeyLine, LifeboatClient } from '@lifeboat/core';
import { freePort, playAgent, startControlPlaneProcess, startDesktopHost, startTestBmc, waitFor, type ControlPlaneProcess, type DesktopHost, type TestBmc } from '@lifeboat/test-support';
import { lifeboatBin, runLifeboat } from './run-cli.js';

describe('lifeboat desktop', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-cli-desktop-'));
  const mac = '52:54:00:cc:00:51';
  let plane: ControlPlaneProcess;
  let host: DesktopHost;
  let bmc: TestBmc | undefined;
  let env: NodeJS.ProcessEnv;
  const lifeboat = (args: string[]) => runLifeboat(args, env);

  before(async () => {
    host = await startDesktopHost({ xterm: false });
    const windowsImage = join(dir, 'windows-image');
    mkdirSync(windowsImage);
    for (const file of ['vmlinuz', 'initrd', 'rootfs.squashfs']) writeFileSync(join(windowsImage, file), `stand-in ${file}\n`);
    plane = await startControlPlaneProcess({ dataDir: join(dir, 'data'), port: await freePort(), flags: ['--image-profile', `windows=${windowsImage}`] });
    bmc = await startTestBmc({ controlPlaneUrl: plane.url, mac });
    const admin = new LifeboatClient({ url: plane.url, token: plane.adminToken() });
    await admin.addTenant({ name: 'acme' });
    const { token } = await admin.createToken({ tenant: 'acme', role: 'customer' });
    await admin.addServer({ name: 'win-1', tenant: 'acme', macs: [mac], bmc: bmc.record, sshEndpoint: host.sshEndpoint, profiles: ['linux', 'windows'] });
    env = { ...process.env, LIFEBOAT_URL: plane.url, LIFEBOAT_TOKEN: token, LIFEBOAT_DATA: join(dir, 'nowhere') };
  });

  after(async () => {
    await plane?.stop();
    await bmc?.close();
    await host?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says how to get a desktop when the server is not in rescue', async () => {
    const text = await lifeboat(['desktop', 'win-1']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /win-1 has no desktop now: not in rescue: lifeboat rescue enter win-1 --profile windows/);
    const json = await lifeboat(['desktop', 'win-1', '--json']);
    assert.deepEqual([json.json.available, json.json.reason], [false, 'not-in-rescue']);
    const relay = await lifeboat(['desktop', 'win-1', '--listen', `127.0.0.1:${await freePort()}`]);
    assert.equal(relay.code, 1);
    assert.match(relay.stderr, /DESKTOP_UNAVAILABLE/);
    const missing = await lifeboat(['desktop', 'nope-1']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /SERVER_NOT_FOUND/);
  });

  it('shows the browser page, the SSH tunnel and the relay of a windows rescue, and relays a VNC viewer to it', async () => {
    const enter = await lifeboat(['rescue', 'enter', 'win-1', '--profile', 'windows', '--json']);
    assert.equal(enter.code, 0, enter.stderr);
    const agent = await playAgent(plane.url, mac);
    assert.match(agent.config.desktopKey ?? '', /^ssh-ed25519 /);
    assert.equal((await agent.call('POST', '/host-keys', { hostKeys: host.hostKeys })).status, 200);
    host.authorize([desktopAuthorizedKeyLine(agent.config.desktopKey!)]);

    const text = await lifeboat(['desktop', 'win-1']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`browser:\\s+${plane.url}/servers/win-1/desktop`));
    assert.match(text.stdout, new RegExp(`ssh tunnel:\\s+ssh -N -L 5900:127\\.0\\.0\\.1:5900 root@${host.sshEndpoint.replace(/:22$/, '').replace(/\./g, '\\.')}`));
    assert.match(text.stdout, /relay:\s+lifeboat desktop win-1 --listen 127\.0\.0\.1:5900/);

    const port = await freePort();
    const relay = spawn(process.execPath, [lifeboatBin, 'desktop', 'win-1', '--listen', `127.0.0.1:${port}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    relay.stderr!.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => relay.once('exit', (code) => resolve(code)));
    try {
      await waitFor('the relay to listen', async () => {
        if (relay.exitCode !== null) throw new Error(`the relay exited: ${stderr}`);
        return stderr.includes('point a VNC viewer at it');
      });
      for (let viewer = 0; viewer < 2; viewer++) {
        const banner = await new Promise<string>((resolve, reject) => {
          const socket = connect(port, '127.0.0.1');
          socket.once('data', (data) => {
            socket.destroy();
            resolve(data.toString());
          });
          socket.once('error', reject);
        });
        assert.equal(banner, 'RFB 003.008\n', `viewer ${viewer}`);
      }
    } finally {
      relay.kill('SIGINT');
    }
    assert.equal(await exited, 0, stderr);
  });

  it('relays on a loopback address only: the relay has no VNC password', async () => {
    for (const address of ['0.0.0.0:5900', '192.0.2.1:5900', '[::]:5900', 'nonsense']) {
      const refused = await lifeboat(['desktop', 'win-1', '--listen', address]);
      assert.equal(refused.code, 2, address);
      assert.match(refused.stderr, address === 'nonsense' ? /expected HOST:PORT/ : /loopback address only/, address);
    }
  });
});
