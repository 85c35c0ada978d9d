/**
 * A populated control plane for the authorization matrix and the schema fuzzer: two tenants (`acme`,
 * the caller's own, and `globex`, a foreign one), each with a server in rescue (an agent token, work,
 * a hardware test, an incident, an SSH key, a user with an API token) and a server that is not; the
 * API's operations as the control plane's own OpenAPI document lists them; callers of every kind.
 * Requests go over a real socket (the event stream is answered by its head). Used by tests only.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { csrfHeader, type Role } from '@lifeboat/core';
import { brokenDoctorReport } from '@lifeboat/test-support';
import { RequestLimiters } from '../../src/http/rate-limiter.js';
import { putInRescue, startTestApp, type TestApp } from '../../src/http/testing.js';
import type { DialectName } from '../../src/store/database.js';

/** One operation of the OpenAPI document. */
export interface Operation {
  readonly method: string;
  /** The OpenAPI path, `{param}` placeholders included. */
  readonly path: string;
  /** `METHOD path`: the key of the policy table. */
  readonly key: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly spec: Record<string, any>;
}

/** A request of one operation: path parameters, query and body. */
export interface Req {
  readonly params?: Readonly<Record<string, string>>;
  readonly query?: Readonly<Record<string, string>>;
  readonly body?: unknown;
}

/** Who calls. */
export type CallerName = 'none' | 'revoked' | 'customer' | 'technician' | 'operator' | 'cookie' | 'cookie-no-csrf' | 'agent';

/** The callers of the matrix. */
export const callerNames: readonly CallerName[] = ['none', 'revoked', 'customer', 'technician', 'operator', 'cookie', 'cookie-no-csrf', 'agent'];

/** What a caller is, for the policy. */
export interface Caller {
  readonly name: CallerName;
  /** The API role it acts with, if it authenticates as a user of the API. */
  readonly role?: Role;
  /** A browser session (a cookie), not a bearer token. */
  readonly cookie?: boolean;
  /** The caller is a user (a cookie), not a bare API token: the account routes answer it. */
  readonly user?: boolean;
}

/** What `callerNames` stand for. */
export const callers: Readonly<Record<CallerName, Caller>> = {
  none: { name: 'none' },
  revoked: { name: 'revoked' },
  customer: { name: 'customer', role: 'customer' },
  technician: { name: 'technician', role: 'technician' },
  operator: { name: 'operator', role: 'operator' },
  cookie: { name: 'cookie', role: 'customer', cookie: true, user: true },
  'cookie-no-csrf': { name: 'cookie-no-csrf', role: 'customer', cookie: true, user: true },
  agent: { name: 'agent' },
};

/** An answer: status, headers that matter, the text and its JSON. */
export interface WorldAnswer {
  readonly status: number;
  readonly type: string;
  readonly text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: any;
}

/** Names and ids of one tenant's fixtures. */
export interface TenantFixtures {
  readonly tenant: string;
  /** In rescue, with an agent. */
  readonly rescued: string;
  /** Registered, not in rescue. */
  readonly idle: string;
  readonly rescuedId: string;
  /** The rescue session of `rescued`. */
  readonly sessionId: string;
  readonly idleMac: string;
  readonly agentToken: string;
  readonly workId: string;
  readonly testId: string;
  /** A doctor fix asked of `rescued` (its report has the findings of `brokenDoctorReport`). */
  readonly doctorFixId: string;
  readonly incidentId: string;
  readonly keyName: string;
  readonly userName: string;
  /** The id of an API token the tenant's user made for itself. */
  readonly userTokenId: string;
}

/** The populated control plane. */
export interface World {
  readonly app: TestApp;
  readonly url: string;
  readonly operations: readonly Operation[];
  readonly own: TenantFixtures;
  readonly foreign: TenantFixtures;
  /** The fixtures' user password (both users). */
  readonly password: string;
  /** The BMC password of every fixture server: never in an answer. */
  readonly bmcPassword: string;
  /** Every secret a caller holds: none may come back in an answer. */
  readonly secrets: () => readonly string[];
  /** Strings that name the foreign tenant's things: a customer of `own` never sees them unless it named them. */
  readonly foreignMarkers: readonly string[];
  /** A name never used before (for resources a request creates). */
  fresh(prefix: string): string;
  /** An SSH public key line. */
  publicKey(): string;
  /** Registers a server (not in rescue) for `tenant`; its name. */
  addServer(tenant: string): Promise<string>;
  /** Sends one request as `caller`. */
  call(operation: Operation, caller: CallerName, request: Req): Promise<WorldAnswer>;
  /** Sends a raw request as `caller`: the path as given (not encoded), the body's text as given. */
  raw(method: string, path: string, caller: CallerName, body?: string, contentType?: string, headers?: Readonly<Record<string, string>>): Promise<WorldAnswer>;
  /** Opens an event stream as `caller`: what it received so far, and a way to end it. */
  stream(path: string, caller: CallerName): Promise<{ status: number; received(): string; close(): void }>;
  close(): Promise<void>;
}

