/**
 * The customer's rescue flow in the browser against a real lab server: a QEMU machine with an
 * installed Debian behind an IPMI BMC (ipmi_sim), netbooting with iPXE from a real control plane
 * serving the console. Enter rescue in the page, the password shown once, the timeline as the server
 * boots, then OpenSSH logs in with that password and the known_hosts line the page shows (strict host
 * key checking), and exit brings the installed system back. One lab VM.
 * Run alone: flock /tmp/lifeboat-vm.lock node --import tsx --test packages/web/test/rescue-flow.vm.test.ts
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConfig, startControlPlane, type RunningControlPlane } from '@lifeboat/control-plane';
import { ensureRescueImage } from '@lifeboat/image';
import { labStatus, main as lab, type LabServerStatus } from '@lifeboat/lab';
import { freePort, ssh } from '@lifeboat/test-support';
import type { Browser } from 'playwright-core';
import { checkPage, launchBrowser, openPage, signIn } from './browser.js';

const log = (line: string): void => void process.stdout.write(`# ${line}\n`);

describe('the rescue flow in the browser on a lab server', { timeout: 20 * 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-web-vm-'));
  const labDir = join(dir, 'lab');
  let plane: RunningControlPlane;
  let browser: Browser;
  let server: LabServerStatus;
  let labUp = false;
  let password = '';

  before(async () => {
    const image = await ensureRescueImage({ onProgress: log });
    browser = await launchBrowser();
    const port = await freePort();
    mkdirSync(join(dir, 'data'));
    plane = await startControlPlane(
      parseConfig(['--data', join(dir, 'data'), '--listen', `127.0.0.1:${port}`, '--image', image.dir, '--log-level', 'warn', '--scheduler-interval', '1s'], {}, dir),
      // The first operator's sign-in notice is not needed here (customers sign in): kept off the test's output.
      { notice: () => undefined },
    );
    process.env.LIFEBOAT_LAB = labDir;
    labUp = true;
    assert.equal(await lab(['up', '--servers', '1', '--boot-url', `${plane.bootUrl}/boot.ipxe`]), 0, 'lifeboat lab up');
    const found = labStatus(labDir).servers[0];
    assert.ok(found);
    server = found;
    const admin = readFileSync(join(dir, 'data/admin.token'), 'utf8').trim();
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
    await plane?.close();
    rmSync(dir, { recursive: true, force: true });
    assert.equal(down, 0, 'lifeboat lab down');
  });

  it('enters rescue, shows the password once and each boot step, logs in with OpenSSH through the shown known_hosts line, exits', async () => {
    const { context, page } = await openPage(browser, `${plane.url}/servers/lab-1`);
    try {
      await signIn(page, 'carol', 'carol-password-long-enough');
      await page.getByRole('heading', { level: 1, name: 'lab-1' }).waitFor();
      await page.getByRole('button', { name: 'Enter rescue' }).click();
      const once = page.getByRole('region', { name: 'Temporary root password' });
      await once.waitFor();
      password = (await once.locator('code').innerText()).trim();
      assert.ok(password.length >= 20);

      // The timeline grows step by step while the machine boots: record what the page shows over time.
      const seen: string[][] = [];
      const started = Date.now();
      for (;;) {
        const steps = await page.locator('ol.timeline li[data-step]').evaluateAll((items) => items.map((i) => i.getAttribute('data-step') ?? ''));
        if (seen.at(-1)?.join() !== steps.join()) seen.push(steps);
        const state = await page.locator('.page-title .badge').getAttribute('data-state');
        if (state === 'rescue') break;
        assert.notEqual(state, 'rescue_failed', await page.locator('.page-title .reason').innerText().catch(() => ''));
        assert.ok(Date.now() - started < 8 * 60_000, 'rescue within 8 minutes');
        await page.waitForTimeout(250);
      }
      log(`rescue after ${((Date.now() - started) / 1000).toFixed(1)} s; the timeline was seen in ${seen.length} states: ${seen.map((s) => s.length).join(' ')}`);
      // The page follows the boot without a reload: at least two successive states, each growing the one
      // before, the first not ready yet. On the lab the steps arrive in bursts, and one CI run saw only
      // two states (2 steps, then 12 after 30 s: the network boot's steps did not show while they
      // happened); step-by-step appearance is asserted in rescue-flow.test.ts, where the test paces the
      // steps. Why the lab run can show the netboot steps late is open in issue 13.
      assert.ok(seen.length >= 2, 'the timeline grew while the page was open, not only after a reload');
      assert.ok(!(seen[0] ?? []).includes('ready'));
      for (let i = 1; i < seen.length; i++) assert.ok((seen[i - 1] ?? []).every((step) => seen[i]?.includes(step)), `state ${i} keeps the steps before it`);
      const final = seen.at(-1) ?? [];
      for (const step of ['boot_device_set', 'power_cycled', 'ipxe_script_served', 'kernel_fetched', 'initrd_fetched', 'agent_started', 'host_keys_reported', 'ready']) assert.ok(final.includes(step), `step ${step} shown`);
      await checkPage(page, 'vm-rescue-desktop-en');

      // OpenSSH with only the known_hosts line of the page, checked strictly, and the password of the page.
      const access = page.getByRole('region', { name: 'SSH access' });
      const knownHosts = await access.locator('code[data-copy="known_hosts line"]').innerText();
      assert.equal(await access.locator('code[data-copy="SSH command"]').innerText(), `ssh -p ${server.ssh.port} root@127.0.0.1`);
      const knownHostsFile = join(dir, 'known_hosts');
      writeFileSync(knownHostsFile, `${knownHosts}\n`);
      const login = await ssh({ port: server.ssh.port, knownHosts: knownHostsFile, password }, 'cat /proc/cmdline; ls /sys/block');
      assert.equal(login.code, 0, login.stderr);
      assert.match(login.stdout, /lifeboat\.server=/, 'logged in to the rescue system');
      assert.match(login.stdout, /^(sd|vd|nvme)\S+$/m, 'the server\'s disks are there');

      await once.getByRole('button', { name: 'I have saved it' }).click();
      await page.reload();
      await page.locator('.page-title .badge[data-state="rescue"]').waitFor();
      assert.ok(!(await page.content()).includes(password), 'the password is shown once');

      await page.getByRole('button', { name: 'Exit rescue' }).click();
      await page.locator('.page-title .badge[data-state="exiting_rescue"]').waitFor();
      await page.locator('.page-title .badge[data-state="active"]').waitFor({ timeout: 8 * 60_000 });
      await page.locator('ol.timeline li[data-step="os_answered"].step-completed').waitFor();
      await checkPage(page, 'vm-exited-desktop-en');
    } finally {
      await context.close();
    }
  });
});
