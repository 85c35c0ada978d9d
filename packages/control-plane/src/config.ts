/**
 * The control plane's configuration: one schema, every option settable by a flag and by a `LIFEBOAT_*`
 * environment variable (the flag wins), validated at start and frozen. Nothing is required to try it
 * on one machine: SQLite in `./data`, listening on 127.0.0.1:8080.
 */
import { isIP } from 'node:net';
import { isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isValidProfileName, LifeboatError, parseDuration } from '@lifeboat/core';
import { defaultRateLimits, formatRateLimit, parseRateLimit, type RateLimits } from './http/rate-limiter.js';

/** The validated configuration. */
export interface Config {
  /** Data directory: SQLite database, `secret.key`, `admin.token`. */
  readonly dataDir: string;
  /** `sqlite:PATH` or `postgres://...`. */
  readonly databaseUrl: string;
  readonly listen: { readonly host: string; readonly port: number };
  /**
   * The URL servers use to reach the control plane (iPXE scripts, the agent). Null: derived from the
   * address actually listened on, with 127.0.0.1/0.0.0.0/localhost replaced by 10.0.2.2, which is the
   * host's loopback as QEMU user-mode networking shows it to lab VMs.
   */
  readonly bootUrl: string | null;
  /** Directory of the built rescue image served for profile `linux` (null: no image to serve). */
  readonly imageDir: string | null;
  /**
   * Directories of the rescue images of the other profiles (`windows`), by profile, from `--image-profile
   * windows=DIR` / `LIFEBOAT_IMAGE_PROFILES`. `lifeboat serve` fills in a profile left out with the last
   * image of that profile built on the machine (`$LIFEBOAT_CACHE/images/latest-PROFILE`).
   */
  readonly profileImageDirs: Readonly<Record<string, string>>;
  /**
   * Directory of the built web console, served at `/` (null: the workspace's `packages/web/dist` when
   * it was built, else no console).
   */
  readonly webDir: string | null;
  /** `smtp://host:port` (null: credentials are not mailed). */
  readonly smtpUrl: string | null;
  readonly mailFrom: string;
  /** How long `rescue_requested` may last (the BMC steps). */
  readonly requestTimeoutMs: number;
  /** How long the rescue system has to report ready before rollback to disk. */
  readonly rescueTimeoutMs: number;
  /** How long the installed system has to answer after an exit. */
  readonly exitTimeoutMs: number;
  /** How long the exit waits for the agent to leave cleanly before the BMC cycles the power. */
  readonly exitAgentTimeoutMs: number;
  /** Attempts of an enter or exit job's BMC steps before the rescue fails (retries with backoff in between). */
  readonly bmcAttempts: number;
  /** After a restart in the middle of an enter's power cycle: how long a server that is on may take to netboot before it is cycled again. */
  readonly resumeNetbootWaitMs: number;
  /** Default rescue lease. */
  readonly defaultLeaseMs: number;
  /** Longest lease a customer may ask for (operators may ask for more). */
  readonly maxLeaseMs: number;
  /** Warn this long before a lease ends. */
  readonly leaseWarningMs: number;
  /** Lease of a claimed job; a crashed worker's jobs resume after it. */
  readonly jobLeaseMs: number;
  /** How often the deadline scheduler looks for passed deadlines. */
  readonly schedulerIntervalMs: number;
  /** pino level. */
  readonly logLevel: string;
  /** `auto`: the session cookie is `Secure` when the request came over HTTPS; `always`: behind a TLS-terminating proxy. */
  readonly secureCookies: 'auto' | 'always';
  /** A browser session unused this long ends. */
  readonly sessionIdleMs: number;
  /** A browser session ends this long after sign-in. */
  readonly sessionMaxMs: number;
  /** Time a client has to send a whole HTTP request (headers and body); a slower one is cut off with 408. */
  readonly httpRequestTimeoutMs: number;
  /** Where the SSH console gateway listens; null: off. */
  readonly consoleListen: { readonly host: string; readonly port: number } | null;
  /** A console viewer is detached after this long without input or console output. */
  readonly consoleIdleTimeoutMs: number;
  /**
   * Where the netboot endpoints (iPXE scripts, image files) and the agent API listen, apart from the
   * API (the provisioning network); null: on the API's listener, as before.
   */
  readonly bootListen: { readonly host: string; readonly port: number } | null;
  /** Rate limits per address or token (`COUNT/DURATION` or off on the command line). */
  readonly limits: RateLimits;
  /**
   * Addresses or CIDR ranges of load balancers in front of the replicas: from them, the client
   * address is read from `X-Forwarded-For` (and the scheme from `X-Forwarded-Proto`). Empty: none.
   */
  readonly trustProxy: readonly string[];
  /**
   * Image files are handed to the web server in front (nginx's `X-Accel-Redirect`): the answer names
   * `PREFIX` + the file's absolute path and carries no body. Null: Lifeboat streams the bytes itself.
   */
  readonly imageAccelRedirect: string | null;
  /**
   * A bearer token that reads `GET /metrics` and nothing else (a Prometheus scraper's); null: only
   * operators' API tokens read it.
   */
  readonly metricsToken: string | null;
  /**
   * The operator's SSH host CA: an OpenSSH ed25519 private key file (unencrypted), used as it is and
   * never stored; null: the CA generated at the first start and kept sealed in the database.
   */
  readonly sshHostCaKey: string | null;
  /** The host patterns of the customers' `@cert-authority` line (`*`, or `*.rescue.example.net,192.0.2.*`). */
  readonly sshHostCaHosts: string;
}

