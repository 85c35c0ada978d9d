import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { SecretBox } from '../src/credentials/secret-box.js';
import { buildApp } from '../src/http/app.js';
import { createLogger } from '../src/http/logger.js';
import { powerDriverFactory } from '../src/drivers/power/index.js';
import { JobQueue } from '../src/jobs/job-queue.js';
import { ControlPlaneMetrics } from '../src/metrics/metrics.js';
import { netbootRoutes } from '../src/netboot/index.js';
import { StoreNetbootSource } from '../src/rescue/netboot-source.js';
import { RescueService } from '../src/rescue/rescue-service.js';
import { Store } from '../src/store/store.js';

const file = fileURLToPath(new URL('../../../docs/openapi.json', import.meta.url));

// docs/openapi.json is the served document, kept in the repository for readers; regenerate it with
// LIFEBOAT_WRITE_OPENAPI=1 npm test -- packages/control-plane/test/openapi-document.test.ts
it('docs/openapi.json is the document the control plane serves', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-openapi-'));
  const stop = new AbortController();
  const store = await Store.open({ databaseUrl: `sqlite:${join(dir, 'db')}`, secretBox: SecretBox.fromKeyFile(join(dir, 'key')), deadlines: { requestMs: 1, rescueMs: 1, exitMs: 1 } });
  try {
    const queue = new JobQueue(store.database.db, store.dialect);
    const netboot = new StoreNetbootSource(store);
    const app = await buildApp({
      store,
      queue,
      rescue: new RescueService({ store, queue, lease: { defaultLeaseMs: 1, maxLeaseMs: 1 }, images: { directoryOf: async () => undefined } }),
      powerDrivers: powerDriverFactory(),
      logger: createLogger('silent'),
      signal: stop.signal,
      // main always serves `GET /metrics` on the API listener.
      metrics: new ControlPlaneMetrics({ store, queue }),
      plugins: [(instance) => netbootRoutes(instance, { source: netboot, images: { directoryOf: async () => undefined }, bootUrl: 'http://10.0.2.2:8080' })],
    });
    const served = (await app.inject({ url: '/openapi.json' })).json();
    await app.close();
    const text = `${JSON.stringify(served, null, 2)}\n`;
    if (process.env.LIFEBOAT_WRITE_OPENAPI === '1') writeFileSync(file, text);
    assert.equal(readFileSync(file, 'utf8'), text, 'docs/openapi.json is stale: regenerate it (see the comment above)');
  } finally {
    stop.abort();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
