/**
 * Wires the control plane: configuration, store, jobs, rescue flow, HTTP. Owns startup and shutdown
 * (one AbortController; SIGTERM and SIGINT stop it cleanly). Nothing else lives here.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { builtImageProfiles } from '@lifeboat/core';
import { join } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import { bootUrlFor, configHelp, parseConfig, type Config } from './config.js';
import { ConsoleHubs } from './console/console-hub.js';
import { ConsoleRecorder } from './console/console-recorder.js';
import { consoleDriverFactory, type ConsoleDriverFactory } from './console/console-driver.js';
import { consoleInfoOf } from './console/console-info.js';
import { consoleHostKey } from './console/host-key.js';
import { SshConsoleGateway } from './console/ssh-gateway.js';
import { SecretBox } from './credentials/secret-box.js';
import { powerDriverFactory } from './drivers/power/index.js';
import type { PowerDriverFactory } from './drivers/power/power-driver.js';
import { LifeboatError } from './errors.js';
import { buildApp } from './http/app.js';
import { RequestLimiters } from './http/rate-limiter.js';
import { workspaceWebDir } from './http/web-console.js';
import { JobQueue } from './jobs/job-queue.js';
import { ControlPlaneMetrics } from './metrics/metrics.js';
import { createMailer } from './mail/index.js';
import { DeadlineScheduler } from './jobs/scheduler.js';
import { Worker } from './jobs/worker.js';
import { createLogger } from './http/logger.js';
import { newUserPassword } from './credentials/user-password.js';
import { netbootRoutes, type ImageRegistry, type NetbootSource } from './netboot/index.js';
import { chooseRescueImage, rescueImageLogLine, type RescueImageChoice } from './netboot/last-built-image.js';
import { profileImages } from './netboot/profile-images.js';
import { StoreNetbootSource } from './rescue/netboot-source.js';
import { rescueJobs } from './rescue/rescue-jobs.js';
import { doctorJobs } from './doctor/doctor-mail.js';
import { RescueService } from './rescue/rescue-service.js';
import { loadSshHostCa } from './ssh-host-ca/host-ca.js';
import { Store } from './store/store.js';

/** What can be swapped when starting the control plane (tests replace the BMC boundary only). */
export interface ControlPlaneParts {
  /** BMC drivers; default: the ipmi and redfish drivers. */
  readonly powerDrivers?: PowerDriverFactory;
  /** Serial console drivers; default: TCP serial ports and IPMI Serial-over-LAN. */
  readonly consoleDrivers?: ConsoleDriverFactory;
  /** Logger; default: JSON lines on stdout at the configured level. */
  readonly logger?: Logger;
  /**
   * Extra routes, built once the boot URL and the netboot source are known (the netboot routes are
   * always registered). Tests use it to reach the netboot source as a booting machine would.
   */
  readonly routes?: (context: { config: Config; bootUrl: string; netboot: NetbootSource; store: Store; logger: Logger }) => FastifyPluginAsync[];
  /** Where `config.imageDir` came from, for the start log (default: configured, or none). */
  readonly rescueImage?: RescueImageChoice;
  /** How the image of each profile other than linux was chosen (for the start log), by profile. */
  readonly profileImages?: Readonly<Record<string, RescueImageChoice>>;
  /**
   * Writes what an operator must read once on the terminal, never through the logger (log lines are
   * shipped and kept): the first operator's password. Default: standard error.
   */
  readonly notice?: (text: string) => void;
}

/** A running control plane. */
export interface RunningControlPlane {
  /** Base URL of the API, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** URL servers use to reach the control plane. */
  readonly bootUrl: string;
  /** Where the boot listener listens (`--boot-listen`), e.g. `http://192.0.2.10:8081`; null: on the API's. */
  readonly bootListenUrl: string | null;
  readonly config: Config;
  readonly store: Store;
  /** The servers' serial consoles (one shared connection per server). */
  readonly consoles: ConsoleHubs;
  /** Where the SSH console gateway listens (null: off). */
  readonly consoleGateway: { readonly host: string; readonly port: number; readonly hostKeyFingerprint: string } | null;
  /** Stops accepting requests and jobs, waits for work in progress to stop, closes the database. */
  close(): Promise<void>;
}

