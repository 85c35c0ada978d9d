/**
 * The windows rescue profile served from its own image (issue 16): `--image-profile windows=DIR` names it,
 * `rescue enter --profile windows` boots it on a server whose profiles include windows, and a control
 * plane without a windows image refuses such a request at once with IMAGE_NOT_FOUND.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LifeboatError, Principal, Server } from '@lifeboat/core';
import { parseConfig } from '../config.js';
import { SecretBox } from '../credentials/secret-box.js';
import { JobQueue } from '../jobs/job-queue.js';
import { RescueService } from '../rescue/rescue-service.js';
import { Store } from '../store/store.js';
import { profileImages } from './profile-images.js';
import { createTestImages } from './testing.js';

describe('rescue images by profile', { timeout: 60_000 }, () => {
  let dir: string;
  let store: Store;
  let queue: JobQueue;
  let server: Server;
  const images = createTestImages(['linux', 'windows']);
  const operator: Principal = { tokenId: 'o', role: 'operator', tenantId: null };
  const rescueWith = (argv: string[]): RescueService =>
    new RescueService({ store, queue, lease: { defaultLeaseMs: 3_600_000, maxLeaseMs: 86_400_000 }, images: profileImages(parseConfig(argv, {}, dir)) });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-profiles-'));
    store = await Store.open({
      databaseUrl: `sqlite:${join(dir, 'lifeboat.db')}`,
      secretBox: SecretBox.fromKeyFile(join(dir, 'secret.key')),
      deadlines: { requestMs: 300_000, rescueMs: 600_000, exitMs: 600_000 },
    });
    queue = new JobQueue(store.database.db, store.dialect, store.now);
    const tenant = await store.tenants.add('acme');
    server = await store.servers.add({
      name: 'win-1', tenantId: tenant.id, macs: [], bmc: { driver: 'ipmi', url: 'ipmi://127.0.0.1:1', user: 'u', password: 'p' }, sshEndpoint: null,
      profiles: ['linux', 'windows'],
    });
  });
  after(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
    images.remove();
  });

  it('serves --image for linux and --image-profile PROFILE=DIR for the others, nothing else', async () => {
    const registry = profileImages(parseConfig(['--image', images.dirOf('linux'), '--image-profile', `windows=${images.dirOf('windows')}`], {}, dir));
    assert.equal(await registry.directoryOf('linux'), images.dirOf('linux'));
    assert.equal(await registry.directoryOf('windows'), images.dirOf('windows'));
    for (const id of ['other', 'constructor', '__proto__', 'toString']) assert.equal(await registry.directoryOf(id), undefined, id);
    const fromEnv = profileImages(parseConfig([], { LIFEBOAT_IMAGE_PROFILES: `windows=${images.dirOf('windows')}` }, dir));
    assert.equal(await fromEnv.directoryOf('windows'), images.dirOf('windows'));
    assert.equal(await fromEnv.directoryOf('linux'), undefined);
  });

  it('refuses --profile windows at once when the control plane has no windows image, saying how to build and serve one', async () => {
    const rescue = rescueWith(['--image', images.dirOf('linux')]);
    await assert.rejects(rescue.enter(operator, server, { profile: 'windows' }), (error: LifeboatError) => {
      assert.equal(error.code, 'IMAGE_NOT_FOUND');
      assert.match(error.message, /no rescue image for profile windows; build it with `lifeboat image build --profile windows` and start the control plane with --image-profile windows=DIR/);
      return true;
    });
    assert.equal(await store.sessions.openFor(server.id), undefined, 'nothing recorded');
  });

  it('enters rescue with the windows profile from the windows image', async () => {
    const rescue = rescueWith(['--image', images.dirOf('linux'), '--image-profile', `windows=${images.dirOf('windows')}`]);
    const { view } = await rescue.enter(operator, server, { profile: 'windows' });
    assert.equal(view.profile, 'windows');
    assert.equal((await store.sessions.openFor(server.id))?.profile, 'windows');
  });
});
