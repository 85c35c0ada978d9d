/**
 * A real control plane application for in-process tests: a store (SQLite, or the dialect asked), the
 * job queue, the rescue service over a stand-in image, and the Fastify app built as `main` builds it,
 * not listening unless asked. What the HTTP tests share. Used by tests only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { SecretBox } from '../credentials/secret-box.js';
import { powerDriverFactory } from '../drivers/power/index.js';
import { JobQueue } from '../jobs/job-queue.js';
import { createTestImages, type TestImages } from '../netboot/testing.js';
import { RescueService } from '../rescue/rescue-service.js';
import type { Clock } from '../store/rows.js';
import { Store } from '../store/store.js';
import { createTestDatabase, type TestDatabase } from '../store/testing.js';
import type { DialectName } from '../store/database.js';
import { buildApp, type AppOptions } from './app.js';
import type { Logger } from 'pino';
import { createLogger } from './logger.js';

/** How the application is made. */
export interface TestAppOptions {
  /** The database's dialect (default SQLite in the scratch directory). */
  readonly dialect?: DialectName;
  /** The store's clock (tests move time instead of waiting). */
  readonly now?: Clock;
  /** Rescue leases (default 1 day, at most 7). */
  readonly lease?: { readonly defaultLeaseMs: number; readonly maxLeaseMs: number };
  /** Session deadlines (default: request 60 s, rescue and exit 10 min). */
  readonly deadlines?: { readonly requestMs: number; readonly rescueMs: number; readonly exitMs: number };
  /** The app's logger (default silent). */
  readonly logger?: Logger;
  /** Passed to `buildApp` as they are. */
  readonly app?: Pick<AppOptions, 'explorerTiming' | 'mailer' | 'limiters' | 'plugins'>;
}

/** An in-process answer: status, parsed JSON (when JSON), the raw text and its content type. */
export interface Answer {
  readonly status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: Record<string, any> | undefined;
  readonly text: string;
  readonly type: string;
}

/** The running application and what it is made of. */
export interface TestApp {
  readonly dir: string;
  readonly store: Store;
  readonly queue: JobQueue;
  readonly rescue: RescueService;
  readonly app: FastifyInstance;
  /** The stand-in rescue image behind the rescue service. */
  readonly images: TestImages;
  /** Aborted by `close()`: ends long polls and event streams. */
  readonly signal: AbortSignal;
  /** An operator's token. */
  readonly admin: string;
  /** `app.inject` with a bearer token (none when undefined). */
  call(method: string, url: string, token: string | undefined, body?: unknown): Promise<Answer>;
  /** Listens on a free loopback port; the base URL. */
  listen(): Promise<string>;
  /** Stops everything and removes the scratch directory and the database. */
  close(): Promise<void>;
}

/** Builds the application over a new database. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-app-'));
  const images = createTestImages();
  const stop = new AbortController();
  const database: TestDatabase | undefined = options.dialect ? await createTestDatabase(options.dialect) : undefined;
  const store = await Store.open({
    databaseUrl: database?.url ?? `sqlite:${join(dir, 'lifeboat.db')}`,
    secretBox: SecretBox.fromKeyFile(join(dir, 'secret.key')),
    deadlines: options.deadlines ?? { requestMs: 60_000, rescueMs: 600_000, exitMs: 600_000 },
    ...(options.now ? { now: options.now } : {}),
  });
  const queue = new JobQueue(store.database.db, store.dialect, store.now);
  const rescue = new RescueService({ store, queue, lease: options.lease ?? { defaultLeaseMs: 86_400_000, maxLeaseMs: 7 * 86_400_000 }, images: images.registry });
  const app = await buildApp({ store, queue, rescue, powerDrivers: powerDriverFactory(), logger: options.logger ?? createLogger('silent'), signal: stop.signal, ...options.app });
  const admin = (await store.tokens.create({ name: 'admin', role: 'operator', tenantId: null })).token;
  return {
    dir,
    store,
    queue,
    rescue,
    app,
    images,
    signal: stop.signal,
    admin,
    async call(method, url, token, body) {
      const response = await app.inject({
        method: method as 'GET',
        url,
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
        ...(body === undefined ? {} : { payload: body as object }),
      });
      const type = String(response.headers['content-type'] ?? '');
      return { status: response.statusCode, body: type.startsWith('application/json') && response.body ? JSON.parse(response.body) : undefined, text: response.body, type };
    },
    listen: () => app.listen({ host: '127.0.0.1', port: 0 }),
    async close() {
      stop.abort();
      await app.close();
      await store.close();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
      images.remove();
    },
  };
}
