/**
 * The control plane's entry point runs from a bundle of its sources (bin/bundle.mjs): built when the
 * sources change, every workspace package inside, every npm package outside, and the same program as
 * the sources run through tsx.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
// @ts-expect-error: a plain ES module of the bin folder, without types
import { bundleFile, ensureBundle } from '../bin/bundle.mjs';

const controlPlaneBin = fileURLToPath(new URL('../bin/lifeboat-control-plane.mjs', import.meta.url));

test('the bundle is built once for the same sources, and holds the workspace code but no npm package', async () => {
  const file = (await ensureBundle()) as string;
  assert.equal(file, bundleFile);
  const builtAt = statSync(file).mtimeMs;
  assert.equal(await ensureBundle(), file);
  assert.equal(statSync(file).mtimeMs, builtAt, 'unchanged sources: no second build');
  const code = readFileSync(file, 'utf8');
  assert.doesNotMatch(code, /from ["']@lifeboat\//, 'workspace packages are bundled');
  assert.match(code, /from ["']fastify["']/, 'npm packages are imported at run time');
  assert.match(code, /from ["']better-sqlite3["']/);
});

test('the bin from the bundle and from the sources is the same program', () => {
  const run = (fromSource: string) =>
    execFileSync(process.execPath, [controlPlaneBin, '--help'], { env: { ...process.env, LIFEBOAT_CONTROL_PLANE_FROM_SOURCE: fromSource }, encoding: 'utf8' });
  const bundled = run('0');
  assert.match(bundled, /^lifeboat serve \[options\]/);
  assert.equal(bundled, run('1'));
});