type Kind = 'string' | 'count' | 'duration' | 'listen' | 'listen-or-off' | 'url' | 'path' | 'limit' | 'addresses' | 'profile-images';

interface Option {
  readonly key: keyof Config | `limits.${keyof RateLimits}`;
  readonly flag: string;
  readonly env: string;
  readonly kind: Kind;
  readonly help: string;
  readonly fallback?: string;
}

/** Every option: flag, environment variable, default. Printed by `lifeboat serve --help`. */
export const configOptions: readonly Option[] = [
  { key: 'dataDir', flag: 'data', env: 'LIFEBOAT_DATA', kind: 'path', fallback: './data', help: 'data directory' },
  { key: 'databaseUrl', flag: 'database', env: 'LIFEBOAT_DATABASE_URL', kind: 'string', help: 'database: sqlite:PATH or postgres://... (default: SQLite in the data directory; put a password in the variable, not the flag: argv is public)' },
  { key: 'listen', flag: 'listen', env: 'LIFEBOAT_LISTEN', kind: 'listen', fallback: '127.0.0.1:8080', help: 'HOST:PORT to listen on' },
  { key: 'bootUrl', flag: 'boot-url', env: 'LIFEBOAT_BOOT_URL', kind: 'url', help: 'URL servers reach the control plane at (default: from --boot-listen, else --listen, 127.0.0.1 -> 10.0.2.2)' },
  { key: 'imageDir', flag: 'image', env: 'LIFEBOAT_IMAGE', kind: 'path', help: 'directory of the built rescue image (profile linux)' },
  { key: 'profileImageDirs', flag: 'image-profile', env: 'LIFEBOAT_IMAGE_PROFILES', kind: 'profile-images', help: 'rescue images of other profiles, PROFILE=DIR separated by commas (e.g. windows=/srv/lifeboat/windows; default: the last image of each profile built on this machine, lifeboat image build --profile windows)' },
  { key: 'webDir', flag: 'web', env: 'LIFEBOAT_WEB', kind: 'path', help: 'directory of the built web console, served at / (default: packages/web/dist of the workspace when built)' },
  { key: 'smtpUrl', flag: 'smtp-url', env: 'LIFEBOAT_SMTP_URL', kind: 'url', help: 'SMTP server for credentials and warnings, smtp://HOST:PORT (with user:password@, use the variable, not the flag: argv is public)' },
  { key: 'mailFrom', flag: 'mail-from', env: 'LIFEBOAT_MAIL_FROM', kind: 'string', fallback: 'lifeboat@localhost', help: 'sender address of mails' },
  { key: 'requestTimeoutMs', flag: 'request-timeout', env: 'LIFEBOAT_REQUEST_TIMEOUT', kind: 'duration', fallback: '5m', help: 'deadline of the BMC steps of a rescue request' },
  { key: 'rescueTimeoutMs', flag: 'rescue-timeout', env: 'LIFEBOAT_RESCUE_TIMEOUT', kind: 'duration', fallback: '10m', help: 'deadline for the rescue system to be ready' },
  { key: 'exitTimeoutMs', flag: 'exit-timeout', env: 'LIFEBOAT_EXIT_TIMEOUT', kind: 'duration', fallback: '10m', help: 'deadline for the installed system to answer after exit' },
  { key: 'exitAgentTimeoutMs', flag: 'exit-agent-timeout', env: 'LIFEBOAT_EXIT_AGENT_TIMEOUT', kind: 'duration', fallback: '60s', help: 'how long an exit waits for the agent to unmount and reboot before the BMC cycles the power' },
  { key: 'bmcAttempts', flag: 'bmc-attempts', env: 'LIFEBOAT_BMC_ATTEMPTS', kind: 'count', fallback: '8', help: 'attempts of an enter or exit before it fails when the BMC does not answer (backoff 2 s doubling, at most 60 s: 8 is about three minutes)' },
  { key: 'resumeNetbootWaitMs', flag: 'resume-netboot-wait', env: 'LIFEBOAT_RESUME_NETBOOT_WAIT', kind: 'duration', fallback: '90s', help: 'after a restart in the middle of an enter\'s power cycle (which leaves nothing to read back), how long a server that is on may take to ask for its rescue script before it is cycled again' },
  { key: 'defaultLeaseMs', flag: 'lease', env: 'LIFEBOAT_LEASE', kind: 'duration', fallback: '24h', help: 'default rescue lease' },
  { key: 'maxLeaseMs', flag: 'lease-max', env: 'LIFEBOAT_LEASE_MAX', kind: 'duration', fallback: '7d', help: 'longest lease a customer may ask for' },
  { key: 'leaseWarningMs', flag: 'lease-warning', env: 'LIFEBOAT_LEASE_WARNING', kind: 'duration', fallback: '1h', help: 'warn this long before a lease ends (0: never)' },
  { key: 'jobLeaseMs', flag: 'job-lease', env: 'LIFEBOAT_JOB_LEASE', kind: 'duration', fallback: '60s', help: 'lease of a running job (a crashed one resumes after it)' },
  { key: 'schedulerIntervalMs', flag: 'scheduler-interval', env: 'LIFEBOAT_SCHEDULER_INTERVAL', kind: 'duration', fallback: '5s', help: 'how often deadlines are checked' },
  { key: 'secureCookies', flag: 'secure-cookies', env: 'LIFEBOAT_SECURE_COOKIES', kind: 'string', fallback: 'auto', help: 'Secure flag of the session cookie: auto (when the request came over HTTPS) or always (behind a TLS proxy)' },
  { key: 'sessionIdleMs', flag: 'session-idle', env: 'LIFEBOAT_SESSION_IDLE', kind: 'duration', fallback: '12h', help: 'a browser session unused this long ends' },
  { key: 'sessionMaxMs', flag: 'session-max', env: 'LIFEBOAT_SESSION_MAX', kind: 'duration', fallback: '7d', help: 'a browser session ends this long after sign-in' },
  { key: 'consoleListen', flag: 'console-listen', env: 'LIFEBOAT_CONSOLE_LISTEN', kind: 'listen-or-off', fallback: '127.0.0.1:2222', help: 'HOST:PORT of the SSH console gateway (ssh -p PORT SERVER@HOST), or off' },
  { key: 'consoleIdleTimeoutMs', flag: 'console-idle-timeout', env: 'LIFEBOAT_CONSOLE_IDLE_TIMEOUT', kind: 'duration', fallback: '1h', help: 'detach a console viewer after this long without input or output' },
  { key: 'logLevel', flag: 'log-level', env: 'LIFEBOAT_LOG_LEVEL', kind: 'string', fallback: 'info', help: 'trace, debug, info, warn, error' },
  { key: 'bootListen', flag: 'boot-listen', env: 'LIFEBOAT_BOOT_LISTEN', kind: 'listen-or-off', help: 'HOST:PORT of a listener of its own for the netboot endpoints and the agent API, on the provisioning network; they then leave the API listener (default: off, on the API listener)' },
  { key: 'limits.authFailures', flag: 'limit-auth-failures', env: 'LIFEBOAT_LIMIT_AUTH_FAILURES', kind: 'limit', fallback: formatRateLimit(defaultRateLimits.authFailures), help: 'failed authentications (API, session or agent token) per client address, COUNT/DURATION or off' },
  { key: 'limits.enters', flag: 'limit-enters', env: 'LIFEBOAT_LIMIT_ENTERS', kind: 'limit', fallback: formatRateLimit(defaultRateLimits.enters), help: 'rescue enter requests per API token or browser session, COUNT/DURATION or off' },
  { key: 'limits.bootScripts', flag: 'limit-boot-scripts', env: 'LIFEBOAT_LIMIT_BOOT_SCRIPTS', kind: 'limit', fallback: formatRateLimit(defaultRateLimits.bootScripts), help: 'iPXE script requests per client address, COUNT/DURATION or off' },
  { key: 'limits.redeems', flag: 'limit-redeems', env: 'LIFEBOAT_LIMIT_REDEEMS', kind: 'limit', fallback: formatRateLimit(defaultRateLimits.redeems), help: 'boot credential redeems per client address, COUNT/DURATION or off' },
  { key: 'trustProxy', flag: 'trust-proxy', env: 'LIFEBOAT_TRUST_PROXY', kind: 'addresses', fallback: 'off', help: 'addresses or CIDR ranges of load balancers whose X-Forwarded-For and X-Forwarded-Proto are believed, comma-separated, or off' },
  { key: 'imageAccelRedirect', flag: 'image-accel-redirect', env: 'LIFEBOAT_IMAGE_ACCEL_REDIRECT', kind: 'string', help: 'hand image files to the nginx in front: answer X-Accel-Redirect: PREFIX/ABSOLUTE-PATH with no body (nginx: location PREFIX/ { internal; alias /; }; default: off, Lifeboat streams them)' },
  { key: 'metricsToken', flag: 'metrics-token', env: 'LIFEBOAT_METRICS_TOKEN', kind: 'string', help: 'bearer token of a Prometheus scraper for GET /metrics, at least 24 characters (use the variable, not the flag: argv is public; default: operator API tokens only)' },
  { key: 'sshHostCaKey', flag: 'ssh-host-ca-key', env: 'LIFEBOAT_SSH_HOST_CA_KEY', kind: 'path', help: 'the SSH host CA that signs rescue host keys: an unencrypted OpenSSH ed25519 private key file, used as it is (default: one generated at the first start, sealed in the database)' },
  { key: 'sshHostCaHosts', flag: 'ssh-host-ca-hosts', env: 'LIFEBOAT_SSH_HOST_CA_HOSTS', kind: 'string', fallback: '*', help: 'host patterns of the @cert-authority line given to customers, comma-separated (e.g. *.rescue.example.net,192.0.2.*): the hosts they trust the CA for' },
  { key: 'httpRequestTimeoutMs', flag: 'http-request-timeout', env: 'LIFEBOAT_HTTP_REQUEST_TIMEOUT', kind: 'duration', fallback: '60s', help: 'time a client has to send a whole HTTP request (headers and body): slower ones get 408' },
];