/** Starts the control plane with a configuration. */
export async function startControlPlane(config: Config, parts: ControlPlaneParts = {}): Promise<RunningControlPlane> {
  const logger = parts.logger ?? createLogger(config.logLevel);
  const stop = new AbortController();
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // Lifeboat's own directory (the secret key, the operator token, SQLite): nobody else's to read.
  chmodSync(config.dataDir, 0o700);
  const secretBox = SecretBox.fromKeyFile(join(config.dataDir, 'secret.key'));
  const store = await Store.open({
    databaseUrl: config.databaseUrl,
    secretBox,
    deadlines: { requestMs: config.requestTimeoutMs, rescueMs: config.rescueTimeoutMs, exitMs: config.exitTimeoutMs },
  });
  const background: Promise<void>[] = [];
  const closers: Array<() => void> = [];
  let stopConsoles = async (): Promise<void> => undefined;
  try {
    await createAdminTokenOnFirstStart(store, config, logger);
    const firstUser = await createAdminUserOnFirstStart(store, logger);
    const queue = new JobQueue(store.database.db, store.dialect, store.now);
    const metrics = new ControlPlaneMetrics({ store, queue });
    closers.push(() => metrics.close());
    const mailer = config.smtpUrl === null ? undefined : metrics.instrumentMailer(createMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom }));
    if (mailer) closers.push(() => mailer.close());
    const hostCa = await loadSshHostCa({ store, keyFile: config.sshHostCaKey, hosts: config.sshHostCaHosts });
    logger.info({ source: hostCa.source, fingerprint: hostCa.fingerprint }, 'SSH host CA loaded');
    const rescue = new RescueService({ store, queue, lease: { defaultLeaseMs: config.defaultLeaseMs, maxLeaseMs: config.maxLeaseMs }, images: profileImages(config), mails: mailer !== undefined, bmcAttempts: config.bmcAttempts, hostCa });
    const powerDrivers = metrics.instrumentPowerDrivers(parts.powerDrivers ?? powerDriverFactory());
    const consoles = new ConsoleHubs({ drivers: parts.consoleDrivers ?? consoleDriverFactory(store.servers), log: logger });
    const recorder = new ConsoleRecorder({ hubs: consoles, store, log: logger });
    stopConsoles = async () => {
      await recorder.close();
      await consoles.close();
    };
    const jobs = rescueJobs({ store, queue, rescue, powerDrivers, recorder, agentExitWaitMs: config.exitAgentTimeoutMs, netbootAfterCycleWaitMs: config.resumeNetbootWaitMs, log: logger, ...(mailer ? { mailer } : {}) });
    const worker = new Worker({
      queue,
      handlers: { ...jobs.handlers, ...doctorJobs({ store, ...(mailer ? { mailer } : {}) }) },
      onGiveUp: jobs.onGiveUp,
      leaseMs: config.jobLeaseMs,
      backoff: { baseMs: 2000, maxMs: 60_000 },
      pollMs: Math.min(1000, config.jobLeaseMs),
      // Jobs mostly wait (BMC answers, an OS coming back): many run at once.
      concurrency: 64,
      log: logger,
    });
    const scheduler = new DeadlineScheduler({ store, queue, intervalMs: config.schedulerIntervalMs, warnBeforeMs: config.leaseWarningMs, log: logger });
    const netboot = new StoreNetbootSource(store, logger);
    // One set of limits for both listeners of this replica; on PostgreSQL counted in the database,
    // so that a limit holds across replicas whichever one answers.
    const limiters = store.dialect === 'postgres' ? RequestLimiters.shared(store.rateLimitHits, config.limits) : new RequestLimiters(config.limits);

    // The boot URL may depend on the port (0 in tests): pick the ports first, then build the routes.
    const port = config.listen.port === 0 ? await freePort(config.listen.host) : config.listen.port;
    const bootListen = config.bootListen === null ? null : { host: config.bootListen.host, port: config.bootListen.port === 0 ? await freePort(config.bootListen.host) : config.bootListen.port };
    const bootUrl = bootUrlFor(config, bootListen ?? { host: config.listen.host, port });
    const consoleLimits = { idleTimeoutMs: config.consoleIdleTimeoutMs };
    const hostKey = config.consoleListen === null ? null : await consoleHostKey(store);
    let gatewayAddress: { host: string; port: number } | null = null;
    const plugins: FastifyPluginAsync[] = [
      (instance) => netbootRoutes(instance, { source: netboot, images: profileImages(config), bootUrl, scriptLimiter: limiters.bootScripts, accelRedirect: config.imageAccelRedirect }),
      ...(parts.routes?.({ config, bootUrl, netboot, store, logger }) ?? []),
    ];
    const appOptions = {
      store,
      queue,
      rescue,
      powerDrivers,
      consoles,
      consoleLimits,
      consoleInfo: () => consoleInfoOf(gatewayAddress, hostKey),
      logger,
      signal: stop.signal,
      webDir: config.webDir ?? workspaceWebDir(),
      accounts: { secureCookies: config.secureCookies, sessionLifetime: { idleMs: config.sessionIdleMs, maxMs: config.sessionMaxMs } },
      http: { requestTimeoutMs: config.httpRequestTimeoutMs },
      trustProxy: config.trustProxy,
      ...(mailer ? { mailer } : {}),
      plugins,
      limiters,
      metrics,
      metricsToken: config.metricsToken,
    };
    const app = await buildApp({ ...appOptions, surface: bootListen === null ? 'all' : 'api' });
    // With --boot-listen, the provisioning network's listener: netboot and the agent API only.
    const bootApp = bootListen === null ? null : await buildApp({ ...appOptions, surface: 'boot', webDir: null });
    await app.listen({ host: config.listen.host, port });
    if (bootApp !== null && bootListen !== null) {
      try {
        await bootApp.listen(bootListen);
      } catch (error) {
        await bootApp.close();
        await app.close();
        throw new LifeboatError('CONFIG_INVALID', `the boot listener cannot listen on ${bootListen.host}:${bootListen.port}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message} (--boot-listen HOST:PORT, or off)`);
      }
    }
    let gateway: SshConsoleGateway | null = null;
    if (config.consoleListen !== null && hostKey !== null) {
      gateway = new SshConsoleGateway({ store, hubs: consoles, hostKey, limits: consoleLimits, log: logger });
      try {
        gatewayAddress = await gateway.listen(config.consoleListen.host, config.consoleListen.port);
      } catch (error) {
        await app.close();
        await consoles.close();
        throw new LifeboatError('CONFIG_INVALID', `the SSH console gateway cannot listen on ${config.consoleListen.host}:${config.consoleListen.port}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message} (--console-listen HOST:PORT, or off)`);
      }
      logger.info({ listen: gatewayAddress, hostKeyFingerprint: hostKey.fingerprint }, 'SSH console gateway listening');
    }
    const url = `http://${config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host}:${port}`;
    logger.info({ url, bootUrl, bootListen: bootListen === null ? 'on the API listener' : `${bootListen.host}:${bootListen.port}`, database: store.dialect, dataDir: config.dataDir, image: config.imageDir }, 'control plane listening');
    const image = rescueImageLogLine(parts.rescueImage ?? (config.imageDir === null ? { dir: null, source: 'none' } : { dir: config.imageDir, source: 'configured' }));
    logger[image.level](image.message);
    for (const profile of new Set([...Object.keys(parts.profileImages ?? {}), ...Object.keys(config.profileImageDirs)])) {
      const dir = config.profileImageDirs[profile];
      const choice = parts.profileImages?.[profile] ?? (dir === undefined ? { dir: null, source: 'none' as const } : { dir, source: 'configured' as const });
      const line = rescueImageLogLine(choice, profile);
      logger[line.level](line.message);
    }
    if (firstUser) (parts.notice ?? ((text) => process.stderr.write(text)))(signInNotice(url, firstUser));

    background.push(worker.run(stop.signal), scheduler.run(stop.signal));
    let closing: Promise<void> | undefined;
    return {
      url,
      bootUrl,
      bootListenUrl: bootListen === null ? null : `http://${bootListen.host.includes(':') ? `[${bootListen.host}]` : bootListen.host}:${bootListen.port}`,
      config,
      store,
      consoles,
      consoleGateway: gatewayAddress === null || hostKey === null ? null : { ...gatewayAddress, hostKeyFingerprint: hostKey.fingerprint },
      close() {
        closing ??= (async () => {
          stop.abort();
          await gateway?.close();
          await bootApp?.close();
          await app.close();
          await Promise.allSettled(background);
          await stopConsoles();
          for (const close of closers) close();
          await store.close();
          logger.info('control plane stopped');
        })();
        return closing;
      },
    };
  } catch (error) {
    stop.abort();
    await Promise.allSettled(background);
    await stopConsoles();
    await store.close();
    throw error;
  }
}

