import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lastBuiltImageLink, lifeboatCacheDir, rescueImagesDir } from './cache.js';

test('the cache is LIFEBOAT_CACHE, else XDG_CACHE_HOME/lifeboat, else ~/.cache/lifeboat', () => {
  assert.equal(lifeboatCacheDir({ LIFEBOAT_CACHE: '/srv/cache', XDG_CACHE_HOME: '/x' }, '/home/u'), '/srv/cache');
  assert.equal(lifeboatCacheDir({ XDG_CACHE_HOME: '/x/' }, '/home/u'), '/x/lifeboat');
  assert.equal(lifeboatCacheDir({}, '/home/u'), '/home/u/.cache/lifeboat');
  // An empty variable is unset, as a shell's `LIFEBOAT_CACHE= cmd` means.
  assert.equal(lifeboatCacheDir({ LIFEBOAT_CACHE: '', XDG_CACHE_HOME: '' }, '/root/'), '/root/.cache/lifeboat');
});

test('images live in CACHE/images, the last one built is CACHE/images/latest', () => {
  assert.equal(rescueImagesDir('/c/'), '/c/images');
  assert.equal(lastBuiltImageLink('/c'), '/c/images/latest');
});
