/**
 * The rescue doctor on a server's page, in real Chromium against a real control plane, with the rescue
 * system's agent played through the public agent API (./rescue-agent-player.ts): the report appears
 * live (running, then its findings) without reload; Fix asks in a dialog (keyboard: Enter opens it,
 * Escape closes it and gives the focus back, Tab and Enter confirm), the page follows the fix while the
 * agent works and lists the changed file and its copy; Undo puts the file back byte for byte; the
 * root-password fix shows the new password once; a fix the agent refuses is a sentence; outside rescue
 * the last report is read-only. One browser, one rescue; English desktop and French phone.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DoctorReport } from '@lifeboat/core';
import { brokenDoctorReport, brokenSystemFiles, startTestControlPlane, waitFor, type TestControlPlane } from '@lifeboat/test-support';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { checkPage, launchBrowser, openPage, signIn } from './browser.js';
import { PlayedMachine, type PlayedDoctorFix } from './rescue-agent-player.js';

const mac = '52:54:00:aa:cc:01';
const password = 'correct horse battery staple';
const fstab = brokenSystemFiles['/etc/fstab'];
const done = brokenDoctorReport();
const running: DoctorReport = { state: 'running', startedAt: done.startedAt, findings: [] };
const fixes: Record<string, PlayedDoctorFix> = {
  'fstab-data': { file: '/etc/fstab', change: (text) => text.replace('/data ext4 defaults', '/data ext4 defaults,nofail') },
  'root-login': { file: '/etc/shadow', change: (text, hash) => text.replace(/^root:[^:]*:/m, `root:${hash}:`) },
};

describe('the rescue doctor in the web console', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-web-doctor-'));
  const disks = join(dir, 'disks');
  let plane: TestControlPlane;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let page: Page;
  /** The machine behind web-1's BMC: booting into rescue starts the played agent. */
  const machine = new PlayedMachine(() => plane.url, disks);

  async function session(options: { viewport?: 'desktop' | 'phone'; locale?: string } = {}): Promise<Page> {
    const opened = await openPage(browser, plane.url, options);
    contexts.push(opened.context);
    await signIn(opened.page, 'alice', password);
    await opened.page.goto(`${plane.url}/servers/web-1`);
    await opened.page.getByRole('heading', { level: 1, name: 'web-1' }).waitFor();
    return opened.page;
  }
  const finding = (id: string) => page.locator(`[data-finding="${id}"]`);
  // The function runs in the page: its globals are the page's.
  const focused = () => page.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string | null } | null } }).document.activeElement?.textContent ?? '');
  const file = (path: string) => readFileSync(join(disks, 'sda1', path), 'utf8');

  before(async () => {
    mkdirSync(join(disks, 'sda1/etc'), { recursive: true });
    for (const [path, text] of Object.entries(brokenSystemFiles)) writeFileSync(join(disks, 'sda1', path), text);
    browser = await launchBrowser();
    plane = await startTestControlPlane(join(dir, 'data'), mac, machine);
    await plane.api('POST', '/v1/tenants', { name: 'acme' });
    await plane.api('POST', '/v1/servers', { name: 'web-1', tenant: 'acme', macs: [mac], bmc: plane.bmc.record });
    await plane.api('POST', '/v1/users', { name: 'alice', role: 'customer', tenant: 'acme', password });
    await plane.api('POST', '/v1/servers/web-1/rescue', {}, 202);
    await waitFor('web-1 in rescue', async () => (await plane.api<{ state: string }>('GET', '/v1/servers/web-1')).state === 'rescue', 60_000);
  });
  after(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await plane?.close();
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(machine.bootFailures, []);
  });

  it('shows the report live, most serious first, with its evidence', async () => {
    page = await session();
    const section = page.getByRole('region', { name: 'Rescue doctor' });
    await section.getByText('The doctor examines the installed system read-only once the rescue system is ready').waitFor();
    // The agent reports; the page follows without reload.
    await machine.player!.reportDoctor(running);
    await section.getByText('Examining', { exact: true }).waitFor();
    await machine.player!.reportDoctor(done, fixes);
    await section.getByText(/^Examined \/dev\/sda1 \(ext4\) in 4\s?s, /).waitFor();
    await section.getByText('4 findings, most serious first').waitFor();
    const order = await page.locator('[data-finding]').evaluateAll((cards) => cards.map((c) => c.getAttribute('data-finding')));
    assert.deepEqual(order, ['fstab-data', 'firewall-nftables', 'root-login', 'journal']);
    await finding('fstab-data').getByText('Critical').waitFor();
    await finding('fstab-data').getByText('/etc/fstab:2').waitFor();
    await finding('fstab-data').getByText('Add nofail to line 2 of /etc/fstab').waitFor();
    const output = finding('journal').locator('pre');
    assert.match(await output.innerText(), /Timed out waiting for device[\s\S]*Dependency failed for \/data/);
    await finding('journal').getByText('Output of journalctl --directory /var/log/journal -b 0 -p err:').waitFor();
    assert.equal(await finding('journal').getByRole('button').count(), 0, 'no fix, no button');
  });

  it('applies a fix by keyboard behind a confirm dialog, follows it, lists the file and its copy; undo puts it back', async () => {
    const fix = finding('fstab-data').getByRole('button', { name: 'Fix: File systems mounted at boot (fstab-data)' });
    await fix.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Apply the fix: File systems mounted at boot?' });
    await dialog.waitFor();
    await dialog.getByText('A copy of every changed file is kept beside it').waitFor();
    assert.equal(await focused(), 'Cancel', 'the dialog opens on the safe answer');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await fix.evaluate((button) => button === (globalThis as unknown as { document: { activeElement: unknown } }).document.activeElement), true, 'the focus is back on Fix');
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Apply the fix');
    await page.keyboard.press('Enter');

    const work = await machine.player!.nextDoctorWork();
    assert.deepEqual([work.kind, work.params], ['doctor_fix', { findingId: 'fstab-data' }]);
    await finding('fstab-data').getByText('The rescue system is applying the fix…').waitFor();
    assert.equal(await fix.isDisabled(), true, 'no second fix while one runs');
    await work.answer();
    await finding('fstab-data').getByText('Applied', { exact: true }).waitFor();
    await finding('fstab-data').getByText('/etc/fstab', { exact: true }).waitFor();
    const backup = await finding('fstab-data').locator('.changed-files code').nth(1).innerText();
    assert.match(backup, /^\/etc\/fstab\.lifeboat-\d{8}T\d{6}Z$/);
    assert.match(file('/etc/fstab'), /\/data ext4 defaults,nofail 0 2/);
    assert.equal(file(backup), fstab, 'the copy is the file as it was');
    await checkPage(page, 'doctor-desktop-en');

    await finding('fstab-data').getByRole('button', { name: 'Undo the fix: File systems mounted at boot (fstab-data)' }).click();
    const undo = page.getByRole('dialog', { name: 'Undo the fix: File systems mounted at boot?' });
    await undo.getByText('the files this fix changed: /etc/fstab.').waitFor();
    await undo.getByRole('button', { name: 'Put the files back' }).click();
    const undone = await machine.player!.nextDoctorWork();
    assert.equal(undone.kind, 'doctor_undo');
    await undone.answer();
    await finding('fstab-data').getByText('Not applied', { exact: true }).waitFor();
    await finding('fstab-data').getByRole('button', { name: 'Fix: File systems mounted at boot (fstab-data)' }).waitFor();
    assert.equal(file('/etc/fstab'), fstab, 'byte for byte');
    assert.deepEqual(readdirSync(join(disks, 'sda1/etc')).sort(), ['fstab', 'shadow']);
  });

  it('shows the new root password once and only its hash reaches the rescue system; a refused fix is a sentence', async () => {
    await finding('root-login').getByRole('button', { name: 'Fix: Root login (root-login)' }).click();
    const dialog = page.getByRole('dialog', { name: 'Apply the fix: Root login?' });
    await dialog.getByText('A new root password is generated: only its hash reaches the server').waitFor();
    await dialog.getByRole('button', { name: 'Apply the fix' }).click();
    const secret = page.locator('[data-secret="true"]');
    const shown = await secret.innerText();
    assert.ok(shown.length >= 12, 'a generated password is shown');
    const work = await machine.player!.nextDoctorWork();
    assert.match(work.params.passwordHash ?? '', /^\$6\$/);
    assert.equal(work.params.passwordHash!.includes(shown), false);
    await work.answer();
    await finding('root-login').getByText('Applied', { exact: true }).waitFor();
    assert.match(file('/etc/shadow'), /^root:\$6\$/);
    await page.getByRole('button', { name: 'I have saved it' }).click();
    assert.equal(await secret.count(), 0);
    await page.reload();
    await finding('root-login').getByText('Applied', { exact: true }).waitFor();
    assert.equal((await page.locator('main').innerText()).includes(shown), false, 'never shown again');
    const view = await plane.api<unknown>('GET', '/v1/servers/web-1/doctor');
    assert.equal(JSON.stringify(view).includes(shown), false, 'not in the API either');

    await finding('firewall-nftables').getByRole('button', { name: 'Fix: Firewall (firewall-nftables)' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Apply the fix' }).click();
    const refused = await machine.player!.nextDoctorWork();
    await refused.refuse('DOCTOR_FILE_CHANGED', '/etc/nftables.conf changed since the check');
    await finding('firewall-nftables').getByRole('alert').getByText('The fix was not applied: A file this fix changes was modified since the check').waitFor();
    await finding('firewall-nftables').getByRole('button', { name: 'Fix: Firewall (firewall-nftables)' }).waitFor();
  });

  it('speaks French on a phone', async () => {
    const phone = await session({ viewport: 'phone', locale: 'fr-FR' });
    const section = phone.getByRole('region', { name: 'Docteur du secours' });
    await section.getByText('4 constats, les plus graves d’abord').waitFor();
    await phone.locator('[data-finding="fstab-data"]').getByText('Critique').waitFor();
    await phone.locator('[data-finding="root-login"]').getByText('Appliquée', { exact: true }).waitFor();
    await phone.locator('[data-finding="firewall-nftables"]').getByText('La correction n’a pas été appliquée : Un fichier que cette correction modifie a changé').waitFor();
    await phone.getByRole('button', { name: 'Corriger : Systèmes de fichiers montés au démarrage (fstab-data)' }).click();
    await phone.getByRole('dialog', { name: 'Appliquer la correction : Systèmes de fichiers montés au démarrage ?' }).waitFor();
    await checkPage(phone, 'doctor-dialog-phone-fr');
    await phone.keyboard.press('Escape');
    await phone.getByRole('dialog').waitFor({ state: 'hidden' });
    await checkPage(phone, 'doctor-phone-fr');
  });

  it('keeps the last rescue\'s report read-only once the server is back', async () => {
    await plane.api('POST', '/v1/servers/web-1/rescue/exit', undefined, 202);
    // The open page follows the exit live: the same report, now the last rescue's, without buttons.
    const section = page.getByRole('region', { name: 'Rescue doctor: the last rescue’s report' });
    await section.getByText(/^Read only: what the doctor found during the rescue started/).waitFor({ timeout: 60_000 });
    await section.getByText('4 findings, most serious first').waitFor();
    await finding('root-login').getByText('Applied', { exact: true }).waitFor();
    assert.equal(await section.getByRole('button').count(), 0, 'no fix outside rescue');
    assert.equal((await plane.api<{ state: string }>('GET', '/v1/servers/web-1')).state, 'active');
  });
});
