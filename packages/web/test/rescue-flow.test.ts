/**
 * The customer's flows in Chromium against a real control plane with simulated servers
 * (`console-lab.ts`): sign-in and sign-out, the servers list with its badges following live (SSE)
 * with search and filter, and a server's rescue: enter, the password shown once, the boot timeline
 * step by step, SSH access with the known_hosts line and the host CA line, the lease with extend, exit. Then French on a
 * phone, and tenant isolation through the page and through the cookie-authenticated API. Each page
 * reached is screenshotted and checked with axe-core.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { checkPage, launchBrowser, openPage, signIn } from './browser.js';
import { ConsoleLab, type SimulatedServer } from './console-lab.js';

const badge = (page: Page, server: string) => page.locator(`li[data-server="${server}"] .badge`);

describe('customer rescue flow in the browser', () => {
  let lab: ConsoleLab;
  let browser: Browser;
  let web1: SimulatedServer;
  const passwords: Record<string, string> = {};

  before(async () => {
    browser = await launchBrowser();
    // db-1's BMC never answers: two attempts, so that its rescue fails within the test's wait.
    lab = await ConsoleLab.start(['--bmc-attempts', '2']);
    await lab.addTenant('acme');
    await lab.addTenant('globex');
    passwords.alice = await lab.addUser('alice', 'customer', 'acme');
    passwords.bruno = await lab.addUser('bruno', 'customer', 'globex');
    web1 = await lab.addServer('web-1', 'acme');
    await lab.addServer('web-2', 'acme');
    await lab.addServer('db-1', 'acme', 'unreachable');
    await lab.addServer('other-1', 'globex');
    await web1.installedSystemUp();
  });
  after(async () => {
    await browser?.close();
    await lab?.close();
  });

  it('signs in (a wrong password is a sentence), lists the tenant\'s servers live, searches, filters, signs out', async () => {
    const { context, page } = await openPage(browser, lab.url);
    try {
      await page.locator('input[name="name"]').fill('alice');
      await page.locator('input[name="password"]').fill('not-her-password');
      await page.locator('form button[type="submit"]').click();
      await page.getByRole('alert').filter({ hasText: 'Wrong user name or password.' }).waitFor();

      await signIn(page, 'alice', passwords.alice as string);
      await page.getByRole('heading', { level: 1, name: 'Servers' }).waitFor();
      assert.equal(new URL(page.url()).pathname, '/servers');
      await page.locator('li[data-server="db-1"]').waitFor();
      assert.deepEqual(await page.locator('li[data-server]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-server'))), ['db-1', 'web-1', 'web-2'], 'only acme\'s servers, by name');
      assert.equal(await badge(page, 'web-2').getAttribute('data-state'), 'active');
      await page.locator('.live-open').waitFor();

      // Changes made elsewhere (here: the API) reach the page without reload.
      await lab.api('POST', '/v1/servers/web-2/rescue', {});
      await page.locator('li[data-server="web-2"] .badge.badge-pending').waitFor();
      await lab.api('POST', '/v1/servers/db-1/rescue', {});
      await page.locator('li[data-server="db-1"] .badge[data-state="rescue_failed"]').waitFor({ timeout: 60_000 });
      assert.match(await page.locator('li[data-server="db-1"] .reason').innerText(), /^Why: .*BMC/);
      await checkPage(page, 'servers-desktop-en');

      await page.getByLabel('Search servers').fill('WEB');
      await page.getByText('2 of 3 servers').waitFor();
      await page.getByLabel('Status').selectOption('failed');
      await page.getByText('0 of 3 servers').waitFor();
      await page.getByLabel('Search servers').fill('');
      await page.getByText('1 of 3 servers').waitFor();
      assert.match(page.url(), /status=failed/, 'the filter is in the URL');
      assert.deepEqual(await page.locator('li[data-server]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-server'))), ['db-1']);

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('heading', { level: 1, name: 'Sign in to Lifeboat' }).waitFor();
      await page.getByText('You are signed out.').waitFor();
      await page.reload();
      await page.getByRole('heading', { level: 1, name: 'Sign in to Lifeboat' }).waitFor();
      // web-2 leaves rescue for the next tests (it never boots a rescue system: cancelled).
      await lab.api('POST', '/v1/servers/web-2/rescue/exit');
    } finally {
      await context.close();
    }
  });

  it('enters rescue: password once, the timeline step by step, SSH access, lease extend, exit', async () => {
    const { context, page } = await openPage(browser, `${lab.url}/servers/web-1`);
    try {
      await signIn(page, 'alice', passwords.alice as string);
      await page.getByRole('heading', { level: 1, name: 'web-1' }).waitFor();
      assert.equal(await page.locator('.page-title .badge').getAttribute('data-state'), 'active');
      await checkPage(page, 'server-active-desktop-en');

      await page.getByLabel('E-mail the credentials to (optional)').fill('alice@example.com');
      await page.getByLabel('Lease').selectOption('4h');
      await page.getByRole('button', { name: 'Enter rescue' }).click();

      // The password, once, with its copy button.
      const once = page.getByRole('region', { name: 'Temporary root password' });
      await once.waitFor();
      const password = (await once.locator('code').innerText()).trim();
      assert.ok(password.length >= 20, 'a generated password');
      await once.getByRole('button', { name: 'Copy Password' }).click();
      await once.getByRole('button', { name: 'Copied Password' }).waitFor();
      assert.equal(await page.evaluate<string>('navigator.clipboard.readText()'), password);

      // Each step appears as it happens: the BMC and network-boot steps, then the agent's.
      const timeline = page.locator('ol.timeline');
      await timeline.locator('li[data-step="rootfs_fetched"]').waitFor();
      const rescue = await web1.rescueSystem();
      assert.equal(await timeline.locator('li[data-step="agent_started"]').count(), 0, 'the agent has not started yet');
      await rescue.step('agent_started');
      await timeline.locator('li[data-step="agent_started"].step-completed').waitFor();
      assert.equal(await page.locator('.page-title .badge').getAttribute('data-state'), 'preparing_rescue');
      await checkPage(page, 'server-preparing-desktop-en');
      await rescue.reportHostKeys();
      await timeline.locator('li[data-step="host_keys_reported"]').waitFor();
      await rescue.ready();
      await page.locator('.page-title .badge[data-state="rescue"]').waitFor();
      await timeline.locator('li[data-step="ready"].step-completed').waitFor();

      // SSH access: the command, the known_hosts line with the rescue system's key, its fingerprint.
      const access = page.getByRole('region', { name: 'SSH access' });
      assert.equal(await access.locator('code[data-copy="SSH command"]').innerText(), `ssh -p ${web1.sshPort} root@127.0.0.1`);
      const knownHosts = await access.locator('code[data-copy="known_hosts line"]').innerText();
      assert.equal(knownHosts, `[127.0.0.1]:${web1.sshPort} ${rescue.hostKey.publicKey.split(' ').slice(0, 2).join(' ')}`);
      assert.equal(await access.locator('.fingerprints code').innerText(), rescue.hostKey.fingerprint);
      // The provider's host CA line, the same as `lifeboat ca show` prints.
      assert.match(await access.locator('code[data-copy="Provider host CA line"]').innerText(), /^@cert-authority \* ssh-ed25519 AAAA\S+ lifeboat-host-ca$/);
      await checkPage(page, 'server-rescue-desktop-en');
      // The same page on a phone, and in French.
      await page.setViewportSize({ width: 375, height: 740 });
      const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
      assert.ok(overflow <= 0, `no horizontal scrolling at 375 px (${overflow} px)`);
      await checkPage(page, 'server-rescue-phone-en');
      await page.setViewportSize({ width: 1280, height: 860 });
      await page.getByLabel('Language').selectOption('fr');
      await page.getByRole('region', { name: 'Accès SSH' }).waitFor();
      await page.getByRole('region', { name: 'Mot de passe root temporaire' }).waitFor();
      await checkPage(page, 'server-rescue-desktop-fr');
      await page.getByLabel('Langue').selectOption('en');

      // "I have saved it": gone, and no answer or reload shows it again.
      await once.getByRole('button', { name: 'I have saved it' }).click();
      await once.waitFor({ state: 'detached' });
      assert.ok(!(await page.content()).includes(password));
      await page.reload();
      await page.locator('.page-title .badge[data-state="rescue"]').waitFor();
      assert.ok(!(await page.content()).includes(password), 'the password is never shown again');

      // The lease: about 4 h left, then extended to 3 days.
      const lease = page.getByRole('region', { name: 'Lease' });
      const left = Number(await lease.locator('.countdown').getAttribute('data-left-ms'));
      assert.ok(left > 3.9 * 3_600_000 && left <= 4 * 3_600_000, `4 h lease, ${left} ms left`);
      await lease.getByLabel('New lease, from now').selectOption('3d');
      await lease.getByRole('button', { name: 'Extend' }).click();
      await lease.getByText('Lease extended.').waitFor();
      const extended = Number(await lease.locator('.countdown').getAttribute('data-left-ms'));
      assert.ok(extended > 2.9 * 86_400_000, `3 days lease, ${extended} ms left`);
      // The keyboard path: from the select, Tab reaches Extend, Enter submits.
      await lease.getByLabel('New lease, from now').selectOption('7d');
      await lease.getByLabel('New lease, from now').focus();
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate<string>('document.activeElement.textContent'), 'Extend');
      await page.keyboard.press('Enter');
      await lease.locator('.countdown').filter({ hasText: /^7 days? / }).waitFor();

      // Someone else on the provisioning network asks for web-1's boot script: refused, and the page
      // warns the customer, live, not to trust the host keys shown.
      assert.equal(await page.getByRole('region', { name: 'Refused boot requests' }).count(), 0);
      assert.equal(await getFrom('127.0.0.2', `${lab.url}/v1/boot/${web1.mac.replace(/:/g, '-')}.ipxe`), 200);
      const alerts = page.getByRole('region', { name: 'Refused boot requests' });
      await alerts.locator('li[data-kind="boot_script_other_address"]').filter({ hasText: 'asked for from 127.0.0.2' }).waitFor();
      await checkPage(page, 'server-boot-alert-desktop-en');

      // Exit: the server boots from its disk; its installed system answers again.
      await page.getByRole('button', { name: 'Exit rescue' }).click();
      await page.getByText('Exit requested: the server boots from its disk.').waitFor();
      await page.locator('.page-title .badge[data-state="active"]').waitFor({ timeout: 60_000 });
      await timeline.locator('li[data-step="os_answered"].step-completed').waitFor();
      await checkPage(page, 'server-exited-desktop-en');
    } finally {
      await context.close();
    }
  });

  it('in French on a phone; another tenant\'s server answers as a missing one, in the page and the API', async () => {
    const { context, page } = await openPage(browser, lab.url, { viewport: 'phone', locale: 'fr-FR' });
    try {
      await page.getByRole('heading', { level: 1, name: 'Connexion à Lifeboat' }).waitFor();
      await signIn(page, 'bruno', passwords.bruno as string);
      await page.getByRole('heading', { level: 1, name: 'Serveurs' }).waitFor();
      await page.locator('li[data-server="other-1"]').waitFor();
      assert.equal(await page.locator('li[data-server]').count(), 1);
      assert.equal(await badge(page, 'other-1').innerText(), 'Actif');
      const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
      assert.ok(overflow <= 0, `no horizontal scrolling at 375 px (${overflow} px)`);
      await checkPage(page, 'servers-phone-fr');

      await page.getByRole('link', { name: 'other-1' }).click();
      await page.getByRole('heading', { level: 1, name: 'other-1' }).waitFor();
      await page.getByRole('button', { name: 'Passer en secours' }).waitFor();
      await checkPage(page, 'server-active-phone-fr');

      // The switch: English, kept over a reload; then back to French.
      await page.getByLabel('Langue').selectOption('en');
      await page.getByRole('button', { name: 'Enter rescue' }).waitFor();
      await page.reload();
      await page.getByRole('button', { name: 'Enter rescue' }).waitFor();
      await page.getByLabel('Language').selectOption('fr');

      // acme's server: the same answer as a server that does not exist.
      for (const name of ['web-1', 'no-such-server']) {
        await page.goto(`${lab.url}/servers/${name}`);
        await page.getByRole('alert').filter({ hasText: 'Ce serveur n’existe pas ou ne vous appartient pas.' }).waitFor();
      }
      await checkPage(page, 'server-not-found-phone-fr');
      // In the page: the session cookie goes with these requests, as with the console's own.
      const answers = await page.evaluate<{ other: { status: number; body: unknown }; missing: { status: number; body: unknown }; rescue: number }>(`(async () => ({
        other: await fetch('/v1/servers/web-1').then(async (r) => ({ status: r.status, body: await r.json() })),
        missing: await fetch('/v1/servers/no-such-server').then(async (r) => ({ status: r.status, body: await r.json() })),
        rescue: await fetch('/v1/servers/other-1/rescue', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }).then((r) => r.status),
      }))()`);
      assert.equal(answers.other.status, 404);
      assert.deepEqual(answers.other.body, { code: 'SERVER_NOT_FOUND', message: 'no server named web-1' });
      assert.deepEqual(answers.missing.body, { code: 'SERVER_NOT_FOUND', message: 'no server named no-such-server' });
      assert.equal(answers.rescue, 403, 'an unsafe request without the CSRF token is refused, even on its own server');
    } finally {
      await context.close();
    }
  });

  it('the first operator signs in with the password printed at the first start and sees every tenant\'s servers', async () => {
    const first = lab.firstOperator;
    assert.ok(first, 'the first start printed how to sign in');
    assert.equal(first.url, `${lab.url}/`);
    const { context, page } = await openPage(browser, first.url);
    try {
      await signIn(page, first.name, first.password);
      await page.getByRole('heading', { level: 1, name: 'Servers' }).waitFor();
      await page.locator('li[data-server="other-1"]').waitFor();
      assert.deepEqual(
        await page.locator('li[data-server]').evaluateAll((rows) => rows.map((r) => `${r.getAttribute('data-server')}:${r.querySelector('.tenant')?.textContent ?? ''}`)),
        ['db-1:acme', 'other-1:globex', 'web-1:acme', 'web-2:acme'],
      );
      assert.equal(await page.locator('.user').innerText(), first.name);
      await checkPage(page, 'servers-operator-desktop-en');
    } finally {
      await context.close();
    }
  });
});

/** A GET sent from another loopback address (another machine on the provisioning network); its status. */
function getFrom(localAddress: string, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { localAddress }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', reject);
    request.end();
  });
}
