/**
 * What the browser tests share: Debian's Chromium driven by playwright-core (installed when missing,
 * as root), the console built when stale, a control plane to test against (`@lifeboat/test-support`),
 * users made through the API, sign-in through the page, a screenshot per test and an axe-core check.
 *
 * Screenshots go to `$LIFEBOAT_SCREENSHOTS`, else `test-output/screenshots/` at the repository root.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import axe from 'axe-core';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ensureWebBuild } from '../../../scripts/web-build.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Where screenshots are saved. */
export const screenshotDir = process.env.LIFEBOAT_SCREENSHOTS ?? join(root, 'test-output/screenshots');

/** Chromium's real binary (`/usr/bin/chromium` is a wrapper script). */
function chromiumPath(): string {
  for (const path of ['/usr/lib/chromium/chromium', '/usr/bin/chromium']) if (existsSync(path)) return path;
  if (process.getuid?.() !== 0) throw new Error('the browser tests need Debian\'s chromium: apt-get install -y chromium');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'chromium'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  return '/usr/lib/chromium/chromium';
}

/** Launches headless Chromium (a fresh profile) after building the console when stale. */
export async function launchBrowser(): Promise<Browser> {
  ensureWebBuild({ quiet: true });
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Screen sizes the console is tested at. */
export const viewports = {
  desktop: { width: 1280, height: 860 },
  phone: { width: 375, height: 740 },
} as const;

/** How a page is opened. */
export interface OpenOptions {
  readonly viewport?: keyof typeof viewports;
  /** The browser's language (`navigator.languages`): `en-US` or `fr-FR`. */
  readonly locale?: string;
}

/** A fresh context (no cookies) and a page on `url`. */
export async function openPage(browser: Browser, url: string, options: OpenOptions = {}): Promise<{ context: BrowserContext; page: Page }> {
  const size = viewports[options.viewport ?? 'desktop'];
  const context = await browser.newContext({
    viewport: size,
    locale: options.locale ?? 'en-US',
    isMobile: options.viewport === 'phone',
    hasTouch: options.viewport === 'phone',
    deviceScaleFactor: 1,
    // The copy buttons write to the clipboard.
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  const page = await context.newPage();
  // Every page error and refused resource (a CSP violation among them) fails the test that looks.
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  pageProblems.set(page, problems);
  await page.goto(url);
  return { context, page };
}

const pageProblems = new WeakMap<Page, string[]>();

/** Page errors and CSP refusals seen so far on a page (should be none). */
export function problemsOf(page: Page): readonly string[] {
  return pageProblems.get(page) ?? [];
}

/** Signs in through the sign-in page and waits for the servers page. */
export async function signIn(page: Page, name: string, password: string): Promise<void> {
  await page.locator('input[name="name"]').fill(name);
  await page.locator('input[name="password"]').fill(password);
  await page.locator('form button[type="submit"]').click();
  await page.locator('main h1').filter({ hasNotText: /sign in|connexion/i }).waitFor();
}

/**
 * A fresh context signed in as `user`, on the page at `path` once its heading is drawn; the context is
 * added to `contexts` for the test's `after` to close.
 */
export async function signedInPage(
  browser: Browser,
  url: string,
  contexts: BrowserContext[],
  login: { readonly user: string; readonly password: string },
  path: string,
  options: OpenOptions = {},
): Promise<Page> {
  const { context, page } = await openPage(browser, url, options);
  contexts.push(context);
  await signIn(page, login.user, login.password);
  await page.goto(`${url}${path}`);
  await page.locator('main h1').first().waitFor();
  return page;
}

/** Saves a full-page screenshot as `<name>.png`; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** One axe-core finding. */
export interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly targets: string[];
}

/** Runs axe-core on the page as it is (WCAG 2.1 A/AA rules and best practices); the violations. */
export async function runAxe(page: Page): Promise<AxeViolation[]> {
  // Evaluated through the DevTools protocol, which the page's CSP does not apply to.
  await page.evaluate(axe.source);
  // The function runs in the page (its globals are the page's, not this process's).
  return page.evaluate(async () => {
    const scope = globalThis as unknown as { axe: typeof axe; document: unknown };
    const result = await scope.axe.run(scope.document as Parameters<typeof axe.run>[0], { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact ?? null, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
  });
}

/** Fails on any serious or critical axe-core violation (the others are printed). */
export async function assertAccessible(page: Page, where: string): Promise<void> {
  const violations = await runAxe(page);
  const severe = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of violations.filter((x) => !severe.includes(x))) console.log(`# axe (${where}): ${v.impact} ${v.id}: ${v.help} at ${v.targets.join(', ')}`);
  assert.deepEqual(severe, [], `${where}: serious or critical accessibility violations`);
}

/** Takes the screenshot and runs axe: what every browser test does on each page it reaches. */
export async function checkPage(page: Page, name: string): Promise<void> {
  await screenshot(page, name);
  await assertAccessible(page, name);
  assert.deepEqual(problemsOf(page), [], `${name}: page errors or CSP refusals`);
}
