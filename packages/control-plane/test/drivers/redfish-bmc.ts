/**
 * A strict Redfish BMC for the driver tests (the lab's Redfish service drives QEMU; these tests need
 * none). It checks requests the way a real BMC does: methods per resource, authentication by session
 * token or Basic, JSON bodies with exactly the expected properties, ResetType and boot targets against
 * the allowable values it advertises, If-Match against the system's ETag. Anything else is refused
 * with the status and Redfish error body a BMC would send.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How the simulated BMC behaves. */
export interface RedfishBmcOptions {
  readonly user?: string;
  readonly password?: string;
  /** Serve TLS with a fresh self-signed certificate. */
  readonly https?: boolean;
  /** Offer a session service (default true). */
  readonly sessions?: boolean;
  /** The ResetType values it allows (default: all five Lifeboat may use). */
  readonly resetTypes?: readonly string[];
  /** Refuse a PATCH without If-Match (some BMCs do). */
  readonly requireIfMatch?: boolean;
  /** Called after each request is answered (a fault test stops the BMC after a given one). */
  readonly afterRequest?: (method: string, path: string) => void;
}

/** One accepted PATCH of the boot override, with the override it replaced. */
export interface BootPatch {
  readonly target: string;
  readonly enabled: string;
  readonly wasTarget: string;
  readonly wasEnabled: string;
}

/** A running strict Redfish BMC. */
export interface RedfishBmc {
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** The system's URL path. */
  readonly systemPath: string;
  /** PEM of its certificate (https only). */
  readonly certificate: string | undefined;
  /** Current state, for assertions. */
  readonly state: { powerState: 'On' | 'Off'; bootTarget: string; bootEnabled: string; resets: string[]; bootPatches: BootPatch[]; openSessions: number; sessionsCreated: number; heldResets: number; abandonedResets: number };
  /** Requests refused as malformed (4xx other than auth), so a test can assert there were none. */
  readonly violations: string[];
  /**
   * Holds reset requests (a BMC that takes its time) until `releaseResets`; `state.heldResets` counts
   * the ones waiting. A held reset whose client went away meanwhile is dropped, never applied
   * (`state.abandonedResets` counts the clients that went away while held).
   */
  holdResets(): void;
  releaseResets(): void;
  /** Milliseconds it waits before answering each request (a slow BMC); 0 by default. */
  delayMs: number;
  /** Changes the password, as an administrator of the BMC would (open sessions stay valid). */
  setPassword(password: string): void;
  /** Stops answering: connections are refused until `resume()`; the state is kept. */
  pause(): Promise<void>;
  /** Answers again, on the same port. */
  resume(): Promise<void>;
  stop(): Promise<void>;
}

const bootTargets = ['None', 'Pxe', 'Hdd', 'Cd', 'BiosSetup'];

function error(res: ServerResponse, status: number, messageId: string, message: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ error: { code: `Base.1.8.${messageId}`, message, '@Message.ExtendedInfo': [{ MessageId: `Base.1.8.${messageId}`, Message: message }] } }));
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'OData-Version': '4.0', ...headers });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) throw new Error('Content-Type must be application/json');
  return JSON.parse(text);
}

function exactKeys(value: unknown, keys: readonly string[]): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const actual = Object.keys(value).sort();
  return actual.length === keys.length && [...keys].sort().every((key, i) => actual[i] === key);
}

