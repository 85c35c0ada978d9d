/**
 * Entering rescue with SSH keys picked from the account's key store (by name) beside a pasted key,
 * in real Chromium against a real control plane: the keys a customer added under Account are offered
 * on the server's page, the request names the chosen ones, and no password is made.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestControlPlane, waitFor, type TestControlPlane, type TestMachine } from '@lifeboat/test-support';
import type { Browser, BrowserContext } from 'playwright-core';
import { checkPage, launchBrowser, openPage, signIn } from './browser.js';

const mac = '52:54:00:cc:01:01';
const password = 'correct horse battery staple';

describe('entering rescue with keys from the key store, in Chromium', { timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-web-keys-'));
  let plane: TestControlPlane;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const machine: TestMachine = { poweredOn: true, bootRescue: async () => undefined, powerOff: async () => undefined };
  const publicKey = (name: string) => {
    const file = join(dir, name);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@test`, '-f', file]);
    return readFileSync(`${file}.pub`, 'utf8').trim();
  };

  before(async () => {
    browser = await launchBrowser();
    plane = await startTestControlPlane(join(dir, 'data'), mac, machine);
    await plane.api('POST', '/v1/tenants', { name: 'acme' });
    await plane.api('POST', '/v1/tenants', { name: 'globex' });
    await plane.api('POST', '/v1/servers', { name: 'web-2', tenant: 'acme', macs: [mac], bmc: plane.bmc.record });
    await plane.api('POST', '/v1/users', { name: 'alice', role: 'customer', tenant: 'acme', password });
    // Another tenant's key is never offered.
    await plane.api('POST', '/v1/keys', { name: 'globex-key', publicKey: publicKey('globex'), tenant: 'globex' });
  });
  after(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await plane?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('offers the keys added under Account and sends the chosen names with the pasted key', async () => {
    const { context, page } = await openPage(browser, plane.url);
    contexts.push(context);
    await signIn(page, 'alice', password);
    // Two keys added the way a customer does, on the account page.
    await page.goto(`${plane.url}/account`);
    for (const name of ['laptop', 'desk']) {
      await page.locator('input[name="keyName"]').fill(name);
      await page.locator('textarea[name="publicKey"]').fill(publicKey(name));
      await page.getByRole('button', { name: 'Save the key' }).click();
      await page.getByRole('button', { name: `Remove the key ${name}` }).waitFor();
    }

    await page.goto(`${plane.url}/servers/web-2`);
    const picker = page.getByRole('group', { name: 'SSH keys from your account (optional)' });
    await picker.getByRole('checkbox', { name: /laptop/ }).waitFor();
    assert.equal(await picker.getByRole('checkbox').count(), 2, 'only the tenant’s own keys');
    await picker.getByRole('checkbox', { name: /laptop/ }).check();
    const pasted = publicKey('pasted');
    await page.getByLabel('SSH public keys (one per line, optional)').fill(pasted);
    await checkPage(page, 'enter-rescue-keys-desktop-en');

    const request = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/v1/servers/web-2/rescue'));
    await page.getByRole('button', { name: 'Enter rescue' }).click();
    const body = (await request).postDataJSON() as { keys?: string[]; sshKeys?: string[] };
    assert.deepEqual(body.keys, ['laptop']);
    assert.deepEqual(body.sshKeys, [pasted]);
    await waitFor('web-2 entering rescue', async () => (await plane.api<{ state: string }>('GET', '/v1/servers/web-2')).state !== 'active');
    const rescue = await plane.api<{ ssh: { password?: string }; passwordLogin: boolean | null }>('GET', '/v1/servers/web-2/rescue');
    assert.equal(rescue.ssh.password, undefined);
    assert.equal(await page.getByRole('heading', { name: 'Temporary root password' }).count(), 0, 'with keys, no password is shown');
  });
});
