/**
 * The web console's first load: compressed JavaScript on first load (the budget: ≤ 250 KB) and the
 * time to a usable page on loopback (the target: < 1 s), in Chromium against a real control plane
 * (in process, SQLite) with 50 servers. Cold: a fresh browser context (empty cache) per run. Also the
 * serial console page, whose xterm.js chunk is loaded only there: its size and the time to a terminal;
 * and the desktop page's noVNC chunk: its size, and that neither the first load's files nor the pages
 * loaded here (sign-in, servers, console) hold or fetch it (the bench fails otherwise).
 * Prints a markdown table (npm run bench writes it into docs/benchmarks.md).
 */
import { loadavg } from 'node:os';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { freePort, startControlPlaneProcess } from '@lifeboat/test-support';
import { ensureWebBuild, webDist } from '../../../scripts/web-build.mjs';
import { launchBrowser } from '../test/browser.js';

const runs = 5;
/** What the functions run in the page use of its globals (a function, not a string: the CSP forbids eval). */
interface PageGlobals {
  readonly document: { querySelector(selector: string): unknown };
}
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;

ensureWebBuild({ quiet: true });
const html = readFileSync(join(webDist, 'index.html'), 'utf8');
const firstLoadJs = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1] as string);
const allJs = readdirSync(join(webDist, 'assets')).filter((f) => f.endsWith('.js'));
let raw = 0;
let gzip = 0;
let brotli = 0;
for (const file of firstLoadJs) {
  const data = readFileSync(join(webDist, file));
  raw += data.length;
  gzip += gzipSync(data, { level: 9 }).length;
  brotli += brotliCompressSync(data).length;
}
const lazyJs = allJs.filter((f) => !firstLoadJs.includes(`assets/${f}`));
/** Strings only each library's code holds (string literals survive minification). */
const libraries = { noVNC: 'Unexpected action in extended clipboard message', 'xterm.js': 'xterm-helper-textarea' } as const;
const holds = (file: string, library: keyof typeof libraries) => readFileSync(join(webDist, file)).toString('utf8').includes(libraries[library]);
const chunkOf = (library: keyof typeof libraries): string => {
  const found = lazyJs.filter((f) => holds(join('assets', f), library));
  if (found.length !== 1) throw new Error(`${library}: ${found.length} lazy chunks hold it (${found.join(', ')}), 1 expected`);
  return found[0]!;
};
for (const library of Object.keys(libraries) as Array<keyof typeof libraries>) {
  const inFirst = firstLoadJs.filter((f) => holds(f, library));
  if (inFirst.length > 0) throw new Error(`${library} is in the first load (${inFirst.join(', ')}): it must be a lazy chunk of its page`);
}
const novncChunk = chunkOf('noVNC');
const xtermChunk = chunkOf('xterm.js');
const chunkSize = (file: string) => {
  const data = readFileSync(join(webDist, 'assets', file));
  return `${kb(data.length)} raw, ${kb(brotliCompressSync(data).length)} brotli`;
};
/** Script URLs each measured page fetched: none may be the noVNC chunk. */
const fetchedScripts = new Set<string>();
const lazy = lazyJs.reduce((sum, f) => sum + statSync(join(webDist, 'assets', f)).size, 0);
const lazyBrotli = lazyJs.reduce((sum, f) => sum + brotliCompressSync(readFileSync(join(webDist, 'assets', f))).length, 0);