function invalid(message: string): never {
  throw new LifeboatError('CONFIG_INVALID', message);
}

function parseListen(text: string, source: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || port > 65535) invalid(`${source}: expected HOST:PORT, got ${text}`);
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port };
}

/** An IP address or a CIDR range (`10.0.0.0/8`, `fd00::/8`). */
function parseAddressRange(text: string, source: string): string {
  const [address = '', prefix, extra] = text.split('/');
  const family = isIP(address);
  const bits = prefix === undefined ? 0 : Number(prefix);
  if (family === 0 || extra !== undefined || (prefix !== undefined && (!/^\d{1,3}$/.test(prefix) || bits > (family === 4 ? 32 : 128)))) {
    invalid(`${source}: expected IP addresses or CIDR ranges separated by commas, or off, got ${text || 'an empty entry'}`);
  }
  return text;
}

/** `windows=DIR,other=DIR` → profile → absolute directory; `linux` has its own option (`--image`). */
function parseProfileImages(text: string, source: string, cwd: string): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of text.split(',').map((e) => e.trim()).filter(Boolean)) {
    const at = entry.indexOf('=');
    const profile = at > 0 ? entry.slice(0, at) : '';
    const dir = entry.slice(at + 1);
    if (!isValidProfileName(profile) || dir === '') invalid(`${source}: expected PROFILE=DIR separated by commas (e.g. windows=/srv/lifeboat/windows), got ${entry}`);
    if (profile === 'linux') invalid(`${source}: the linux profile's image is set by --image (LIFEBOAT_IMAGE)`);
    if (profile in out) invalid(`${source}: profile ${profile} is given twice`);
    out[profile] = isAbsolute(dir) ? dir : resolve(cwd, dir);
  }
  return Object.freeze(out);
}