/** A fixed fake BMC that refuses connections at once (validate answers fast). */
const deadBmc = 'redfish://127.0.0.1:1/redfish/v1/Systems/1';

/** Fills `{param}` placeholders, each value percent-encoded. */
export function pathOf(operation: Operation, request: Req): string {
  const path = operation.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = request.params?.[name];
    if (value === undefined) throw new Error(`${operation.key}: no value for {${name}}`);
    return encodeURIComponent(value);
  });
  const query = new URLSearchParams(request.query ?? {}).toString();
  return query === '' ? path : `${path}?${query}`;
}

/** Builds the world on `dialect`. */
export async function startWorld(dialect: DialectName): Promise<World> {
  // Rate limits off: the matrix and the fuzzer send thousands of refused credentials from one address.
  const limiters = new RequestLimiters({ authFailures: null, enters: null, bootScripts: null, redeems: null });
  const app = await startTestApp({ dialect, netboot: true, app: { limiters, explorerTiming: { answerMs: 50, pollMs: 10 } } });
  const url = await app.listen();
  const { store } = app;
  let counter = 0;
  const fresh = (prefix: string) => `${prefix}-${++counter}`;
  const publicKey = () => {
    // OpenSSH's wire format of an ed25519 key: the type and the 32 raw bytes (the end of the SPKI DER).
    const raw = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).subarray(-32);
    const field = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
    return `ssh-ed25519 ${Buffer.concat([field(Buffer.from('ssh-ed25519')), field(raw)]).toString('base64')} matrix@test`;
  };
  const bmcPassword = 'bmc-pw-never-echoed';
  const password = 'correct horse battery staple';
  const held: string[] = [app.admin, bmcPassword, password];

  async function send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<WorldAnswer> {
    const abort = new AbortController();
    const response = await fetch(`${url}${path}`, { method, headers, signal: abort.signal, ...(body === undefined ? {} : { body }) });
    const type = response.headers.get('content-type') ?? '';
    let text = '';
    if (type.startsWith('text/event-stream')) abort.abort();
    else text = await response.text();
    let parsed: unknown;
    if (type.startsWith('application/json') && text !== '') parsed = JSON.parse(text);
    return { status: response.status, type, text, body: parsed };
  }

  const tokenOf = async (role: Role, tenant: string | null) => {
    const tenantId = tenant === null ? null : (await store.tenants.byName(tenant)).id;
    const { token } = await store.tokens.create({ name: `${role}-${tenant ?? 'staff'}`, role, tenantId });
    held.push(token);
    return token;
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const adminCall = async (method: string, path: string, body?: unknown): Promise<Record<string, any>> => {
    const answer = await app.call(method, path, app.admin, body);
    if (answer.status >= 300) throw new Error(`${method} ${path}: ${answer.status} ${answer.text}`);
    return answer.body ?? {};
  };
  const addServer = async (tenant: string) => {
    const name = fresh(`${tenant}-srv`);
    const mac = `52:54:00:${(counter >> 16) & 0xff}:${(counter >> 8) & 0xff}:${counter & 0xff}`.replace(/:(\d+)/g, (_, n: string) => `:${Number(n).toString(16).padStart(2, '0')}`);
    await adminCall('POST', '/v1/servers', { name, tenant, macs: [mac], bmc: { url: deadBmc, user: 'root', password: bmcPassword } });
    return name;
  };

  async function tenantFixtures(tenant: string): Promise<TenantFixtures> {
    await adminCall('POST', '/v1/tenants', { name: tenant });
    const rescued = await addServer(tenant);
    const idle = await addServer(tenant);
    const idleMac = (await adminCall('GET', `/v1/servers/${idle}`)).macs[0] as string;
    const rescuedId = (await store.servers.byName(rescued))!.id;
    const agentToken = await putInRescue(app, rescued, new Date(Date.now() + 86_400_000));
    held.push(agentToken);
    const sessionId = (await store.sessions.openFor(rescuedId))!.id;
    await app.call('POST', '/v1/agent/inventory', agentToken, { disks: [{ name: 'sda' }] });
    const workId = (await adminCall('POST', `/v1/servers/${rescued}/rescue/work`, { kind: 'disks' })).id as string;
    const testId = (await adminCall('POST', `/v1/servers/${rescued}/tests`, { kind: 'cpu' })).id as string;
    await app.call('POST', '/v1/agent/doctor', agentToken, brokenDoctorReport());
    const doctorFixId = (await adminCall('POST', `/v1/servers/${rescued}/doctor/findings/firewall-nftables/fix`)).id as string;
    const incidentId = (await adminCall('POST', `/v1/servers/${rescued}/incidents`, { message: `${tenant} disk failing` })).id as string;
    const keyName = `${tenant}-laptop`;
    await adminCall('POST', '/v1/keys', { name: keyName, tenant, publicKey: publicKey() });
    const userName = `${tenant}-user`;
    await store.users.add({ name: userName, role: 'customer', tenantId: (await store.tenants.byName(tenant)).id, email: null, password });
    const user = (await store.users.byName(userName))!;
    const own = await store.tokens.create({ name: `${tenant}-own`, role: 'customer', tenantId: user.tenantId, userId: user.id });
    held.push(own.token);
    return { tenant, rescued, idle, rescuedId, sessionId, idleMac, agentToken, workId, testId, doctorFixId, incidentId, keyName, userName, userTokenId: own.record.id };
  }

  const own = await tenantFixtures('acme');
  const foreign = await tenantFixtures('globex');
  const tokens = {
    customer: await tokenOf('customer', 'acme'),
    technician: await tokenOf('technician', null),
    operator: await tokenOf('operator', null),
    revoked: await tokenOf('customer', 'acme'),
  };
  const revokedId = (await store.tokens.authenticate(tokens.revoked))!.tokenId;
  await adminCall('DELETE', `/v1/tokens/${revokedId}`);
  const ownUser = (await store.users.byName(own.userName))!;
  const foreignMarkers = [foreign.tenant, foreign.rescued, foreign.idle, foreign.rescuedId, foreign.sessionId, foreign.workId, foreign.testId, foreign.doctorFixId, foreign.incidentId, foreign.keyName, foreign.userName, foreign.userTokenId, foreign.idleMac];

  async function headersOf(caller: CallerName, method: string): Promise<Record<string, string>> {
    switch (caller) {
      case 'none':
        return {};
      case 'agent':
        return { authorization: `Bearer ${own.agentToken}` };
      case 'cookie':
      case 'cookie-no-csrf': {
        // A session per request: a request may end it (sign-out, a password change).
        const { cookieValue, session } = await store.browserSessions.create(ownUser, { idleMs: 3_600_000, maxMs: 86_400_000 });
        held.push(cookieValue);
        const headers: Record<string, string> = { cookie: `lifeboat_session=${cookieValue}` };
        if (caller === 'cookie' && method !== 'GET' && method !== 'HEAD') headers[csrfHeader] = session.csrfToken;
        return headers;
      }
      default:
        return { authorization: `Bearer ${tokens[caller]}` };
    }
  }

  return {
    app,
    url,
    operations: operationsOf((await app.app.inject({ url: '/openapi.json' })).json()),
    own,
    foreign,
    password,
    bmcPassword,
    secrets: () => held,
    foreignMarkers,
    fresh,
    publicKey,
    addServer,
    async call(operation, caller, request) {
      const headers = await headersOf(caller, operation.method);
      const body = request.body === undefined ? undefined : JSON.stringify(request.body);
      if (body !== undefined) headers['content-type'] = 'application/json';
      return send(operation.method, pathOf(operation, request), headers, body);
    },
    async raw(method, path, caller, body, contentType = 'application/json', extra = {}) {
      const headers = { ...(await headersOf(caller, method)), ...extra };
      if (body !== undefined) headers['content-type'] = contentType;
      return send(method, path, headers, body);
    },
    async stream(path, caller) {
      const abort = new AbortController();
      const response = await fetch(`${url}${path}`, { headers: await headersOf(caller, 'GET'), signal: abort.signal });
      let received = '';
      if (response.body) {
        const decoder = new TextDecoder();
        const reader = response.body.getReader();
        void (async () => {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) return;
            received += decoder.decode(value, { stream: true });
          }
        })().catch(() => undefined);
      }
      return { status: response.status, received: () => received, close: () => abort.abort() };
    },
    close: () => app.close(),
  };
}

/** The operations of an OpenAPI document. */
export function operationsOf(document: { paths: Record<string, Record<string, Record<string, unknown>>> }): Operation[] {
  const out: Operation[] = [];
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, spec] of Object.entries(methods)) out.push({ method: method.toUpperCase(), path, key: `${method.toUpperCase()} ${path}`, spec });
  }
  return out;
}

/**
 * Every `METHOD /path` the application answers (HEAD twins of GET routes left out), `:param` written
 * `{param}` as in OpenAPI: read from Fastify's route tree, so a route the OpenAPI document hides (a
 * WebSocket) is seen too.
 */
export function registeredRoutes(app: TestApp['app']): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│ ├└─]*)(\/\S*) \(([A-Z, ]+)\)$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4 - 1;
    stack.length = depth;
    stack.push(match[2]!);
    const path = stack.join('').replace(/:(\w+)/g, '{$1}');
    for (const method of match[3]!.split(', ')) if (method !== 'HEAD' || path.startsWith('/v1/images/')) out.push(`${method} ${path}`);
  }
  return out;
}

/** A well-formed id that names nothing. */
export const missingId = (): string => randomUUID();