/** On an empty database: an operator token in `<data>/admin.token` (0600); the log names the file only. */
async function createAdminTokenOnFirstStart(store: Store, config: Config, logger: Logger): Promise<void> {
  if (await store.tokens.any()) return;
  const { token, record } = await store.tokens.create({ name: 'admin', role: 'operator', tenantId: null });
  const file = join(config.dataDir, 'admin.token');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  await store.audit.record('system', 'token.create', { detail: { tokenId: record.id, role: 'operator', file } });
  logger.info({ file }, 'first start: operator token written');
}

/** On a database without users: the operator `admin` with a generated password (only its scrypt hash is stored). */
async function createAdminUserOnFirstStart(store: Store, logger: Logger): Promise<{ name: string; password: string } | undefined> {
  if (await store.users.any()) return undefined;
  const password = newUserPassword();
  const user = await store.users.add({ name: 'admin', role: 'operator', tenantId: null, email: null, password });
  await store.audit.record('system', 'user.add', { detail: { name: user.name, role: user.role, passwordGenerated: true } });
  logger.info({ user: user.name }, 'first start: operator user created (its password is printed on the terminal once)');
  return { name: user.name, password };
}

/** The first start's sign-in instructions (the one place a user's password is ever shown by the control plane itself). */
export function signInNotice(url: string, user: { name: string; password: string }): string {
  return [
    '',
    'Lifeboat: first start. Sign in to the web console as the first operator:',
    `  URL:      ${url}/`,
    `  user:     ${user.name}`,
    `  password: ${user.password}`,
    'The password is shown this once (only its hash is kept): change it under Account after signing in,',
    'or add your own users with `lifeboat users add NAME --role operator`.',
    '',
    '',
  ].join('\n');
}

