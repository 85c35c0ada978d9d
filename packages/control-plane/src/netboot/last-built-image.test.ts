import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { chooseRescueImage, lastBuiltImage, rescueImageLogLine } from './last-built-image.js';

describe('the rescue image lifeboat serve serves', () => {
  let cache: string;
  const env = (): { LIFEBOAT_CACHE: string } => ({ LIFEBOAT_CACHE: cache });
  /** An image directory as the builder leaves it (the manifest is written last), recorded as latest. */
  const built = (hash: string, complete = true, link = 'latest'): string => {
    const dir = join(cache, 'images', hash);
    mkdirSync(dir, { recursive: true });
    if (complete) writeFileSync(join(dir, 'manifest.json'), '{}\n');
    rmSync(join(cache, 'images', link), { force: true });
    symlinkSync(hash, join(cache, 'images', link));
    return dir;
  };
  beforeEach(() => {
    cache = mkdtempSync(join(tmpdir(), 'lifeboat-cache-'));
  });
  afterEach(() => rmSync(cache, { recursive: true, force: true }));

  it('is none on a machine where no image was built', () => {
    assert.equal(lastBuiltImage(cache), undefined);
    assert.deepEqual(chooseRescueImage(null, env()), { dir: null, source: 'none' });
  });

  it('is the last one built when --image is not given', () => {
    built('aaaa');
    const second = built('bbbb');
    assert.deepEqual(chooseRescueImage(null, env()), { dir: second, source: 'last-built' });
  });

  it('is the configured one when --image or LIFEBOAT_IMAGE names one', () => {
    built('aaaa');
    assert.deepEqual(chooseRescueImage('/srv/images/mine', env()), { dir: '/srv/images/mine', source: 'configured' });
  });

  it('is none when latest names an incomplete or removed image', () => {
    const dir = built('cccc', false);
    assert.equal(lastBuiltImage(cache), undefined);
    rmSync(dir, { recursive: true });
    assert.deepEqual(chooseRescueImage(null, env()), { dir: null, source: 'none' });
  });

  it('finds the cache where the builder puts it: XDG_CACHE_HOME, else the home directory', () => {
    const home = cache;
    cache = join(home, '.cache', 'lifeboat');
    const dir = built('dddd');
    assert.deepEqual(chooseRescueImage(null, {}, home), { dir, source: 'last-built' });
    assert.deepEqual(chooseRescueImage(null, { XDG_CACHE_HOME: join(home, '.cache') }, '/nonexistent'), { dir, source: 'last-built' });
    cache = home;
  });

  it('says at start which image is served, or that rescue will be refused', () => {
    assert.deepEqual(rescueImageLogLine({ dir: '/c/images/ab12', source: 'last-built' }), {
      level: 'info',
      message: 'rescue image: /c/images/ab12 (the last one built on this machine)',
    });
    assert.deepEqual(rescueImageLogLine({ dir: '/srv/img', source: 'configured' }), { level: 'info', message: 'rescue image: /srv/img' });
    const none = rescueImageLogLine({ dir: null, source: 'none' });
    assert.equal(none.level, 'warn');
    assert.match(none.message, /^no rescue image: rescue will be refused until one is built \(lifeboat image build\)/);
  });

  it('finds the last windows image built as latest-windows, apart from the linux one', () => {
    const linux = built('aaaa');
    assert.deepEqual(chooseRescueImage(null, env(), undefined, 'windows'), { dir: null, source: 'none' });
    const windows = built('wwww', true, 'latest-windows');
    assert.deepEqual(chooseRescueImage(null, env(), undefined, 'windows'), { dir: windows, source: 'last-built' });
    assert.deepEqual(chooseRescueImage(null, env()), { dir: linux, source: 'last-built' });
    assert.deepEqual(chooseRescueImage('/srv/win', env(), undefined, 'windows'), { dir: '/srv/win', source: 'configured' });
    assert.deepEqual(rescueImageLogLine({ dir: windows, source: 'last-built' }, 'windows'), {
      level: 'info',
      message: `rescue image of profile windows: ${windows} (the last one built on this machine)`,
    });
    const none = rescueImageLogLine({ dir: null, source: 'none' }, 'windows');
    assert.equal(none.level, 'info');
    assert.match(none.message, /refused until one is built \(lifeboat image build --profile windows\) or named \(--image-profile windows=DIR/);
  });
});
