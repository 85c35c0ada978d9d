/**
 * The feature pages in real Chromium against a real control plane: hardware tests (live progress,
 * cancel, output, history), the partition explorer (browse, view, download a file and a folder, the
 * journal), incidents (declare with results attached, the queue, comment, acknowledge, resolve),
 * the operator's pages (fleet, BMC validation, register, audit, sessions, users and tokens), the
 * account (e-mail, own tokens, password), and tenant isolation through the UI and the cookie API.
 * The rescue system's agent is played through the public agent API (./rescue-agent-player.ts).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestBmc, startTestControlPlane, waitFor, type TestBmc, type TestControlPlane } from '@lifeboat/test-support';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { checkPage, launchBrowser, openPage, signIn } from './browser.js';
import { PlayedMachine } from './rescue-agent-player.js';

const mac = '52:54:00:aa:bb:01';
const password = 'correct horse battery staple';

describe('feature pages in Chromium (tests, files, incidents, operator, account)', { timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-web-pages-'));
  const disks = join(dir, 'disks');
  let plane: TestControlPlane;
  /** The Redfish BMCs of db-1 and of web-2 (registered in the page), in front of machines that only record. */
  let db1Bmc: TestBmc;
  let web2Bmc: TestBmc;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  /** The machine behind web-1's BMC: booting into rescue starts the played agent. */
  const machine = new PlayedMachine(() => plane.url, disks);

  /** A signed-in page of `user` (a fresh context: its own cookie). */
  async function session(user: string, options: { viewport?: 'desktop' | 'phone'; locale?: string } = {}): Promise<Page> {
    const { context, page } = await openPage(browser, plane.url, options);
    contexts.push(context);
    await signIn(page, user, password);
    return page;
  }
  /** Goes to a console path the way a user does (the app's router, no reload). */
  async function go(page: Page, path: string): Promise<void> {
    await page.goto(`${plane.url}${path}`);
    await page.locator('main h1').first().waitFor();
  }

  before(async () => {
    for (const [path, text] of [
      ['sda1/etc/fstab', 'UUID=0a1b / ext4 defaults 0 1\nUUID=2c3d /home ext4 defaults 0 2\n'],
      ['sda1/etc/hostname', 'web-1\n'],
      ['sda1/var/log/journal.txt', 'Nov 30 03:00:01 web-1 systemd[1]: <info> Started sshd.\nNov 30 03:00:02 web-1 kernel: <err> ata1.00: failed command: READ FPDMA QUEUED\nNov 30 03:00:03 web-1 kernel: <err> EXT4-fs error (device sda1)\n'],
      ['sda1/home/alice/notes.txt', 'back up /srv before Friday\n'],
    ] as const) {
      mkdirSync(join(disks, path, '..'), { recursive: true });
      writeFileSync(join(disks, path), text);
    }
    browser = await launchBrowser();
    plane = await startTestControlPlane(join(dir, 'data'), mac, machine);
    await plane.api('POST', '/v1/tenants', { name: 'acme' });
    await plane.api('POST', '/v1/tenants', { name: 'globex' });
    await plane.api('POST', '/v1/servers', { name: 'web-1', tenant: 'acme', macs: [mac], bmc: plane.bmc.record, sshEndpoint: '127.0.0.1:2222' });
    db1Bmc = await startTestBmc({ controlPlaneUrl: plane.url, mac: '52:54:00:aa:bb:02', password: 'bmc-secret' });
    web2Bmc = await startTestBmc({ controlPlaneUrl: plane.url, mac: '52:54:00:aa:bb:03', password: 'another-secret' });
    await plane.api('POST', '/v1/servers', { name: 'db-1', tenant: 'globex', macs: ['52:54:00:aa:bb:02'], bmc: db1Bmc.record });
    for (const [name, role, tenant] of [['alice', 'customer', 'acme'], ['gina', 'customer', 'globex'], ['tom', 'technician', undefined], ['olga', 'operator', undefined]] as const) {
      await plane.api('POST', '/v1/users', { name, role, ...(tenant ? { tenant } : {}), password });
    }
    // web-1 goes into rescue (the rescue flow itself is the shell's test); a 20 minute lease makes it
    // a session "about to expire" for the technicians' watch list.
    await plane.api('POST', '/v1/servers/web-1/rescue', { expiresIn: '20m' }, 202);
    await waitFor('web-1 in rescue', async () => (await plane.api<{ state: string }>('GET', '/v1/servers/web-1')).state === 'rescue', 60_000);
  });
  after(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await plane?.close();
    await db1Bmc?.close();
    await web2Bmc?.close();
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(machine.bootFailures, []);
  });

  let cpuTestId = '';

  it('runs hardware tests with live progress bars, cancels one, shows results, output and history', async () => {
    const page = await session('alice');
    await go(page, '/servers/web-1/tests');
    await page.getByRole('heading', { level: 1, name: 'Hardware tests of web-1' }).waitFor();

    await page.locator('select[name="kind"]').selectOption('cpu');
    await page.getByLabel('Duration (e.g. 60s, 10m)').fill('30s');
    await page.getByRole('button', { name: 'Start the test' }).click();
    const cpu = await machine.player!.nextTest();
    assert.deepEqual([cpu.params.kind, cpu.params.durationSeconds], ['cpu', 30]);
    cpuTestId = cpu.params.testId;
    const card = page.locator(`[data-test-id="${cpuTestId}"]`);
    // The bar moves with the agent's reports, without a reload (SSE `test` events).
    assert.equal(await cpu.progress(40, 'stress-ng: 12 s of 30 s', 'stress-ng: dispatching hogs: 2 cpu\n'), false);
    await card.getByText('stress-ng: 12 s of 30 s').waitFor();
    await waitFor('the bar at 40 %', async () => (await card.getByRole('progressbar').getAttribute('value')) === '40', 10_000);
    await card.getByText('Running').waitFor();
    await checkPage(page, 'tests-running-desktop-en');

    // A second test, cancelled from the page: the agent's next report learns it and stops.
    await page.locator('select[name="kind"]').selectOption('memory');
    await page.getByLabel('Memory to test (e.g. 256M, 2G)').fill('64M');
    await page.getByRole('button', { name: 'Start the test' }).click();
    const memory = await machine.player!.nextTest();
    assert.deepEqual([memory.params.kind, memory.params.sizeBytes], ['memory', 64 * 1024 * 1024]);
    await memory.progress(5, 'memtester: pass 1 of 1, stuck address');
    const memoryCard = page.locator(`[data-test-id="${memory.params.testId}"]`);
    await memoryCard.getByRole('button', { name: 'Cancel Memory test' }).click();
    await waitFor('the agent told to cancel', () => memory.progress(6, 'memtester: random value'), 10_000);
    await memory.finish({ status: 'cancelled', summary: 'cancelled by the user', result: null });
    await memoryCard.getByText('Cancelled', { exact: true }).waitFor();

    await cpu.finish({ status: 'passed', summary: 'stress-ng: 30 s on 2 CPUs, no error', result: { bogoOps: 123456, errors: 0 }, output: 'stress-ng: successful run completed in 30.00s\n' });
    await card.getByText('Passed', { exact: true }).waitFor();
    assert.equal(await card.getByRole('progressbar').count(), 0, 'a finished test has no bar');
    await card.getByRole('button', { name: 'Show the full output of CPU stress' }).click();
    const output = card.getByRole('region').or(card.locator('pre.output')).last();
    await output.getByText('successful run completed').waitFor();
    assert.match(await output.innerText(), /dispatching hogs[\s\S]*successful run completed/);
    await card.getByText('Results').click();
    await card.getByText('"bogoOps": 123456').waitFor();

    // History, newest first, the same after a reload.
    await page.reload();
    await page.locator('[data-test-id]').first().waitFor();
    const order = await page.locator('[data-test-id]').evaluateAll((cards) => cards.map((c) => c.getAttribute('data-test-id')));
    assert.deepEqual(order, [memory.params.testId, cpuTestId]);
    await checkPage(page, 'tests-history-desktop-en');
  });

  it('explores a partition: browse, view a file, download a file and a folder (tar), read the journal', async () => {
    const page = await session('alice', { viewport: 'phone' });
    await go(page, '/servers/web-1/files');
    await page.locator('select[name="device"]').selectOption('sda1');
    await page.getByRole('button', { name: 'etc/' }).click();
    await page.getByRole('button', { name: 'View fstab' }).click();
    const viewer = page.getByRole('region', { name: '/etc/fstab' }).or(page.locator('section', { has: page.getByRole('heading', { name: '/etc/fstab' }) }));
    await viewer.getByText('UUID=2c3d /home').waitFor();
    await checkPage(page, 'files-view-phone-en');

    const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download hostname' }).click()]);
    assert.equal(file.suggestedFilename(), 'hostname');
    assert.equal(readFileSync((await file.path())!, 'utf8'), 'web-1\n');

    const [folder] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download /etc (tar)' }).click()]);
    const tarPath = (await folder.path())!;
    const listed = execFileSync('tar', ['-tf', tarPath], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
    assert.deepEqual(listed, ['./', './fstab', './hostname']);

    await page.getByLabel('Partition holding /var/log/journal').fill('sda1');
    await page.locator('select[name="priority"]').selectOption('err');
    await page.getByRole('button', { name: 'Read the journal' }).click();
    const journal = page.getByLabel('Journal', { exact: true });
    await journal.getByText('EXT4-fs error').waitFor();
    assert.doesNotMatch(await journal.innerText(), /Started sshd/, 'only err lines');

    // An error of the agent is a sentence, not a code.
    await page.getByLabel('Or type a device').fill('sdz9');
    await page.getByRole('button', { name: 'Open', exact: true }).click();
    await page.getByRole('alert').first().waitFor();
    assert.doesNotMatch(await page.getByRole('alert').first().innerText(), /DEVICE_NOT_FOUND/);
    await checkPage(page, 'files-journal-phone-en');
  });

  let incidentId = '';

  it('declares an incident with a test result attached; the customer sees it and comments', async () => {
    const page = await session('alice', { locale: 'fr-FR' });
    await go(page, '/servers/web-1/incidents/new');
    await page.getByLabel('Objet').fill('Le disque sda fait des erreurs');
    await page.getByLabel('Ce qui se passe').fill('Erreurs EXT4 dans le journal depuis cette nuit.');
    await page.getByRole('checkbox', { name: /Charge processeur/ }).check();
    await page.getByRole('button', { name: 'Déclarer l’incident' }).click();
    await page.getByRole('heading', { level: 1, name: 'Le disque sda fait des erreurs' }).waitFor();
    incidentId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
    await page.getByText('stress-ng: 30 s on 2 CPUs, no error').waitFor();
    await page.getByLabel('Votre commentaire').fill('Le serveur est en secours, vous pouvez regarder.');
    await page.getByRole('button', { name: 'Ajouter le commentaire' }).click();
    await page.getByText('Le serveur est en secours, vous pouvez regarder.').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Prendre en charge' }).count(), 0, 'a customer does not handle incidents');
    await checkPage(page, 'incident-customer-desktop-fr');
    await go(page, '/incidents');
    await page.getByRole('link', { name: 'Le disque sda fait des erreurs' }).waitFor();
  });

  it('lets a technician work the queue: acknowledge, comment, resolve; a refused action is a sentence', async () => {
    const page = await session('tom');
    await go(page, '/incidents');
    await page.getByRole('heading', { level: 1, name: 'Incident queue' }).waitFor();
    await page.getByRole('link', { name: 'Le disque sda fait des erreurs' }).click();
    await page.getByRole('button', { name: 'Acknowledge' }).click();
    await page.getByText('Being handled').first().waitFor();
    // web-1 is in rescue already: the control plane refuses, the page says why in words.
    await page.getByRole('button', { name: 'Put web-1 in rescue' }).click();
    await page.getByRole('alert').getByText('The server cannot do this in its current state').waitFor();
    await page.getByLabel('Your comment').fill('Disk replaced in slot 1.');
    await page.getByRole('button', { name: 'Add the comment' }).click();
    await page.getByText('Disk replaced in slot 1.').waitFor();
    await page.getByLabel('Resolution (kept as a comment)').fill('sda replaced, array rebuilt.');
    await page.getByRole('button', { name: 'Resolve' }).click();
    await page.getByText('Resolved', { exact: true }).first().waitFor();
    await checkPage(page, 'incident-technician-desktop-en');
    const detail = await plane.api<{ incident: { state: string; resolution: string }; comments: Array<{ role: string }> }>('GET', `/v1/incidents/${incidentId}`);
    assert.deepEqual([detail.incident.state, detail.incident.resolution], ['resolved', 'sda replaced, array rebuilt.']);
    assert.deepEqual(detail.comments.map((c) => c.role), ['customer', 'technician', 'technician']);

    await go(page, '/sessions');
    const row = page.getByRole('row', { name: /web-1/ });
    await row.getByText('Lease ends soon').waitFor();
    await checkPage(page, 'sessions-technician-desktop-en');
  });

  it('gives operators the fleet across tenants, BMC validation, registration, the audit log, users and tokens', async () => {
    const page = await session('olga');
    await go(page, '/fleet');
    await page.getByRole('row', { name: /db-1/ }).waitFor();
    await page.locator('select[name="tenant"]').selectOption('globex');
    await waitFor('only globex', async () => (await page.getByRole('row').count()) === 2, 5_000);
    await page.getByRole('button', { name: 'Validate BMC of db-1' }).click();
    await page.getByText(/^BMC answered \(redfish\); power is (on|off)\.$/).waitFor();
    await checkPage(page, 'fleet-operator-desktop-en');

    await page.getByRole('link', { name: 'Register a server' }).click();
    await page.getByLabel('Name', { exact: true }).fill('web-2');
    await page.locator('select[name="tenant"]').selectOption('acme');
    await page.getByLabel('MAC addresses (comma separated)').fill('52:54:00:aa:bb:03');
    await page.getByLabel('BMC address').fill(web2Bmc.record.url);
    await page.getByLabel('BMC user').fill('admin');
    await page.getByLabel('BMC password').fill('another-secret');
    await page.getByRole('button', { name: 'Register', exact: true }).click();
    await page.getByText('web-2 is registered for acme').waitFor();
    await page.getByRole('button', { name: 'Validate BMC of web-2' }).click();
    await page.getByText(/^BMC answered \(redfish\); power is (on|off)\.$/).waitFor();

    // Its BMC's password changed: the operator gives Lifeboat the new one, then validates.
    web2Bmc.setPassword('changed-bmc-secret');
    await go(page, '/fleet');
    await page.getByRole('link', { name: 'Change BMC of web-2' }).click();
    await page.getByText(`Now: redfish at ${web2Bmc.record.url}, user admin.`).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Save' }).isDisabled(), true, 'nothing to save yet');
    await page.getByLabel('New BMC password').fill('changed-bmc-secret');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('The BMC of web-2 is saved').waitFor();
    await page.getByRole('button', { name: 'Validate BMC of web-2' }).click();
    await page.getByText(/^BMC answered \(redfish\); power is (on|off)\.$/).waitFor();
    await checkPage(page, 'change-bmc-operator-desktop-en');

    await go(page, '/audit');
    await page.getByRole('cell', { name: 'server.add' }).first().waitFor();
    await page.locator('select[name="action"]').selectOption('incident');
    await page.getByRole('cell', { name: /^incident\./ }).first().waitFor();
    assert.equal(await page.getByRole('cell', { name: 'server.add' }).count(), 0);
    assert.doesNotMatch(await page.locator('main').innerText(), /another-secret|bmc-secret|changed-bmc-secret/, 'no BMC password in the audit page');
    await checkPage(page, 'audit-operator-desktop-en');

    await go(page, '/users');
    await page.getByLabel('Name', { exact: true }).fill('carol');
    await page.locator('select[name="userTenant"]').selectOption('acme');
    await page.getByRole('button', { name: 'Add the user' }).click();
    const generated = await page.locator('[data-secret="true"]').innerText();
    assert.ok(generated.length >= 12, 'a generated password is shown once');
    await page.getByRole('button', { name: 'I have saved it' }).click();
    assert.equal(await page.locator('[data-secret="true"]').count(), 0);
    await page.getByRole('cell', { name: 'carol', exact: true }).waitFor();
    const signedIn = await fetch(`${plane.url}/v1/auth/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'carol', password: generated }) });
    assert.equal(signedIn.status, 200, 'the shown password signs in');
    await page.getByRole('button', { name: 'Remove the user carol' }).click();
    await waitFor('carol removed', async () => (await page.getByRole('cell', { name: 'carol', exact: true }).count()) === 0, 5_000);

    await page.getByLabel('Token name').fill('backup-script');
    await page.locator('select[name="serviceTokenTenant"]').selectOption('acme');
    await page.getByRole('button', { name: 'Create the token' }).click();
    const token = await page.locator('[data-secret="true"]').innerText();
    const tokenId = (await page.getByRole('region', { name: /^Token / }).getAttribute('aria-label'))!.replace('Token ', '');
    assert.equal((await fetch(`${plane.url}/v1/servers`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    await page.getByRole('button', { name: 'I have saved it' }).click();
    await page.getByLabel('Token id to revoke').fill(tokenId);
    await page.getByRole('button', { name: 'Revoke' }).click();
    await page.getByText(`Token ${tokenId} is revoked.`).waitFor();
    assert.equal((await fetch(`${plane.url}/v1/servers`, { headers: { authorization: `Bearer ${token}` } })).status, 401);
    await checkPage(page, 'users-operator-desktop-en');
  });

  it('keeps the account: e-mail, own tokens shown once and revoked, password change', async () => {
    const page = await session('alice', { viewport: 'phone', locale: 'fr-FR' });
    await go(page, '/account');
    await page.getByLabel('E-mail', { exact: true }).fill('alice@acme.example');
    await page.getByRole('button', { name: 'Enregistrer', exact: true }).click();
    await page.getByText('Votre adresse e-mail est enregistrée.').waitFor();

    await page.getByLabel('Nom du jeton').fill('laptop');
    await page.getByRole('button', { name: 'Créer un jeton' }).click();
    const token = await page.locator('[data-secret="true"]').innerText();
    assert.equal((await fetch(`${plane.url}/v1/servers`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    await page.getByRole('button', { name: 'Je l’ai enregistré' }).click();
    await page.getByRole('button', { name: 'Révoquer le jeton laptop' }).click();
    await page.getByText('Vous n’avez aucun jeton.').waitFor();
    assert.equal((await fetch(`${plane.url}/v1/servers`, { headers: { authorization: `Bearer ${token}` } })).status, 401);

    await page.getByLabel('Mot de passe actuel').fill('not the password');
    await page.getByLabel('Nouveau mot de passe', { exact: true }).fill('a much longer passphrase');
    await page.getByLabel('Nouveau mot de passe, à nouveau').fill('a much longer passphrase');
    await page.getByRole('button', { name: 'Changer le mot de passe' }).click();
    await page.getByRole('alert').first().waitFor();
    await checkPage(page, 'account-phone-fr');
    await page.getByLabel('Mot de passe actuel').fill(password);
    await page.getByRole('button', { name: 'Changer le mot de passe' }).click();
    await page.getByText('Votre mot de passe est changé.').waitFor();
    const signedIn = await fetch(`${plane.url}/v1/auth/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'alice', password: 'a much longer passphrase' }) });
    assert.equal(signedIn.status, 200);
  });

  it('isolates tenants: another customer can neither see nor act on web-1, its tests, files or incident', async () => {
    const page = await session('gina');
    // Through the UI: each page answers as for a missing thing.
    for (const path of ['/servers/web-1/tests', '/servers/web-1/files']) {
      await go(page, path);
      await page.getByRole('alert').getByText('This server does not exist or is not yours.').first().waitFor();
    }
    await go(page, `/incidents/${encodeURIComponent(incidentId)}`);
    await page.getByRole('alert').getByText('This incident does not exist or is not yours.').waitFor();
    await go(page, '/incidents');
    await page.getByText('No incident.').waitFor();
    await checkPage(page, 'isolation-customer-desktop-en');

    // Through the cookie-authenticated API, from the page itself (its cookie, its CSRF token).
    const requests: Array<[string, string, unknown]> = [
      ['GET', '/v1/servers/web-1', undefined],
      ['GET', `/v1/servers/web-1/tests/${cpuTestId}`, undefined],
      ['GET', `/v1/servers/web-1/tests/${cpuTestId}/output`, undefined],
      ['POST', '/v1/servers/web-1/tests', { kind: 'cpu' }],
      ['POST', `/v1/servers/web-1/tests/${cpuTestId}/cancel`, undefined],
      ['GET', '/v1/servers/web-1/files/sda1?path=/', undefined],
      ['GET', '/v1/servers/web-1/files/sda1/download?path=/etc', undefined],
      ['GET', `/v1/incidents/${incidentId}`, undefined],
      ['POST', `/v1/incidents/${incidentId}/comments`, { message: 'hello' }],
      ['POST', '/v1/servers/web-1/incidents', { title: 'not mine' }],
    ];
    // No named functions in the page's code: the test's transpiler would wrap them in a helper the page lacks.
    const answers = await page.evaluate(async (list) => {
      const session = (await (await fetch('/v1/auth/session')).json()) as { csrfToken: string };
      const out: Array<[string, number, string | null]> = [];
      for (const [method, path, body] of list) {
        const response = await fetch(path, { method, headers: { 'x-csrf-token': session.csrfToken, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
        out.push([path, response.status, ((await response.json().catch(() => ({}))) as { code?: string }).code ?? null]);
      }
      return out;
    }, requests);
    for (const [path, status, code] of answers) {
      assert.equal(status, 404, `${path} answers 404`);
      assert.match(String(code), /^(SERVER|INCIDENT)_NOT_FOUND$/, `${path} answers like a missing thing`);
    }
    const listed = await page.evaluate(async () => (await (await fetch('/v1/servers')).json()) as { servers: Array<{ name: string }> });
    const servers = listed.servers.map((s) => s.name);
    assert.deepEqual(servers, ['db-1']);
  });
});
