/**
 * The `lifeboat` command runs from a bundle of its sources (@lifeboat/core/bundle): the workspace code
 * inside, npm packages outside, the same program as the sources run through tsx.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { lifeboatBin } from './run-cli.js';

const bundleFile = fileURLToPath(new URL('../dist/bundle/lifeboat.mjs', import.meta.url));

test('the bin from the bundle and from the sources is the same program; the bundle holds the workspace code', () => {
  const run = (args: string[], fromSource: string) =>
    execFileSync(process.execPath, [lifeboatBin, ...args], { env: { ...process.env, LIFEBOAT_CLI_FROM_SOURCE: fromSource }, encoding: 'utf8' });
  for (const args of [['--help'], ['rescue', '--help'], ['servers', 'list', '--help']]) {
    const bundled = run(args, '0');
    assert.match(bundled, /lifeboat/);
    assert.equal(bundled, run(args, '1'), args.join(' '));
  }
  const code = readFileSync(bundleFile, 'utf8');
  assert.doesNotMatch(code, /from ["']@lifeboat\//, 'workspace packages are bundled');
  assert.match(code, /from ["']commander["']/, 'npm packages are imported at run time');
});
