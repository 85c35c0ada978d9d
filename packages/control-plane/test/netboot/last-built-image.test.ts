/**
 * `lifeboat serve` without `--image` serves the image `lifeboat image build` last built on this machine
 * (`$LIFEBOAT_CACHE/images/latest`) and says so at start; with none, it says rescue will be refused.
 * The real `main` in a child process, the cache as the builder leaves it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { lastBuiltImageLink } from '@lifeboat/core';
import { freePort, waitFor } from '@lifeboat/test-support';
import { startRecordingControlPlane } from '../recording-control-plane.js';

/** The pino messages of a control plane's JSON log lines. */
function messages(output: string): string[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => (JSON.parse(line) as { msg?: string }).msg ?? '');
}

describe('lifeboat serve without --image', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-latest-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('serves the last image built on this machine and says so', async () => {
    const cache = join(dir, 'cache');
    const image = join(cache, 'images', '0123456789abcdef0123');
    mkdirSync(image, { recursive: true });
    writeFileSync(join(image, 'vmlinuz'), 'kernel of the last build');
    writeFileSync(join(image, 'initrd'), 'initrd');
    writeFileSync(join(image, 'rootfs.squashfs'), 'rootfs');
    writeFileSync(join(image, 'manifest.json'), '{}\n');
    symlinkSync('0123456789abcdef0123', lastBuiltImageLink(cache));
    const plane = await startRecordingControlPlane({
      dataDir: join(dir, 'data-1'),
      port: await freePort(),
      standInImage: false,
      env: { LIFEBOAT_CACHE: cache, LIFEBOAT_IMAGE: '', RECORDING_BMC_LOG: join(dir, 'bmc-1.log') },
    });
    try {
      const line = `rescue image: ${image} (the last one built on this machine)`;
      await waitFor('the start log to name the image', () => messages(plane.output()).includes(line), 10_000, 100);
      const kernel = await fetch(`${plane.url}/v1/images/linux/vmlinuz`);
      assert.equal(kernel.status, 200);
      assert.equal(await kernel.text(), 'kernel of the last build');
    } finally {
      await plane.stop();
    }
  });

  it('says that rescue will be refused when no image was built here', async () => {
    const plane = await startRecordingControlPlane({
      dataDir: join(dir, 'data-2'),
      port: await freePort(),
      standInImage: false,
      env: { LIFEBOAT_CACHE: join(dir, 'empty-cache'), LIFEBOAT_IMAGE: '', RECORDING_BMC_LOG: join(dir, 'bmc-2.log') },
    });
    try {
      const said = await waitFor('the start log to speak of the image', () => messages(plane.output()).find((m) => m.includes('rescue image')), 10_000, 100);
      assert.match(said, /^no rescue image: rescue will be refused until one is built \(lifeboat image build\)/);
      assert.equal((await fetch(`${plane.url}/v1/images/linux/vmlinuz`)).status, 404);
    } finally {
      await plane.stop();
    }
  });
});
