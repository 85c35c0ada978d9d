import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import * as esbuild from 'esbuild';

// core is shared by the browser console and the agent on QuickJS: a Node built-in anywhere in it fails
// these builds (esbuild cannot resolve `node:*` for the browser or the platform-neutral target).
const source = (path: string) => fileURLToPath(new URL(path, import.meta.url));

it('core, with its typed client, bundles for a browser', async () => {
  const result = await esbuild.build({ entryPoints: [source('./index.ts')], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' });
  assert.equal(result.errors.length, 0);
  assert.ok(result.outputFiles[0]!.text.includes('LifeboatClient'));
});

it('what the agent takes from core (kernel command line, errors) bundles platform-neutral without TypeBox', async () => {
  const result = await esbuild.build({
    stdin: { contents: "export { bootParamsFrom } from './boot/kernel-command-line.ts'; export { ApiError } from './errors.ts';", resolveDir: source('.'), loader: 'ts' },
    bundle: true,
    platform: 'neutral',
    format: 'esm',
    write: false,
    logLevel: 'silent',
  });
  const text = result.outputFiles[0]!.text;
  assert.ok(text.includes('lifeboat.token'));
  assert.ok(!text.includes('TypeBox') && !text.includes('sinclair'), 'no schema library in the agent');
});