const dataDir = mkdtempSync(join(tmpdir(), 'lifeboat-web-bench-'));
const plane = await startControlPlaneProcess({ dataDir, port: await freePort() });
const admin = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
const api = async (path: string, body: unknown): Promise<void> => {
  const response = await fetch(`${plane.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
};
await api('/v1/tenants', { name: 'acme' });
await api('/v1/users', { name: 'bench', role: 'customer', tenant: 'acme', password: 'bench-password-long' });
for (let i = 1; i <= 50; i++) {
  await api('/v1/servers', { name: `web-${i}`, tenant: 'acme', macs: [`52:54:00:88:00:${i.toString(16).padStart(2, '0')}`], bmc: { url: `ipmi://192.0.2.${i}:623`, user: 'admin', password: 'x' } });
}

const browser = await launchBrowser();
const signInMs: number[] = [];
const serversMs: number[] = [];
const consoleMs: number[] = [];
const transferred: number[] = [];
const consoleTransferred: number[] = [];
try {
  for (let run = 0; run < runs; run++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    let jsBytes = 0;
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const scripts = new Set<string>();
    cdp.on('Network.responseReceived', (event: { requestId: string; type: string; response: { url: string } }) => {
      if (event.type === 'Script') scripts.add(event.requestId);
      if (event.type === 'Script') fetchedScripts.add(event.response.url);
    });
    cdp.on('Network.loadingFinished', (event: { requestId: string; encodedDataLength: number }) => {
      if (scripts.has(event.requestId)) jsBytes += event.encodedDataLength;
    });
    // Signed out: from navigation to the sign-in form on screen.
    // Times are the page's own clock (ms since its navigation started), read on the first animation
    // frame where the element exists: no driver overhead in them.
    await page.goto(plane.url, { waitUntil: 'commit' });
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelector('input[name="password"]') !== null, undefined, { polling: 'raf' });
    signInMs.push(await page.evaluate<number>('performance.now()'));
    transferred.push(jsBytes);
    await page.locator('input[name="name"]').fill('bench');
    await page.locator('input[name="password"]').fill('bench-password-long');
    await page.locator('form button[type="submit"]').click();
    await page.locator('li[data-server="web-50"]').waitFor();
    // Signed in, a new tab without the cached script: the list of 50 servers on screen.
    const second = await context.newPage();
    const cdp2 = await context.newCDPSession(second);
    await cdp2.send('Network.setCacheDisabled', { cacheDisabled: true });
    await second.goto(`${plane.url}/servers`, { waitUntil: 'commit' });
    await second.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelector('li[data-server="web-50"]') !== null, undefined, { polling: 'raf' });
    serversMs.push(await second.evaluate<number>('performance.now()'));
    // Signed in, cache disabled: a server's console page, to its xterm.js terminal on screen.
    const third = await context.newPage();
    const cdp3 = await context.newCDPSession(third);
    await cdp3.send('Network.enable');
    await cdp3.send('Network.setCacheDisabled', { cacheDisabled: true });
    let consoleJs = 0;
    const consoleScripts = new Set<string>();
    cdp3.on('Network.responseReceived', (event: { requestId: string; type: string; response: { url: string } }) => {
      if (event.type === 'Script') consoleScripts.add(event.requestId);
      if (event.type === 'Script') fetchedScripts.add(event.response.url);
    });
    cdp3.on('Network.loadingFinished', (event: { requestId: string; encodedDataLength: number }) => {
      if (consoleScripts.has(event.requestId)) consoleJs += event.encodedDataLength;
    });
    await third.goto(`${plane.url}/servers/web-1/console`, { waitUntil: 'commit' });
    await third.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelector('[data-testid="live-terminal"] .xterm-rows') !== null, undefined, { polling: 'raf' });
    consoleMs.push(await third.evaluate<number>('performance.now()'));
    consoleTransferred.push(consoleJs);
    await context.close();
  }
} finally {
  await browser.close();
  await plane.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

const load = loadavg()[0]?.toFixed(1);
const novncFetched = [...fetchedScripts].filter((url) => url.endsWith(`/assets/${novncChunk}`));
if (novncFetched.length > 0) throw new Error(`the noVNC chunk was fetched outside the desktop page: ${novncFetched.join(', ')}`);
const ms = (values: number[]): string => `${values.map((v) => v.toFixed(0)).join(', ')} ms (median ${median(values).toFixed(0)})`;
console.log('| measure | value | note |');
console.log('| --- | --- | --- |');
console.log(`| JavaScript on first load (${firstLoadJs.length} file${firstLoadJs.length === 1 ? '' : 's'}) | ${kb(raw)} raw, ${kb(gzip)} gzip -9, ${kb(brotli)} brotli | budget ≤ 250 KB compressed: ${brotli <= 250 * 1024 && gzip <= 250 * 1024 ? 'met' : 'NOT met'} |`);
console.log(`| JavaScript sent to Chromium on first load (measured) | ${kb(median(transferred))} | pre-compressed by the build, brotli |`);
console.log(`| JavaScript loaded later (lazy chunks) | ${kb(lazy)} raw, ${kb(lazyBrotli)} brotli | ${lazyJs.length} chunk(s), none in the first load |`);
console.log(`| the serial console page's xterm.js chunk | ${chunkSize(xtermChunk)} | loaded by that page only |`);
console.log(`| the desktop page's noVNC chunk | ${chunkSize(novncChunk)} | loaded by that page only: in no first-load file, fetched by none of the pages measured here (sign-in, servers, console) |`);
console.log(`| first load, signed out: navigation → sign-in form on screen | ${ms(signInMs)} | cold cache, loopback, load ${load}; target < 1 s: ${median(signInMs) < 1000 ? 'met' : 'NOT met'} |`);
console.log(`| first load, signed in: navigation → list of 50 servers on screen | ${ms(serversMs)} | cache disabled; session check + list + SSE, load ${load}; target < 1 s: ${median(serversMs) < 1000 ? 'met' : 'NOT met'} |`);
console.log(`| console page, signed in: navigation → xterm.js terminal on screen | ${ms(consoleMs)} | cache disabled; first load + the xterm.js chunk (JavaScript sent: ${kb(median(consoleTransferred))}), load ${load} |`);
