/**
 * A real control plane application for in-process tests: a store (SQLite, or the dialect asked), the
 * job queue, the rescue service over a stand-in image, and the Fastify app built as `main` builds it,
 * not listening unless asked. What the HTTP tests share. Used by tests only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { SecretBox } from '../credentials/secret-box.js';
import { powerDriverFactory } from '../drivers/power/index.js';
import { JobQueue } from '../jobs/job-queue.js';
import { netbootRoutes } from '../netboot/index.js';
import { createTestImages, type TestImages } from '../netboot/testing.js';
import { StoreNetbootSource } from '../rescue/netboot-source.js';
import { RescueService } from '../rescue/rescue-service.js';
import type { Clock } from '../store/rows.js';
import { Store } from '../store/store.js';
import { createTestDatabase, type TestDatabase } from '../store/testing.js';
import type { DialectName } from '../store/database.js';
import { buildApp, type AppOptions } from './app.js';
import type { Logger } from 'pino';
import type { AgentConfig } from '@lifeboat/core';
import { createLogger } from './logger.js';
import { loadSshHostCa } from '../ssh-host-ca/host-ca.js';

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
  /** Also serve the netboot routes (iPXE scripts, images) over the store, as `main` does. */
  readonly netboot?: boolean;
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
  const hostCa = await loadSshHostCa({ store, keyFile: null });
  const rescue = new RescueService({ store, queue, lease: options.lease ?? { defaultLeaseMs: 86_400_000, maxLeaseMs: 7 * 86_400_000 }, images: images.registry, hostCa });
  const plugins: FastifyPluginAsync[] = [...(options.app?.plugins ?? [])];
  if (options.netboot) {
    const source = new StoreNetbootSource(store);
    plugins.push((instance) => netbootRoutes(instance, { source, images: images.registry, bootUrl: 'http://127.0.0.1:8080', ...(options.app?.limiters ? { scriptLimiter: options.app.limiters.bootScripts } : {}) }));
  }
  const app = await buildApp({ store, queue, rescue, powerDrivers: powerDriverFactory(), logger: options.logger ?? createLogger('silent'), signal: stop.signal, ...options.app, plugins });
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

/**
 * Puts a registered server in rescue as the enter job and its agent would (a session booted, the boot
 * credential redeemed from 127.0.0.1, `ready` posted) and returns the agent's token; `email`: where the
 * session's mails go.
 */
export async function putInRescue(
  testApp: TestApp,
  serverName: string,
  expiresAt: Date,
  options: { readonly email?: string; readonly profile?: string; readonly onConfig?: (config: AgentConfig) => void } = {},
): Promise<string> {
  const { store } = testApp;
  const server = await store.servers.byName(serverName);
  if (!server) throw new Error(`no server ${serverName}`);
  const session = await store.sessions.open({ serverId: server.id, profile: options.profile ?? 'linux', email: options.email ?? null, sshKeys: [], passwordHash: null, expiresAt, requestedBy: 'test' });
  await store.sessions.transition(session.id, 'boot_started');
  // What the netboot route does for the server's first script request (app.inject comes from 127.0.0.1).
  const boot = await store.bootCredentials.issue(session.id, '127.0.0.1');
  if (boot.kind !== 'issued') throw new Error(`no boot credential for ${serverName}: ${boot.kind}`);
  const redeemed = await testApp.call('POST', '/v1/agent/redeem', undefined, { serverId: server.id, bootToken: boot.token });
  if (redeemed.status !== 200) throw new Error(`redeem: ${redeemed.status} ${redeemed.text}`);
  const token = String(redeemed.body?.agentToken);
  options.onConfig?.(redeemed.body?.config as AgentConfig);
  const ready = await testApp.call('POST', '/v1/agent/ready', token, {});
  if (ready.status !== 204) throw new Error(`ready: ${ready.status} ${ready.text}`);
  return token;
}
