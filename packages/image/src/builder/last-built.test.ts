import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { lastBuiltImageLink } from '@lifeboat/core';
import { recordLastBuiltImage } from './rescue-image.js';

test('the last image built is recorded as CACHE/images/latest, a relative link replaced in place', async (t) => {
  const cache = mkdtempSync(join(tmpdir(), 'lifeboat-cache-'));
  t.after(() => rmSync(cache, { recursive: true, force: true }));
  for (const hash of ['aaaa', 'bbbb']) mkdirSync(join(cache, 'images', hash), { recursive: true });
  await recordLastBuiltImage(cache, join(cache, 'images', 'aaaa'));
  await recordLastBuiltImage(cache, join(cache, 'images', 'bbbb'));
  const link = lastBuiltImageLink(cache);
  assert.equal(readlinkSync(link), 'bbbb');
  assert.equal(realpathSync(link), realpathSync(join(cache, 'images', 'bbbb')));
});

test('the last windows image is recorded as CACHE/images/latest-windows, leaving latest (linux) alone', async (t) => {
  const cache = mkdtempSync(join(tmpdir(), 'lifeboat-cache-'));
  t.after(() => rmSync(cache, { recursive: true, force: true }));
  for (const hash of ['aaaa', 'wwww']) mkdirSync(join(cache, 'images', hash), { recursive: true });
  await recordLastBuiltImage(cache, join(cache, 'images', 'aaaa'));
  await recordLastBuiltImage(cache, join(cache, 'images', 'wwww'), 'windows');
  assert.equal(readlinkSync(join(cache, 'images', 'latest-windows')), 'wwww');
  assert.equal(lastBuiltImageLink(cache, 'windows'), join(cache, 'images', 'latest-windows'));
  assert.equal(readlinkSync(lastBuiltImageLink(cache)), 'aaaa');
});
