/**
 * A server's page never stays on an older state than the control plane's (issue 13: "live updates
 * without reload"), in Chromium against a real control plane with simulated servers
 * (`console-lab.ts`). On a loaded machine the page's requests and its event stream race; here
 * Playwright holds requests back to put each race in a known order:
 * - a change made after the page's first answers but before its event stream opened;
 * - a change made while the stream reconnects after it ended;
 * - events that arrive while a GET of the same data, answered before them, is still on its way.
 * Each was seen as a page stuck on a state the server had left (the lab VM test waited 8 minutes for
 * "Active" after an exit).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page, Request, Route } from 'playwright-core';
import { waitFor } from '@lifeboat/test-support';
import { checkPage, launchBrowser, openPage, signIn } from './browser.js';
import { ConsoleLab, type SimulatedServer } from './console-lab.js';

/** The page's next request whose path is `path`, held until `release()` and then sent on as it was. */
async function holdNext(page: Page, path: string): Promise<{ readonly arrived: Promise<void>; release(): void }> {
  let arrive: () => void = () => undefined;
  let release: () => void = () => undefined;
  const arrived = new Promise<void>((resolve) => (arrive = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  let taken = false;
  await page.route(
    (url) => url.pathname === path,
    async (route: Route) => {
      if (taken) return route.continue();
      taken = true;
      arrive();
      await released;
      await route.continue();
    },
  );
  return { arrived, release };
}

/**
 * The page's next GET of `path`: answered by the control plane at once (`fetched` resolves then), but
 * handed to the page only by `deliver()`, which resolves once the page has received and rendered it.
 */
async function delayNextAnswer(page: Page, path: string): Promise<{ readonly fetched: Promise<void>; deliver(): Promise<void> }> {
  let fetchedNow: () => void = () => undefined;
  let deliver: () => void = () => undefined;
  const fetched = new Promise<void>((resolve) => (fetchedNow = resolve));
  const delivered = new Promise<void>((resolve) => (deliver = resolve));
  let request: Request | undefined;
  let taken = false;
  await page.route(
    (url) => url.pathname === path,
    async (route: Route) => {
      if (taken || route.request().method() !== 'GET') return route.continue();
      taken = true;
      request = route.request();
      const answer = await route.fetch();
      fetchedNow();
      await delivered;
      await route.fulfill({ response: answer });
    },
  );
  return {
    fetched,
    async deliver() {
      const finished = page.waitForEvent('requestfinished', { predicate: (r) => r === request, timeout: 30_000 });
      deliver();
      await finished;
      // The answer has been handed to the page's code: let it run and render (two frames).
      await page.evaluate('new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))');
    },
  };
}

const badge = (page: Page) => page.locator('.page-title .badge');

describe('a server\'s page follows the control plane whatever the order of answers and events', () => {
  let lab: ConsoleLab;
  let browser: Browser;
  let password = '';
  const servers: Record<string, SimulatedServer> = {};

  before(async () => {
    browser = await launchBrowser();
    lab = await ConsoleLab.start();
    await lab.addTenant('acme');
    password = await lab.addUser('alice', 'customer', 'acme');
    for (const name of ['web-1', 'web-2', 'web-3']) servers[name] = await lab.addServer(name, 'acme');
    for (const server of Object.values(servers)) await server.installedSystemUp();
  });
  after(async () => {
    await browser?.close();
    await lab?.close();
  });

  /** Waits until the API says the server is preparing its rescue with its network boot done. */
  const netbooted = (name: string) =>
    waitFor(`${name}: preparing rescue, root file system fetched`, async () => {
      const server = await lab.api<{ state: string }>('GET', `/v1/servers/${name}`);
      const tasks = await lab.api<{ tasks: { steps: { name: string; state: string }[] }[] }>('GET', `/v1/servers/${name}/tasks`);
      return server.state === 'preparing_rescue' && tasks.tasks[0]?.steps.some((s) => s.name === 'rootfs_fetched' && s.state === 'completed');
    });

  it('shows a change made after its first answers but before its event stream opened', async () => {
    const { context, page } = await openPage(browser, lab.url);
    try {
      await signIn(page, 'alice', password);
      const stream = await holdNext(page, '/v1/events');
      await page.goto(`${lab.url}/servers/web-1`);
      await page.locator('.page-title .badge[data-state="active"]').waitFor();
      await stream.arrived;
      await lab.api('POST', '/v1/servers/web-1/rescue', {});
      await netbooted('web-1');
      // Every event of that change went out while the page had no stream.
      stream.release();
      await page.locator('.live-open').waitFor();
      await page.locator('.page-title .badge[data-state="preparing_rescue"]').waitFor({ timeout: 30_000 });
      await page.locator('ol.timeline li[data-step="rootfs_fetched"].step-completed').waitFor({ timeout: 30_000 });
      await checkPage(page, 'live-after-late-stream-desktop-en');
    } finally {
      await context.close();
    }
  });

  it('shows a change made while its event stream was reconnecting', async () => {
    const { context, page } = await openPage(browser, lab.url);
    try {
      await signIn(page, 'alice', password);
      // The page's first stream opens and ends at once (as when a proxy or a restart cuts it); the
      // one it reconnects with is held while the server changes.
      let streams = 0;
      let reconnecting: () => void = () => undefined;
      let release: () => void = () => undefined;
      const reconnected = new Promise<void>((resolve) => (reconnecting = resolve));
      const released = new Promise<void>((resolve) => (release = resolve));
      await page.route(
        (url) => url.pathname === '/v1/events',
        async (route) => {
          streams += 1;
          if (streams === 1) return route.fulfill({ status: 200, contentType: 'text/event-stream', body: 'retry: 200\n: connected\n\n' });
          if (streams === 2) {
            reconnecting();
            await released;
          }
          return route.continue();
        },
      );
      await page.goto(`${lab.url}/servers/web-2`);
      await page.locator('.page-title .badge[data-state="active"]').waitFor();
      await reconnected;
      await lab.api('POST', '/v1/servers/web-2/rescue', {});
      await netbooted('web-2');
      release();
      await page.locator('.live-open').waitFor();
      await page.locator('.page-title .badge[data-state="preparing_rescue"]').waitFor({ timeout: 30_000 });
      await page.locator('ol.timeline li[data-step="rootfs_fetched"].step-completed').waitFor({ timeout: 30_000 });
    } finally {
      await context.close();
    }
  });

  it('keeps the newer state of events over a GET answered before them', async () => {
    const { context, page } = await openPage(browser, `${lab.url}/servers/web-3`);
    try {
      await signIn(page, 'alice', password);
      await page.getByRole('heading', { level: 1, name: 'web-3' }).waitFor();
      await page.locator('.live-open').waitFor();
      // Entering refetches the server and its tasks; those answers are read at once and delivered late.
      const serverAnswer = await delayNextAnswer(page, '/v1/servers/web-3');
      const tasksAnswer = await delayNextAnswer(page, '/v1/servers/web-3/tasks');
      await page.getByRole('button', { name: 'Enter rescue' }).click();
      await Promise.all([serverAnswer.fetched, tasksAnswer.fetched]);
      const rescue = await servers['web-3']!.rescueSystem();
      await rescue.step('agent_started');
      await rescue.reportHostKeys();
      await rescue.ready();
      await page.locator('.page-title .badge[data-state="rescue"]').waitFor({ timeout: 30_000 });
      await page.locator('ol.timeline li[data-step="ready"].step-completed').waitFor({ timeout: 30_000 });
      await serverAnswer.deliver();
      await tasksAnswer.deliver();
      assert.equal(await badge(page).getAttribute('data-state'), 'rescue', 'the badge did not go back to the older answer');
      assert.equal(await page.locator('ol.timeline li[data-step="ready"].step-completed').count(), 1, 'the timeline did not go back to the older answer');
      await checkPage(page, 'live-after-late-answer-desktop-en');
    } finally {
      await context.close();
    }
  });
});