async function freePort(host: string): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** `lifeboat serve`: runs until SIGTERM or SIGINT; returns the exit code. */
export async function main(argv: readonly string[], parts: ControlPlaneParts = {}): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`lifeboat serve [options]: run the control plane\n\nOptions (flag, environment variable):\n${configHelp()}\n`);
    return 0;
  }
  let config: Config;
  try {
    config = parseConfig(argv);
  } catch (error) {
    if (error instanceof LifeboatError) {
      process.stderr.write(`lifeboat serve: ${error.code}: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  // Without --image: the image `lifeboat image build` last built on this machine, if any; the same for
  // every other profile the builder makes, unless --image-profile names its image.
  const rescueImage = chooseRescueImage(config.imageDir, process.env);
  const profileImageChoices: Record<string, RescueImageChoice> = {};
  for (const profile of builtImageProfiles.filter((p) => p !== 'linux')) {
    profileImageChoices[profile] = chooseRescueImage(config.profileImageDirs[profile] ?? null, process.env, homedir(), profile);
  }
  const profileImageDirs = Object.freeze({
    ...config.profileImageDirs,
    ...Object.fromEntries(Object.entries(profileImageChoices).flatMap(([profile, choice]) => (choice.dir === null ? [] : [[profile, choice.dir]]))),
  });
  const running = await startControlPlane(Object.freeze({ ...config, imageDir: rescueImage.dir, profileImageDirs }), {
    rescueImage,
    profileImages: profileImageChoices,
    ...parts,
  });
  await new Promise<void>((resolve) => {
    const onSignal = () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  await running.close();
  return 0;
}