/** The boot URL for an address: explicit, else derived (127.0.0.1, 0.0.0.0 and localhost -> 10.0.2.2). */
export function bootUrlFor(config: Pick<Config, 'bootUrl'>, listened: { host: string; port: number }): string {
  if (config.bootUrl !== null) return config.bootUrl.replace(/\/+$/, '');
  const host = ['127.0.0.1', '0.0.0.0', 'localhost', '::', '::1'].includes(listened.host) ? '10.0.2.2' : listened.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${listened.port}`;
}

/** Parses flags (`--data DIR` ...) and `LIFEBOAT_*` variables into a frozen configuration. */
export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: Object.fromEntries(configOptions.map((o) => [o.flag, { type: 'string' as const }])),
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    invalid((error as Error).message);
  }
  const raw = (o: Option): { text: string; source: string } | undefined => {
    const flag = values[o.flag];
    if (typeof flag === 'string') return { text: flag, source: `--${o.flag}` };
    const fromEnv = env[o.env];
    if (fromEnv !== undefined && fromEnv !== '') return { text: fromEnv, source: o.env };
    return o.fallback === undefined ? undefined : { text: o.fallback, source: `default of --${o.flag}` };
  };
  const out: Record<string, unknown> = {};
  for (const o of configOptions) {
    const value = raw(o);
    if (value === undefined) {
      out[o.key] = null;
      continue;
    }
    switch (o.kind) {
      case 'string':
        out[o.key] = value.text;
        break;
      case 'path':
        out[o.key] = isAbsolute(value.text) ? value.text : resolve(cwd, value.text);
        break;
      case 'listen':
        out[o.key] = parseListen(value.text, value.source);
        break;
      case 'listen-or-off':
        out[o.key] = value.text === 'off' ? null : Object.freeze(parseListen(value.text, value.source));
        break;
      case 'url':
        try {
          new URL(value.text);
        } catch {
          invalid(`${value.source}: not a URL: ${value.text}`);
        }
        out[o.key] = value.text;
        break;
      case 'addresses':
        out[o.key] = value.text === 'off' ? Object.freeze([]) : Object.freeze(value.text.split(',').map((entry) => parseAddressRange(entry.trim(), value.source)));
        break;
      case 'profile-images':
        out[o.key] = parseProfileImages(value.text, value.source, cwd);
        break;
      case 'limit':
        try {
          out[o.key] = parseRateLimit(value.text);
        } catch (error) {
          invalid(`${value.source}: ${(error as Error).message}`);
        }
        break;
      case 'count':
        if (!/^\d{1,4}$/.test(value.text) || Number(value.text) < 1) invalid(`${value.source}: expected a whole number from 1 to 9999, got ${value.text}`);
        out[o.key] = Number(value.text);
        break;
      case 'duration':
        try {
          out[o.key] = parseDuration(value.text);
        } catch {
          invalid(`${value.source}: not a duration: ${value.text} (e.g. 90s, 10m, 24h)`);
        }
        break;
    }
  }
  if (typeof out.metricsToken === 'string' && !/^[\x21-\x7e]{24,512}$/.test(out.metricsToken)) {
    invalid('--metrics-token (LIFEBOAT_METRICS_TOKEN): 24 to 512 printable characters without spaces (e.g. openssl rand -hex 32)');
  }
  const limits = Object.fromEntries(Object.entries(out).filter(([key]) => key.startsWith('limits.')).map(([key, value]) => [key.slice('limits.'.length), value]));
  for (const key of Object.keys(out)) if (key.startsWith('limits.')) delete out[key];
  out.limits = Object.freeze({ ...defaultRateLimits, ...limits });
  if (out.profileImageDirs === null) out.profileImageDirs = Object.freeze({});
  if (out.databaseUrl === null) out.databaseUrl = `sqlite:${join(out.dataDir as string, 'lifeboat.db')}`;
  if (out.imageAccelRedirect !== null && !/^\/[A-Za-z0-9._~\/-]*[^/]$/.test(out.imageAccelRedirect as string)) {
    invalid(`--image-accel-redirect: expected a path such as /lifeboat-files, got ${JSON.stringify(out.imageAccelRedirect)}`);
  }
  if (!/^[A-Za-z0-9.*?:\[\]_-]+(?:,[A-Za-z0-9.*?:\[\]_-]+)*$/.test(out.sshHostCaHosts as string)) {
    invalid(`--ssh-host-ca-hosts: expected known_hosts host patterns separated by commas (e.g. *.rescue.example.net,192.0.2.*), got ${JSON.stringify(out.sshHostCaHosts)}`);
  }
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(out.logLevel as string)) invalid(`unknown log level ${String(out.logLevel)}`);
  if (out.secureCookies !== 'auto' && out.secureCookies !== 'always') invalid(`--secure-cookies: expected auto or always, got ${String(out.secureCookies)}`);
  if ((out.sessionIdleMs as number) > (out.sessionMaxMs as number)) invalid('the session idle time is longer than the session maximum');
  if ((out.defaultLeaseMs as number) > (out.maxLeaseMs as number)) invalid('the default lease is longer than the maximum lease');
  for (const key of ['resumeNetbootWaitMs', 'consoleIdleTimeoutMs', 'rescueTimeoutMs', 'exitTimeoutMs', 'exitAgentTimeoutMs', 'requestTimeoutMs', 'defaultLeaseMs', 'jobLeaseMs', 'schedulerIntervalMs', 'sessionIdleMs', 'sessionMaxMs'] as const) {
    if ((out[key] as number) <= 0) invalid(`${key} must be longer than 0`);
  }
  return Object.freeze({ ...out, listen: Object.freeze(out.listen) }) as unknown as Config;
}

/** `--help` text of the options. */
export function configHelp(): string {
  return configOptions
    .map((o) => `  --${o.flag.padEnd(20)} ${o.env.padEnd(30)} ${o.help}${o.fallback ? ` (default ${o.fallback})` : ''}`)
    .join('\n');
}
