/**
 * The serial console page in real Chromium against a real control plane: its `tcp-serial` console
 * driver connects to a TCP server in this test (the "hardware": a serial port exported on TCP, as a
 * serial concentrator does). Bytes the serial port prints appear in the xterm.js terminal (scrollback
 * on attach, then live); keys typed with the writer seat reach the serial port, a read-only viewer's
 * do not; a second viewer asking for the seat is told who holds it; detach frees it. The console log
 * recorded while the server entered rescue shows on the overview and the console page. Another
 * tenant's customer gets the page of a missing server.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestControlPlane, waitFor, type TestControlPlane, type TestMachine } from '@lifeboat/test-support';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { checkPage, launchBrowser, signedInPage, type OpenOptions } from './browser.js';

/** A serial port exported on TCP: what it "prints" goes to the control plane's connection. */
class SerialPort {
  readonly #server: NetServer;
  #socket: Socket | undefined;
  received = '';

  constructor() {
    this.#server = createServer((socket) => {
      this.#socket = socket;
      socket.on('data', (data: Buffer) => (this.received += data.toString('latin1')));
      socket.on('error', () => undefined);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return (this.#server.address() as { port: number }).port;
  }

  async print(text: string): Promise<void> {
    const socket = await waitFor('the control plane on the serial port', () => this.#socket);
    socket.write(text);
  }

  close(): void {
    this.#socket?.destroy();
    this.#server.close();
  }
}

const mac = '52:54:00:cc:00:01';
const password = 'correct horse battery staple';

describe('the serial console page in Chromium', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-web-console-'));
  const serial = new SerialPort();
  let plane: TestControlPlane;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  // The server stays "preparing rescue" (its machine boots nothing): the console is recorded meanwhile.
  const machine: TestMachine = { poweredOn: true, bootRescue: async () => undefined, powerOff: async () => undefined };

  const session = (user: string, path: string, options: OpenOptions = {}): Promise<Page> => signedInPage(browser, plane.url, contexts, { user, password }, path, options);
  /**
   * The text the terminal shows (xterm.js's DOM renderer draws rows as elements; it draws only while
   * the terminal is on screen, so it is scrolled into view first, as a reader would).
   */
  const screenText = async (page: Page, testId = 'live-terminal') => {
    const terminal = page.getByTestId(testId);
    await terminal.scrollIntoViewIfNeeded();
    return terminal.locator('.xterm-rows').innerText();
  };
  const shows = (page: Page, text: string, testId = 'live-terminal') =>
    waitFor(`"${text}" in the terminal`, async () => (await screenText(page, testId)).includes(text), 20_000, 100).catch(async (error: unknown) => {
      console.log(`# ${testId} shows: ${JSON.stringify(await screenText(page, testId).catch(String))}; page: ${JSON.stringify((await page.locator('main').innerText()).slice(0, 2000))}`);
      throw error;
    });

  /** Types a line in the page's live terminal, as a person does: click into it, type, Enter. */
  async function typeLine(page: Page, text: string): Promise<void> {
    await page.getByTestId('live-terminal').click();
    await page.keyboard.type(text);
    await page.keyboard.press('Enter');
  }

  before(async () => {
    const port = await serial.listen();
    browser = await launchBrowser();
    plane = await startTestControlPlane(join(dir, 'data'), mac, machine);
    await plane.api('POST', '/v1/tenants', { name: 'acme' });
    await plane.api('POST', '/v1/tenants', { name: 'globex' });
    await plane.api('POST', '/v1/servers', { name: 'web-1', tenant: 'acme', macs: [mac], bmc: plane.bmc.record, console: `tcp://127.0.0.1:${port}` });
    for (const [name, tenant] of [['alice', 'acme'], ['bob', 'acme'], ['gina', 'globex']] as const) {
      await plane.api('POST', '/v1/users', { name, role: 'customer', tenant, password });
    }
    // Entering rescue records the console: the boot prints, the log keeps it.
    await plane.api('POST', '/v1/servers/web-1/rescue', {}, 202);
    await serial.print('SeaBIOS (version 1.16.2)\r\nBooting from Hard Disk...\r\n[  OK  ] Reached target Local File Systems.\r\nYou are in emergency mode. After logging in, type "journalctl -xb"\r\n');
    await waitFor('the console log recorded', async () => {
      const log = await plane.api<{ tail: string | null }>('GET', '/v1/servers/web-1/console/log').catch(() => undefined);
      return log?.tail?.includes('emergency mode') === true;
    });
  });
  after(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await plane?.close();
    serial.close();
    rmSync(dir, { recursive: true, force: true });
  });

  let alice: Page;
  let bob: Page;

  it('shows the scrollback on attach and the live bytes, read-only by default', async () => {
    alice = await session('alice', '/servers/web-1/console');
    await alice.getByRole('heading', { level: 1, name: 'Serial console of web-1' }).waitFor();
    await shows(alice, 'SeaBIOS (version 1.16.2)');
    await alice.getByText('Read-only: you are watching.').waitFor();
    await serial.print('web-1 login: ');
    await shows(alice, 'web-1 login:');
  });

  it('sends the keys typed with the writer seat to the serial port', async () => {
    await alice.getByRole('button', { name: 'Take the keyboard' }).click();
    await alice.getByText('You have the keyboard').waitFor();
    await typeLine(alice, 'root');
    await waitFor('the typed keys on the serial port', () => serial.received.endsWith('root\r'), 20_000, 50);
    await shows(alice, 'You are in emergency mode', 'log-terminal');
    await checkPage(alice, 'console-desktop-en');
  });

  it('keeps a read-only viewer’s keys off the console and names who holds the seat', async () => {
    bob = await session('bob', '/servers/web-1/console');
    await shows(bob, 'web-1 login:');
    await bob.getByText('Read-only: you are watching.').waitFor();
    await typeLine(bob, 'reboot');
    // Alice types after Bob: once her keys arrived, Bob's had their chance and are not there.
    await typeLine(alice, 'id');
    await waitFor('the writer keys after the viewer keys', () => serial.received.endsWith('id\r'), 20_000, 50);
    assert.equal(serial.received, 'root\rid\r');

    await bob.getByRole('button', { name: 'Take the keyboard' }).click();
    const refusal = bob.getByRole('alert').filter({ hasText: 'The keyboard is taken by' });
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /taken by alice \(customer\) since/);
    await bob.getByText('Read-only: you are watching.').waitFor();
    await serial.print('\r\nafter the refusal\r\n');
    await shows(bob, 'after the refusal');
  });