/** Starts the BMC on 127.0.0.1 (a free port). */
export async function startRedfishBmc(options: RedfishBmcOptions = {}): Promise<RedfishBmc> {
  const user = options.user ?? 'root';
  let password = options.password ?? 'calvin-Redfish-1';
  const resetTypes = options.resetTypes ?? ['On', 'ForceOff', 'GracefulShutdown', 'ForceRestart', 'PowerCycle'];
  const systemPath = '/redfish/v1/Systems/1';
  const resetPath = `${systemPath}/Actions/ComputerSystem.Reset`;
  const sessionsPath = '/redfish/v1/SessionService/Sessions';
  const sessions = new Map<string, string>(); // token -> session path
  const violations: string[] = [];
  const state = { powerState: 'Off' as 'On' | 'Off', bootTarget: 'None', bootEnabled: 'Disabled', resets: [] as string[], bootPatches: [] as BootPatch[], openSessions: 0, sessionsCreated: 0, heldResets: 0, abandonedResets: 0 };
  let release: { promise: Promise<void>; resolve: () => void } | undefined;
  let etagCounter = 1;
  const etag = (): string => `W/"${etagCounter}"`;

  const refuse = (res: ServerResponse, status: number, id: string, message: string, req: IncomingMessage): void => {
    violations.push(`${req.method} ${req.url}: ${message}`);
    error(res, status, id, message);
  };

  const authenticated = (req: IncomingMessage): boolean => {
    const token = req.headers['x-auth-token'];
    if (typeof token === 'string') return sessions.has(token);
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    return basic !== undefined && Buffer.from(basic, 'base64').toString('utf8') === `${user}:${password}`;
  };

  const system = () => ({
    '@odata.id': systemPath,
    '@odata.type': '#ComputerSystem.v1_13_0.ComputerSystem',
    Id: '1',
    Name: 'lab server',
    PowerState: state.powerState,
    Boot: {
      BootSourceOverrideEnabled: state.bootEnabled,
      BootSourceOverrideTarget: state.bootTarget,
      'BootSourceOverrideTarget@Redfish.AllowableValues': bootTargets,
      BootSourceOverrideMode: 'Legacy',
    },
    Actions: {
      '#ComputerSystem.Reset': { target: resetPath, 'ResetType@Redfish.AllowableValues': resetTypes },
    },
  });

  let delayMs = 0;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method ?? 'GET';
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (res.destroyed) return;
    res.once('finish', () => options.afterRequest?.(method, path));
    if (path === '/redfish' || path === '/redfish/') {
      if (method !== 'GET') return refuse(res, 405, 'OperationNotAllowed', 'only GET', req);
      return json(res, 200, { v1: '/redfish/v1/' });
    }
    if (path === '/redfish/v1' || path === '/redfish/v1/') {
      if (method !== 'GET') return error(res, 405, 'OperationNotAllowed', 'only GET');
      return json(res, 200, {
        '@odata.id': '/redfish/v1/',
        '@odata.type': '#ServiceRoot.v1_11_0.ServiceRoot',
        RedfishVersion: '1.11.0',
        Systems: { '@odata.id': '/redfish/v1/Systems' },
        ...(options.sessions === false ? {} : { SessionService: { '@odata.id': '/redfish/v1/SessionService' }, Links: { Sessions: { '@odata.id': sessionsPath } } }),
      });
    }
    if (path === sessionsPath && method === 'POST' && options.sessions !== false) {
      let body: unknown;
      try {
        body = await readJson(req);
      } catch (e) {
        return refuse(res, 400, 'MalformedJSON', (e as Error).message, req);
      }
      if (!exactKeys(body, ['UserName', 'Password'])) return refuse(res, 400, 'PropertyUnknown', 'a session needs exactly UserName and Password', req);
      if (body.UserName !== user || body.Password !== password) return error(res, 401, 'NoValidSession', 'invalid credentials');
      const token = randomBytes(16).toString('hex');
      const id = String(++state.sessionsCreated);
      sessions.set(token, `${sessionsPath}/${id}`);
      state.openSessions = sessions.size;
      return json(res, 201, { '@odata.id': `${sessionsPath}/${id}`, Id: id, UserName: user }, { 'X-Auth-Token': token, Location: `${sessionsPath}/${id}` });
    }
    if (!authenticated(req)) return error(res, 401, 'NoValidSession', 'authentication required');
    if (path.startsWith(`${sessionsPath}/`) && method === 'DELETE') {
      const entry = [...sessions].find(([, location]) => location === path);
      if (entry === undefined) return refuse(res, 404, 'ResourceMissingAtURI', `no session ${path}`, req);
      sessions.delete(entry[0]);
      state.openSessions = sessions.size;
      res.writeHead(204).end();
      return;
    }
    if (path === '/redfish/v1/Systems') {
      if (method !== 'GET') return refuse(res, 405, 'OperationNotAllowed', 'only GET', req);
      return json(res, 200, {
        '@odata.id': '/redfish/v1/Systems',
        '@odata.type': '#ComputerSystemCollection.ComputerSystemCollection',
        Name: 'Computer System Collection',
        'Members@odata.count': 1,
        Members: [{ '@odata.id': systemPath }],
      });
    }
    if (path === systemPath) {
      if (method === 'GET') return json(res, 200, system(), { ETag: etag() });
      if (method !== 'PATCH') return refuse(res, 405, 'OperationNotAllowed', `${method} not allowed on a ComputerSystem`, req);
      const ifMatch = req.headers['if-match'];
      if (ifMatch === undefined && options.requireIfMatch) return refuse(res, 428, 'PreconditionRequired', 'If-Match required', req);
      if (ifMatch !== undefined && ifMatch !== etag()) return refuse(res, 412, 'PreconditionFailed', `ETag ${ifMatch} is stale`, req);
      let body: unknown;
      try {
        body = await readJson(req);
      } catch (e) {
        return refuse(res, 400, 'MalformedJSON', (e as Error).message, req);
      }
      if (!exactKeys(body, ['Boot'])) return refuse(res, 400, 'PropertyNotWritable', 'only Boot may be patched', req);
      const boot = body.Boot;
      if (!exactKeys(boot, ['BootSourceOverrideTarget', 'BootSourceOverrideEnabled'])) return refuse(res, 400, 'PropertyUnknown', 'Boot takes BootSourceOverrideTarget and BootSourceOverrideEnabled', req);
      if (typeof boot.BootSourceOverrideTarget !== 'string' || !bootTargets.includes(boot.BootSourceOverrideTarget)) {
        return refuse(res, 400, 'PropertyValueNotInList', `BootSourceOverrideTarget ${String(boot.BootSourceOverrideTarget)}`, req);
      }
      if (boot.BootSourceOverrideEnabled !== 'Once' && boot.BootSourceOverrideEnabled !== 'Continuous' && boot.BootSourceOverrideEnabled !== 'Disabled') {
        return refuse(res, 400, 'PropertyValueNotInList', `BootSourceOverrideEnabled ${String(boot.BootSourceOverrideEnabled)}`, req);
      }
      state.bootPatches.push({ target: boot.BootSourceOverrideTarget, enabled: boot.BootSourceOverrideEnabled, wasTarget: state.bootTarget, wasEnabled: state.bootEnabled });
      state.bootTarget = boot.BootSourceOverrideTarget;
      state.bootEnabled = boot.BootSourceOverrideEnabled;
      etagCounter++;
      res.writeHead(204).end();
      return;
    }
    if (path === resetPath) {
      if (method !== 'POST') return refuse(res, 405, 'OperationNotAllowed', 'Reset is a POST', req);
      let body: unknown;
      try {
        body = await readJson(req);
      } catch (e) {
        return refuse(res, 400, 'MalformedJSON', (e as Error).message, req);
      }
      if (!exactKeys(body, ['ResetType']) || typeof body.ResetType !== 'string') return refuse(res, 400, 'ActionParameterMissing', 'Reset takes exactly ResetType', req);
      if (!resetTypes.includes(body.ResetType)) return refuse(res, 400, 'ActionParameterNotSupported', `ResetType ${body.ResetType} is not allowed`, req);
      if (release !== undefined) {
        let gone = false;
        res.once('close', () => {
          gone = !res.writableFinished;
          if (gone) state.abandonedResets++;
        });
        state.heldResets++;
        await release.promise;
        state.heldResets--;
        if (gone) return;
      }
      if (body.ResetType === 'PowerCycle' && state.powerState === 'Off') return refuse(res, 409, 'ResourceInStandby', 'cannot cycle a system that is off', req);
      state.resets.push(body.ResetType);
      state.powerState = body.ResetType === 'ForceOff' || body.ResetType === 'GracefulShutdown' ? 'Off' : 'On';
      etagCounter++;
      res.writeHead(204).end();
      return;
    }
    return refuse(res, 404, 'ResourceMissingAtURI', `no resource at ${path}`, req);
  };

  let certificate: string | undefined;
  let server: Server;
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((e: unknown) => error(res, 500, 'InternalError', String(e)));
  };
  if (options.https) {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-redfish-tls-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      certificate = readFileSync(join(dir, 'cert.pem'), 'utf8');
      server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: certificate }, listener);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else {
    server = createHttpServer(listener);
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  let listening = true;
  const close = (): Promise<void> =>
    new Promise<void>((resolve) => {
      if (!listening) return resolve();
      listening = false;
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    port,
    user,
    get password() {
      return password;
    },
    systemPath,
    certificate,
    state,
    violations,
    holdResets() {
      if (release !== undefined) return;
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      release = { promise, resolve };
    },
    releaseResets() {
      release?.resolve();
      release = undefined;
    },
    get delayMs() {
      return delayMs;
    },
    set delayMs(ms: number) {
      delayMs = ms;
    },
    setPassword(next: string) {
      password = next;
    },
    pause: close,
    resume: () =>
      new Promise<void>((resolve, reject) => {
        if (listening) return resolve();
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          listening = true;
          server.off('error', reject);
          resolve();
        });
      }),
    stop: () => {
      release?.resolve();
      return close();
    },
  };
}
