/**
 * The rescue desktop page in real Chromium against a control plane process: its desktop route reaches a
 * desktop host (network namespace, OpenSSH's sshd, TigerVNC's Xtigervnc with an xterm on 127.0.0.1:5900
 * inside it, as in the windows rescue) over SSH with the desktop key, which the played agent's
 * `authorized_keys` line allows (`startDesktopHost` of test-support). noVNC draws the xterm; keys typed
 * on the canvas run commands in it, not with View only; Paste text reaches the desktop's clipboard (a
 * middle click pastes it into the xterm, which runs it); a desktop that cannot be reached says so and
 * Reconnect comes back. The keyboard alone goes in (Tab) and out (Ctrl+Alt+Shift, to the controls) with
 * no key left down on the desktop; text selected on the desktop shows in the page's clipboard panel and
 * copies from there; the page says how many view the desktop. Without a desktop (a linux rescue, no rescue), the page says why and the way
 * there; another tenant's server answers like a missing one; a signed-out browser gets the sign-in
 * page. English desktop and French phone, screenshots and axe.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { desktopAuthorizedKeyLine, LifeboatClient } from '@lifeboat/core';
import { freePort, playAgent, startControlPlaneProcess, startDesktopHost, startTestBmc, waitFor, type ControlPlaneProcess, type DesktopHost, type TestBmc } from '@lifeboat/test-support';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { checkPage, launchBrowser, openPage, signIn, signedInPage, type OpenOptions } from './browser.js';

const password = 'correct horse battery staple';
const macs = { 'win-1': '52:54:00:de:5b:01', 'lin-1': '52:54:00:de:5b:02', 'db-1': '52:54:00:de:5b:03' } as const;

describe('the rescue desktop page in Chromium', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-web-desktop-'));
  // Where the desktop's xterm leaves its marks (the host shares this machine's file system).
  const marks = join(dir, 'marks');
  let host: DesktopHost;
  let plane: ControlPlaneProcess;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let alice: Page;
  /** The `authorized_keys` line of the control plane's desktop key, as the agent writes it. */
  let desktopKeyLine: string;

  const session = (user: string, path: string, options: OpenOptions = {}): Promise<Page> => signedInPage(browser, plane.url, contexts, { user, password }, path, options);
  const canvas = (page: Page): Locator => page.getByTestId('desktop-screen').locator('canvas');
  /** How many pixels of the canvas are not black (the screen's background): the xterm's white window. */
  const litPixels = (page: Page) =>
    canvas(page).evaluate((element) => {
      const screen = element as unknown as { width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } };
      const { data } = screen.getContext('2d').getImageData(0, 0, screen.width, screen.height);
      let lit = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i]! + data[i + 1]! + data[i + 2]! > 96) lit++;
      return lit;
    });
  /** Clicks into the xterm (at 24+24 on the remote screen, 80x20 characters) and types a line. */
  async function typeLine(page: Page, text: string): Promise<void> {
    await canvas(page).click({ position: { x: 120, y: 90 } });
    await page.keyboard.type(text);
    await page.keyboard.press('Enter');
  }
  const mark = (name: string) => join(marks, name);
  /** Where a point of the remote screen is on the canvas element (noVNC scales the canvas with CSS). */
  const onCanvas = (page: Page, x: number, y: number) =>
    canvas(page).evaluate(
      (element, [rx, ry]) => {
        const screen = element as unknown as { width: number; height: number; getBoundingClientRect(): { width: number; height: number } };
        const box = screen.getBoundingClientRect();
        return { x: (rx! * box.width) / screen.width, y: (ry! * box.height) / screen.height };
      },
      [x, y],
    );
  /** What has the keyboard focus: the canvas, or a control's name. */
  const focused = (page: Page) =>
    page.evaluate(() => {
      const element = (globalThis as unknown as { document: { activeElement: { tagName: string; textContent: string | null; closest(selector: string): unknown } | null } }).document.activeElement;
      if (element === null) return { tag: 'none', text: '', inControls: false };
      return { tag: element.tagName, text: (element.textContent ?? '').trim(), inControls: element.closest('[role="group"][aria-label="Desktop controls"]') !== null };
    });
  const connected = (page: Page) => page.getByRole('status').filter({ hasText: /^Connected: your keyboard and mouse go to the desktop\.$/ }).waitFor({ timeout: 30_000 });

  const bmcs: TestBmc[] = [];

  before(async () => {
    mkdirSync(marks);
    host = await startDesktopHost();
    browser = await launchBrowser();
    // The windows profile's image: a stand-in of its three files (the desktop host plays the booted rescue).
    const windowsImage = join(dir, 'windows-image');
    mkdirSync(windowsImage);
    for (const file of ['vmlinuz', 'initrd', 'rootfs.squashfs']) writeFileSync(join(windowsImage, file), `stand-in ${file}\n`);
    plane = await startControlPlaneProcess({
      dataDir: join(dir, 'data'),
      port: await freePort(),
      flags: ['--image-profile', `windows=${windowsImage}`],
    });
    const admin = new LifeboatClient({ url: plane.url, token: plane.adminToken() });
    for (const tenant of ['acme', 'globex']) await admin.addTenant({ name: tenant });
    for (const [name, mac] of Object.entries(macs)) {
      // Each server's BMC: the lab's Redfish simulator in front of a machine that records its rescue boots.
      const bmc = await startTestBmc({ controlPlaneUrl: plane.url, mac });
      bmcs.push(bmc);
      await admin.addServer({ name, tenant: 'acme', macs: [mac], bmc: bmc.record, sshEndpoint: host.sshEndpoint, profiles: ['linux', 'windows'] });
    }
    await admin.addUser({ name: 'alice', role: 'customer', tenant: 'acme', password });
    await admin.addUser({ name: 'gina', role: 'customer', tenant: 'globex', password });

    // rescue enter --profile windows; the played agent reports the desktop host's sshd host keys, and
    // the host authorizes the control plane's desktop key as the agent does.
    await admin.enterRescue('win-1', { profile: 'windows' });
    const agent = await playAgent(plane.url, macs['win-1']);
    assert.match(agent.config.desktopKey ?? '', /^ssh-ed25519 /);
    const reported = await agent.call('POST', '/host-keys', { hostKeys: host.hostKeys });
    assert.equal(reported.status, 200, JSON.stringify(reported.body));
    desktopKeyLine = desktopAuthorizedKeyLine(agent.config.desktopKey!);
    host.authorize([desktopKeyLine]);
    await admin.enterRescue('lin-1', { profile: 'linux' });
    await playAgent(plane.url, macs['lin-1']);
    await waitFor('win-1 desktop available', async () => (await admin.getDesktop('win-1')).available);
  });
  after(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await plane?.stop('SIGTERM');
    for (const bmc of bmcs) await bmc.close();
    await host?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('opens from the server page and shows the xterm; keys typed on the screen run in it', async () => {
    alice = await session('alice', '/servers/win-1');
    await alice.getByRole('navigation', { name: 'Pages of win-1' }).getByRole('link', { name: 'Desktop' }).click();
    await alice.getByRole('heading', { level: 1, name: 'Desktop of win-1' }).waitFor();
    await connected(alice);
    await waitFor('the xterm on the canvas', async () => (await litPixels(alice)) > 10_000, 20_000, 100);
    await typeLine(alice, `touch ${mark('typed')}`);
    await waitFor('the typed command to run on the desktop', () => existsSync(mark('typed')), 20_000, 100);
    await alice.getByText('ssh -N -L 5900:127.0.0.1:5900').waitFor();
    await alice.getByText('vncviewer localhost:5900').waitFor();
    await checkPage(alice, 'desktop-desktop-en');
  });

  it('sends no key with View only', async () => {
    await alice.getByLabel('View only').check();
    await alice.getByRole('status').filter({ hasText: 'Connected, view only' }).waitFor();
    assert.equal(await alice.getByRole('button', { name: 'Send to the desktop' }).isDisabled(), true);
    await typeLine(alice, `touch ${mark('view-only')}`);
    await alice.getByLabel('View only').uncheck();
    await connected(alice);
    // Typed after the view-only keys: once this runs, those had their chance and did not arrive.
    await typeLine(alice, `touch ${mark('after-view-only')}`);
    await waitFor('the command typed after view only', () => existsSync(mark('after-view-only')), 20_000, 100);
    assert.equal(existsSync(mark('view-only')), false, 'a key typed with View only reached the desktop');
  });

  it('pastes text into the desktop\'s clipboard', async () => {
    const text = `echo pasted-${process.pid} > ${mark('pasted')}`;
    await alice.getByLabel('Text for the desktop’s clipboard').fill(text);
    await alice.getByRole('button', { name: 'Send to the desktop' }).click();
    await alice.getByText('Sent: paste it on the desktop.').waitFor();
    // A middle click pastes the X selection the VNC server set into the xterm; Enter runs it.
    await canvas(alice).click({ position: { x: 120, y: 90 }, button: 'middle' });
    await canvas(alice).click({ position: { x: 120, y: 90 } });
    await alice.keyboard.press('Enter');
    await waitFor('the pasted command to run on the desktop', () => existsSync(mark('pasted')), 20_000, 100);
    assert.equal(readFileSync(mark('pasted'), 'utf8'), `pasted-${process.pid}\n`);
  });

  it('lets the keyboard alone in with Tab and out with Ctrl+Alt+Shift, leaving no key down on the desktop', async () => {
    const screen = alice.getByTestId('desktop-screen');
    assert.equal(await screen.getAttribute('aria-keyshortcuts'), 'Control+Alt+Shift');
    await alice.getByText('To get the keyboard back on the page, press Ctrl+Alt+Shift together and release them').waitFor();
    // In: from the last control, Tab reaches the screen and the keys go to the desktop.
    await alice.getByLabel('View only').focus();
    await alice.keyboard.press('Tab');
    await waitFor('the screen to have the keyboard', async () => (await focused(alice)).tag === 'CANVAS', 10_000, 50);
    await alice.keyboard.type(`touch ${mark('tabbed-in')}`);
    await alice.keyboard.press('Enter');
    await waitFor('the command typed after Tab to run on the desktop', () => existsSync(mark('tabbed-in')), 20_000, 100);
    // Out: the chord, pressed and released, puts the keyboard on the first control and says so.
    for (const key of ['Control', 'Alt', 'Shift']) await alice.keyboard.down(key);
    for (const key of ['Shift', 'Alt', 'Control']) await alice.keyboard.up(key);
    await alice.getByRole('status').filter({ hasText: 'The keyboard is back on the page.' }).waitFor();
    assert.deepEqual(await focused(alice), { tag: 'BUTTON', text: 'Reconnect', inControls: true });
    await alice.keyboard.press('Tab');
    assert.equal((await focused(alice)).inControls, true, 'Tab moves among the page\'s controls');
    // Typed on the page, these must not reach the desktop: they would run in front of the next command.
    await alice.keyboard.type('qqq');
    // Back in with Tab, and a command that runs only if no key (Ctrl, Alt, q) reached the desktop meanwhile.
    await waitFor('Tab to reach the screen again', async () => {
      if ((await focused(alice)).tag === 'CANVAS') return true;
      await alice.keyboard.press('Tab');
      return false;
    }, 10_000, 50);
    assert.equal(await alice.getByRole('status').filter({ hasText: 'The keyboard is back on the page.' }).count(), 0, 'the notice goes once the screen has the keyboard');
    await alice.keyboard.type(`touch ${mark('after-chord')}`);
    await alice.keyboard.press('Enter');
    await waitFor('the command typed after the chord to run on the desktop', () => existsSync(mark('after-chord')), 20_000, 100);
  });

  it('shows text selected on the desktop in the clipboard panel, to copy from there', async () => {
    await alice.getByTestId('desktop-copied-none').waitFor();
    const text = `copied-from-desktop-${process.pid}`;
    await typeLine(alice, `clear; echo ${text}`);
    // A triple click selects the xterm's first line (the xterm at 24,24; 6x13 characters, 2 px border).
    const line = await onCanvas(alice, 24 + 2 + 6 * 4, 24 + 2 + 6);
    await waitFor('the line to be selected and sent by the desktop', async () => {
      await canvas(alice).click({ position: line, clickCount: 3 });
      return alice.getByText(text, { exact: true }).isVisible();
    }, 20_000, 500);
    await alice.getByRole('button', { name: 'Copy Text copied on the desktop' }).click();
    assert.equal(await alice.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText()), `${text}\n`, 'the line as the xterm selected it, with its newline');
  });

  it('says how many view the desktop now', async () => {
    await alice.getByText('1 person views this desktop now (at most 8 at once).').waitFor({ timeout: 20_000 });
    const second = await session('alice', '/servers/win-1/desktop');
    await connected(second);
    await second.getByText('2 people view this desktop now (at most 8 at once).').waitFor({ timeout: 20_000 });
    // The first page learns it by itself.
    await alice.getByText('2 people view this desktop now (at most 8 at once).').waitFor({ timeout: 20_000 });
    await second.context().close();
    await alice.getByText('1 person views this desktop now (at most 8 at once).').waitFor({ timeout: 20_000 });
  });

  it('says when the desktop cannot be reached, and reconnects', async () => {
    // The rescue's sshd stops accepting the desktop key: the control plane refuses the upgrade (503).
    host.authorize([]);
    await alice.getByRole('button', { name: 'Reconnect' }).click();
    await alice.getByRole('status').filter({ hasText: 'Disconnected: The rescue desktop could not be reached. Wait a moment and reconnect.' }).waitFor({ timeout: 30_000 });
    host.authorize([desktopKeyLine]);
    await alice.getByRole('button', { name: 'Reconnect' }).click();
    await connected(alice);
  });

  it('says why a linux rescue has no desktop, and has no Desktop tab', async () => {
    const page = await session('alice', '/servers/lin-1/desktop');
    await page.getByRole('heading', { name: 'The desktop cannot be opened now' }).waitFor();
    await page.getByText('The rescue in progress uses the linux profile, which has no desktop. Exit the rescue, then enter it again with the Windows profile.').waitFor();
    assert.equal(await page.getByTestId('desktop-screen').count(), 0);
    await page.getByRole('link', { name: 'Go to the server to exit the rescue' }).click();
    await page.getByRole('heading', { level: 1, name: 'lin-1' }).waitFor();
    await page.getByRole('button', { name: 'Exit rescue' }).waitFor();
    assert.equal(await page.getByRole('navigation', { name: 'Pages of lin-1' }).getByRole('link', { name: 'Desktop' }).count(), 0);
  });

  it('offers a server not in rescue the way there: rescue with the Windows profile', async () => {
    const page = await session('alice', '/servers/db-1/desktop');
    await page.getByText('This server is not in rescue. The desktop comes with a rescue of the Windows profile').waitFor();
    await page.getByRole('link', { name: 'Enter rescue with the Windows profile' }).click();
    await page.getByRole('heading', { level: 1, name: 'db-1' }).waitFor();
    assert.equal(new URL(page.url()).search, '?profile=windows');
    assert.equal(await page.getByLabel('Rescue profile').inputValue(), 'windows');
  });

  it('answers another tenant like a missing server', async () => {
    const page = await session('gina', '/servers/win-1/desktop');
    const refusal = page.getByRole('alert').filter({ hasText: 'This server does not exist or is not yours.' });
    await refusal.waitFor();
    assert.equal(await page.getByTestId('desktop-screen').count(), 0);
    const missing = await session('gina', '/servers/nope-1/desktop');
    await missing.getByRole('alert').filter({ hasText: 'This server does not exist or is not yours.' }).waitFor();
    assert.equal(await missing.locator('main').innerText(), (await page.locator('main').innerText()).replaceAll('win-1', 'nope-1'));
  });

  it('sends a signed-out browser to sign in, then to the desktop', async () => {
    const { context, page } = await openPage(browser, `${plane.url}/servers/win-1/desktop`);
    contexts.push(context);
    await page.getByRole('heading', { level: 1, name: 'Sign in to Lifeboat' }).waitFor();
    assert.equal(await page.getByTestId('desktop-screen').count(), 0);
    await signIn(page, 'alice', password);
    await page.getByRole('heading', { level: 1, name: 'Desktop of win-1' }).waitFor();
    await connected(page);
  });

  it('speaks French on a phone', async () => {
    const page = await session('alice', '/servers/win-1/desktop', { viewport: 'phone', locale: 'fr-FR' });
    await page.getByRole('heading', { level: 1, name: 'Bureau de win-1' }).waitFor();
    await page.getByRole('status').filter({ hasText: 'Connecté : votre clavier et votre souris vont au bureau.' }).waitFor({ timeout: 30_000 });
    await waitFor('the xterm on the canvas', async () => (await litPixels(page)) > 1000, 20_000, 100);
    await page.getByLabel('Adapter à la fenêtre').waitFor();
    await checkPage(page, 'desktop-phone-fr');
  });
});