  it('detaches, which frees the writer seat for the next viewer', async () => {
    await alice.getByRole('button', { name: 'Detach' }).click();
    await alice.getByText('Detached from the console.').waitFor();
    await bob.getByRole('button', { name: 'Take the keyboard' }).click();
    await bob.getByText('You have the keyboard').waitFor();
    await typeLine(bob, 'uptime');
    await waitFor('the new writer keys', () => serial.received.endsWith('uptime\r'), 20_000, 50);
    const events = await plane.api<{ events: { action: string; actor: string; detail: Record<string, unknown> }[] }>('GET', '/v1/audit?server=web-1&limit=200');
    assert.ok(events.events.some((e) => e.action === 'console.refused' && e.actor === 'user:bob'));
    assert.ok(events.events.some((e) => e.action === 'console.detach' && e.actor === 'user:alice' && e.detail.via === 'websocket'));
  });

  it('shows the console log of the last boot on the overview and the console page', async () => {
    await alice.goto(`${plane.url}/servers/web-1`);
    const card = alice.locator('section').filter({ has: alice.getByRole('heading', { name: 'Console log of the last boot' }) });
    await card.getByText('You are in emergency mode').waitFor();
    await card.getByRole('link', { name: 'Open the console and the whole log' }).click();
    await shows(alice, 'Booting from Hard Disk...', 'log-terminal');
    await shows(alice, 'You are in emergency mode', 'log-terminal');
  });

  it('works in French on a phone', async () => {
    const page = await session('alice', '/servers/web-1/console', { viewport: 'phone', locale: 'fr-FR' });
    await page.getByRole('heading', { level: 1, name: 'Console série de web-1' }).waitFor();
    await page.getByText('Lecture seule : vous regardez.').waitFor();
    await shows(page, 'web-1 login:');
    await shows(page, 'You are in emergency mode', 'log-terminal');
    await checkPage(page, 'console-phone-fr');
    await page.getByRole('button', { name: 'Prendre le clavier' }).click();
    await page.getByRole('alert').filter({ hasText: 'Le clavier est pris par' }).waitFor();
  });

  it('answers another tenant like a missing server', async () => {
    const page = await session('gina', '/servers/web-1/console');
    await page.getByRole('alert').filter({ hasText: 'This server does not exist or is not yours.' }).waitFor();
    assert.equal(await page.getByTestId('live-terminal').count(), 0);
    const missing = await session('gina', '/servers/nope-1/console');
    assert.equal(await missing.getByRole('alert').innerText(), await page.getByRole('alert').innerText());
  });

  it('takes screenshots in English on a phone and in French on a desktop', async () => {
    const phone = await session('bob', '/servers/web-1/console', { viewport: 'phone' });
    await shows(phone, 'web-1 login:');
    await shows(phone, 'You are in emergency mode', 'log-terminal');
    await checkPage(phone, 'console-phone-en');
    const desktop = await session('bob', '/servers/web-1/console', { locale: 'fr-FR' });
    await shows(desktop, 'web-1 login:');
    await shows(desktop, 'You are in emergency mode', 'log-terminal');
    await checkPage(desktop, 'console-desktop-fr');
  });
});
