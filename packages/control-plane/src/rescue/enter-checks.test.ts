/**
 * `rescue enter` spends CPU on the password hash only for a request it accepts (issue 14, finding 3):
 * a refused enter (the server already in rescue, a bad key, a lease too long, another tenant) costs
 * no hash, and the hash it does compute leaves the event loop free meanwhile.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LifeboatError, Principal, Server } from '@lifeboat/core';
import { rescuePassword } from '../credentials/password.js';
import { SecretBox } from '../credentials/secret-box.js';
import { JobQueue } from '../jobs/job-queue.js';
import { createTestImages } from '../netboot/testing.js';
import { Store } from '../store/store.js';
import { RescueService } from './rescue-service.js';

describe('rescue enter: checks before the hash', { timeout: 60_000 }, () => {
  let dir: string;
  let store: Store;
  let rescue: RescueService;
  let server: Server;
  const images = createTestImages();
  const customer: Principal = { tokenId: 'c', role: 'customer', tenantId: '' };
  // The real password function, counted.
  let hashes = 0;
  const countedPassword = async () => {
    hashes++;
    return rescuePassword();
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-enter-'));
    store = await Store.open({
      databaseUrl: `sqlite:${join(dir, 'lifeboat.db')}`,
      secretBox: SecretBox.fromKeyFile(join(dir, 'secret.key')),
      deadlines: { requestMs: 300_000, rescueMs: 600_000, exitMs: 600_000 },
    });
    const queue = new JobQueue(store.database.db, store.dialect, store.now);
    rescue = new RescueService({ store, queue, lease: { defaultLeaseMs: 3_600_000, maxLeaseMs: 86_400_000 }, images: images.registry, newPassword: countedPassword });
    const tenant = await store.tenants.add('acme');
    Object.assign(customer, { tenantId: tenant.id });
    server = await store.servers.add({ name: 'web-1', tenantId: tenant.id, macs: [], bmc: { driver: 'ipmi', url: 'ipmi://127.0.0.1:1', user: 'u', password: 'p' }, sshEndpoint: null, profiles: ['linux'] });
  });
  after(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
    images.remove();
  });

  it('hashes once for an accepted enter and never for refused ones', async () => {
    const { view } = await rescue.enter(customer, server, {});
    assert.equal(hashes, 1);
    assert.equal(typeof (view.ssh as { password?: string }).password, 'string');
    const refused: Array<[string, () => Promise<unknown>, string]> = [
      ['already in rescue', () => rescue.enter(customer, server, {}), 'INVALID_STATE'],
      ['lease too long', () => rescue.enter(customer, server, { expiresInMs: 7 * 86_400_000 }), 'LEASE_TOO_LONG'],
      ['another tenant', () => rescue.enter({ tokenId: 'g', role: 'customer', tenantId: 'globex' }, server, {}), 'FORBIDDEN'],
      ['unknown profile', () => rescue.enter(customer, server, { profile: 'windows' }), 'PROFILE_NOT_FOUND'],
    ];
    for (const [why, attempt, code] of refused) await assert.rejects(attempt, (error: LifeboatError) => error.code === code, why);
    assert.equal(hashes, 1, 'no refused request computed a hash');
  });
});
