/**
 * The control plane serves the built console at `/` with its security headers and caching, falls back
 * to index.html for the console's paths, keeps `/v1/` the API; the sign-in page loads in Chromium
 * under the CSP without errors and passes axe, in English and French, on a desktop and a phone.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, startControlPlaneProcess, type ControlPlaneProcess } from '@lifeboat/test-support';
import type { Browser } from 'playwright-core';
import { webDist } from '../../../scripts/web-build.mjs';
import { checkPage, launchBrowser, openPage } from './browser.js';

describe('the web console is served by the control plane', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'lifeboat-web-serving-'));
  let plane: ControlPlaneProcess;
  let browser: Browser;

  before(async () => {
    browser = await launchBrowser(); // builds dist when stale
    plane = await startControlPlaneProcess({ dataDir, port: await freePort() });
  });
  after(async () => {
    await browser?.close();
    await plane?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers index.html at / and for console paths, with the CSP and no cache', async () => {
    for (const path of ['/', '/servers', '/servers/web-1?q=x']) {
      const response = await fetch(`${plane.url}${path}`, { headers: { accept: 'text/html' } });
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
      assert.equal(response.headers.get('cache-control'), 'no-cache');
      const csp = response.headers.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'self'/);
      assert.match(csp, /script-src 'self'(;|$)/, 'no inline scripts allowed');
      assert.match(csp, /style-src 'self';/, 'no style attributes allowed');
      assert.match(csp, /frame-ancestors 'none'/);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
      const html = await response.text();
      assert.match(html, /<div id="root"><\/div>/);
      assert.doesNotMatch(html, /<script>(?!<\/script>)|<style>/, 'no inline script or style');
    }
  });

  it('caches hashed assets for a year', async () => {
    const assets = readdirSync(join(webDist, 'assets'));
    const js = assets.find((name) => name.endsWith('.js'));
    assert.ok(js);
    const response = await fetch(`${plane.url}/assets/${js}`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /javascript/);
    assert.equal(response.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    const br = await fetch(`${plane.url}/assets/${js}`, { headers: { 'accept-encoding': 'br' } });
    assert.equal(br.headers.get('content-encoding'), 'br', 'brotli when accepted (written by the build)');
    assert.equal(br.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    const gzip = await fetch(`${plane.url}/assets/${js}`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(gzip.headers.get('content-encoding'), 'gzip');
    assert.equal(await gzip.text(), await response.text(), 'the same script');
    const missing = await fetch(`${plane.url}/assets/nope-123.js`);
    assert.equal(missing.status, 404, 'a missing asset is not answered with index.html');
  });

  it('keeps /v1/ the API: JSON errors, never the console', async () => {
    const response = await fetch(`${plane.url}/v1/no-such-route`, { headers: { accept: 'text/html' } });
    assert.equal(response.status, 401);
    assert.equal((await response.json() as { code: string }).code, 'UNAUTHORIZED');
    const post = await fetch(`${plane.url}/servers`, { method: 'POST' });
    assert.equal(post.status, 404);
    assert.equal((await post.json() as { code: string }).code, 'NOT_FOUND');
  });

  for (const [viewport, locale, heading] of [
    ['desktop', 'en-US', 'Sign in to Lifeboat'],
    ['phone', 'fr-FR', 'Connexion à Lifeboat'],
  ] as const) {
    it(`shows the sign-in page (${viewport}, ${locale}) under the CSP, accessible`, async () => {
      const { context, page } = await openPage(browser, plane.url, { viewport, locale });
      try {
        await page.getByRole('heading', { level: 1, name: heading }).waitFor();
        assert.equal(await page.locator('html').getAttribute('lang'), locale.slice(0, 2));
        await checkPage(page, `sign-in-${viewport}-${locale.slice(0, 2)}`);
      } finally {
        await context.close();
      }
    });
  }
});
