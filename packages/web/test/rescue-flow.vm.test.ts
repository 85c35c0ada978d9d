/**
 * The customer's rescue flow in the browser against a real lab server: a QEMU machine with an
 * installed Debian behind an IPMI BMC (ipmi_sim), netbooting with iPXE from a real control plane
 * (its entry point, in a child process) serving the console. Enter rescue in the page, the password shown once, the timeline as the server
 * boots, then OpenSSH logs in with that password and the known_hosts line the page shows (strict host
 * key checking), and exit brings the installed system back. One lab VM.
 *
 * The API is polled beside the page, so a failure says which side was late: the lab (the API's
 * state did not move) or the page (the API moved, the page did not). The page's timeline and badge
 * are timed in the page itself (a MutationObserver), each step against the time the control plane
 * recorded it. Run alone: npm test -- packages/web/test/rescue-flow.vm.test.ts
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureRescueImage } from '@lifeboat/image';
import { labStatus, main as lab, type LabServerStatus } from '@lifeboat/lab';
import { freePort, ssh, startControlPlaneProcess, waitFor, type ControlPlaneProcess } from '@lifeboat/test-support';
import type { Browser } from 'playwright-core';
import { checkPage, launchBrowser, openPage, signIn } from './browser.js';
import { ApiWatch, badgeState, pageLagMs, pageSeen, watchPage } from './page-timing.js';

const log = (line: string): void => void process.stdout.write(`# ${line}\n`);

describe('the rescue flow in the browser on a lab server', { timeout: 20 * 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-web-vm-'));
  const labDir = join(dir, 'lab');
  let plane: ControlPlaneProcess;
  let browser: Browser;
  let server: LabServerStatus;
  let labUp = false;
  let password = '';
  let admin = '';

  before(async () => {
    const image = await ensureRescueImage({ onProgress: log });
    browser = await launchBrowser();
    const port = await freePort();
    mkdirSync(join(dir, 'data'));
    // The lab's VMs reach the host's 127.0.0.1 at 10.0.2.2 (QEMU's user networking).
    const bootUrl = `http://10.0.2.2:${port}`;
    plane = await startControlPlaneProcess({ dataDir: join(dir, 'data'), port, flags: ['--image', image.dir, '--boot-url', bootUrl, '--scheduler-interval', '1s'] });
    process.env.LIFEBOAT_LAB = labDir;
    labUp = true;
    assert.equal(await lab(['up', '--servers', '1', '--boot-url', `${bootUrl}/boot.ipxe`]), 0, 'lifeboat lab up');
    const found = labStatus(labDir).servers[0];
    assert.ok(found);
    server = found;
    admin = plane.adminToken();
    const api = async (path: string, body: unknown) => {
      const response = await fetch(`${plane.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.ok(response.ok, `${path}: ${response.status} ${await response.text()}`);
    };
    await api('/v1/tenants', { name: 'lab' });
    await api('/v1/users', { name: 'carol', role: 'customer', tenant: 'lab', password: 'carol-password-long-enough' });
    await api('/v1/servers', {
      name: 'lab-1',
      tenant: 'lab',
      macs: [server.mac],
      bmc: { url: `ipmi://127.0.0.1:${server.ipmi.port}`, user: server.ipmi.user, password: server.ipmi.password },
      sshEndpoint: `127.0.0.1:${server.ssh.port}`,
    });
  });

  after(async () => {
    await browser?.close();
    const down = labUp ? await lab(['down']) : 0;
    await plane?.stop();
    rmSync(dir, { recursive: true, force: true });
    assert.equal(down, 0, 'lifeboat lab down');
  });

  it('enters rescue, shows the password once and each boot step as it happens, logs in with OpenSSH through the shown known_hosts line, exits', async () => {
    const { context, page } = await openPage(browser, `${plane.url}/servers/lab-1`);
    const api = new ApiWatch(plane.url, admin, 'lab-1');
    try {
      await signIn(page, 'carol', 'carol-password-long-enough');
      await page.getByRole('heading', { level: 1, name: 'lab-1' }).waitFor();
      await page.locator('.live-open').waitFor();
      await watchPage(page);
      const clicked = Date.now();
      await page.getByRole('button', { name: 'Enter rescue' }).click();
      const once = page.getByRole('region', { name: 'Temporary root password' });
      await once.waitFor();
      password = (await once.locator('code').innerText()).trim();
      assert.ok(password.length >= 20);

      // The lab decides when rescue is reached (the API says so); the page must follow.
      const rescueAt = await waitFor(
        'the API to say rescue',
        () => {
          const failed = api.reached('rescue_failed', clicked);
          if (failed !== undefined) throw new Error(`rescue failed (the lab): ${api.history()}; ${api.steps()}`);
          return api.reached('rescue', clicked);
        },
        8 * 60_000,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)} (the lab, not the page: API states ${api.history()}; steps ${api.steps()})`);
      });
      log(`rescue ${((rescueAt - clicked) / 1000).toFixed(1)} s after the click (API: ${api.history()})`);
      await page
        .locator('.page-title .badge[data-state="rescue"]')
        .waitFor({ timeout: pageLagMs })
        .catch(async () => assert.fail(`the API said rescue; the page still showed ${await badgeState(page)} ${pageLagMs / 1000} s later`));
      await page.locator('ol.timeline li[data-step="ready"]').waitFor({ timeout: pageLagMs });

      // Each step appeared in the page as it happened: shortly after the control plane recorded it,
      // and the boot's stages one after another, not all at once.
      const seen = await pageSeen(page);
      const steps = (await api.newestTask())?.steps ?? [];
      const lags = steps
        .filter((step) => step.startedAt !== null)
        .map((step) => ({ name: step.name, lag: (seen.steps[step.name] ?? Number.POSITIVE_INFINITY) - Date.parse(step.startedAt as string) }));
      log(`page lag per step (ms after the control plane recorded it): ${lags.map((l) => `${l.name} ${l.lag}`).join(', ')}`);
      log(`stream status in the page: ${seen.live.map((l) => `${l.live} +${((l.at - clicked) / 1000).toFixed(1)}s`).join(', ')}`);
      for (const step of ['boot_device_set', 'power_cycled', 'ipxe_script_served', 'kernel_fetched', 'initrd_fetched', 'agent_started', 'host_keys_reported', 'ready']) {
        const lag = lags.find((l) => l.name === step)?.lag;
        assert.ok(lag !== undefined && lag < pageLagMs, `step ${step} shown within ${pageLagMs / 1000} s of happening (lag ${lag} ms)`);
      }
      const at = (step: string) => seen.steps[step] ?? Number.POSITIVE_INFINITY;
      assert.ok(at('power_cycled') < at('ipxe_script_served'), 'the power cycle showed before the network boot');
      assert.ok(at('ipxe_script_served') < at('agent_started'), 'the network boot showed before the agent started');
      assert.ok(at('agent_started') <= at('ready'));
      await checkPage(page, 'vm-rescue-desktop-en');

      // OpenSSH with only the known_hosts line of the page, checked strictly, and the password of the page.
      const access = page.getByRole('region', { name: 'SSH access' });
      const knownHosts = await access.locator('code[data-copy="known_hosts line"]').innerText();
      assert.equal(await access.locator('code[data-copy="SSH command"]').innerText(), `ssh -p ${server.ssh.port} root@127.0.0.1`);
      const knownHostsFile = join(dir, 'known_hosts');
      writeFileSync(knownHostsFile, `${knownHosts}\n`);
      // Ready means the customer can log in; the disk drivers load after sshd, at the lowest CPU
      // priority (the image's rescue-rc): wait in the guest for its marker, then list the disks. Only
      // the server's id is read from the kernel command line (it also carries the boot token).
      const login = await ssh(
        { port: server.ssh.port, knownHosts: knownHostsFile, password },
        "grep -o 'lifeboat\\.server=[^ ]*' /proc/cmdline; i=0; while [ ! -e /run/lifeboat/drivers-loaded ] && [ $i -lt 300 ]; do sleep 1; i=$((i+1)); done; echo drivers after $i s; ls /sys/block",
      );
      assert.equal(login.code, 0, login.stderr);
      log(`OpenSSH login: ${login.stdout.split('\n').find((line) => line.startsWith('drivers after')) ?? ''}`);
      assert.match(login.stdout, /lifeboat\.server=/, 'logged in to the rescue system');
      assert.match(login.stdout, /^(sd|vd|nvme)\S+$/m, 'the server\'s disks are there');

      await once.getByRole('button', { name: 'I have saved it' }).click();
      await page.reload();
      await page.locator('.page-title .badge[data-state="rescue"]').waitFor();
      assert.ok(!(await page.content()).includes(password), 'the password is shown once');

      await page.locator('.live-open').waitFor();
      await watchPage(page);
      const exitClicked = Date.now();
      await page.getByRole('button', { name: 'Exit rescue' }).click();
      await page.locator('.page-title .badge[data-state="exiting_rescue"]').waitFor();
      const activeAt = await waitFor(
        'the API to say active',
        () => {
          const failed = api.reached('exit_failed', exitClicked);
          if (failed !== undefined) throw new Error(`exit failed (the lab): ${api.history()}; ${api.steps()}`);
          return api.reached('active', exitClicked);
        },
        8 * 60_000,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)} (the lab, not the page: API states ${api.history()}; steps ${api.steps()})`);
      });
      log(`active ${((activeAt - exitClicked) / 1000).toFixed(1)} s after the exit click (API: ${api.history()})`);
      await page
        .locator('.page-title .badge[data-state="active"]')
        .waitFor({ timeout: pageLagMs })
        .catch(async () => assert.fail(`the API said active; the page still showed ${await badgeState(page)} ${pageLagMs / 1000} s later`));
      await page.locator('ol.timeline li[data-step="os_answered"].step-completed').waitFor({ timeout: pageLagMs });
      const exited = await pageSeen(page);
      log(`the page showed active ${((exited.states.find((s) => s.state === 'active')?.at ?? Number.NaN) - activeAt) / 1000} s after the API`);
      await checkPage(page, 'vm-exited-desktop-en');
    } finally {
      await api.stop();
      await context.close();
    }
  });
});
