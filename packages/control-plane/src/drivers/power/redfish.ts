/**
 * The `redfish` power driver: DMTF Redfish over HTTP(S), like Ironic's redfish power and management
 * interfaces. `redfish://` speaks plain HTTP (a lab, or a BMC network that is already isolated),
 * `redfish+https://` speaks TLS and checks the BMC's certificate unless the operator accepted a
 * self-signed one (`insecureTls`) or gave its CA.
 * Each call opens a Redfish session (`POST SessionService/Sessions`, `X-Auth-Token`) and deletes it at
 * the end, so Lifeboat never fills a BMC's small session table; `auth: 'basic'` sends Basic credentials
 * on every request instead, and a BMC without a session service falls back to Basic by itself.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { LifeboatError } from '@lifeboat/core';
import type { BmcEndpoint, BootDevice, PowerAction, PowerCapability, PowerDriver, PowerState } from './power-driver.js';
import { parseBmcUrl, type BmcTarget } from './bmc-url.js';

/** Options of the `redfish` driver. */
export interface RedfishOptions {
  /** `session` (default: falls back to Basic when the BMC has no session service) or `basic`. */
  readonly auth?: 'session' | 'basic';
  /** Accept any certificate from the BMC (self-signed). Off unless the operator turns it on. */
  readonly insecureTls?: boolean;
  /** PEM CA bundle that signed the BMC's certificate. */
  readonly ca?: string;
  /** Milliseconds one HTTP request may take. Default 15 000. */
  readonly requestMs?: number;
}

/** Redfish `PowerState` → Lifeboat's power state. A paused system still has power. */
const powerStates: Readonly<Record<string, PowerState>> = {
  On: 'on',
  PoweringOn: 'on',
  Paused: 'on',
  Off: 'off',
  PoweringOff: 'off',
};

/** Lifeboat's power action → Redfish `ResetType`s in order of preference (the BMC's allowable values decide). */
const resetTypes: Readonly<Record<PowerAction, readonly string[]>> = {
  on: ['On', 'ForceOn'],
  off: ['ForceOff'],
  soft: ['GracefulShutdown'],
  cycle: ['PowerCycle', 'ForceRestart'],
  reset: ['ForceRestart', 'PowerCycle'],
};

/** Lifeboat's boot device → Redfish `BootSourceOverrideTarget`. */
const bootTargets: Readonly<Record<BootDevice, string>> = {
  network: 'Pxe',
  disk: 'Hdd',
};

type Json = Record<string, unknown>;

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Json | undefined;
}

/** How one call authenticates: a session token, or Basic on every request. */
type Credentials = { readonly kind: 'basic'; readonly header: string } | { readonly kind: 'session'; readonly token: string; readonly location: string | undefined };

/** The `redfish` driver bound to one ComputerSystem (`redfish://HOST:PORT/redfish/v1/Systems/ID`). */
export class RedfishPowerDriver implements PowerDriver {
  readonly name = 'redfish' as const;
  readonly capabilities: ReadonlySet<PowerCapability> = new Set<PowerCapability>(['power', 'soft-power', 'boot-device', 'persistent-boot-device']);
  readonly #bmc: BmcEndpoint;
  readonly #options: RedfishOptions;

  constructor(bmc: BmcEndpoint, options: RedfishOptions = {}) {
    this.#bmc = bmc;
    this.#options = options;
  }

  validate(): void {
    this.#target();
  }

  async powerState(signal?: AbortSignal): Promise<PowerState> {
    return this.#withSession(signal, async (call) => {
      const { body } = await this.#system(call);
      const state = typeof body.PowerState === 'string' ? powerStates[body.PowerState] : undefined;
      if (state === undefined) throw new LifeboatError('BMC_ERROR', `the Redfish BMC reports an unknown PowerState: ${String(body.PowerState).slice(0, 40)}`);
      return state;
    });
  }

  async setPower(action: PowerAction, signal?: AbortSignal): Promise<void> {
    await this.#withSession(signal, async (call) => {
      const { body } = await this.#system(call);
      // Like the ipmi driver: a cycle of a server that is off is a power-on.
      if (action === 'cycle' && typeof body.PowerState === 'string' && powerStates[body.PowerState] === 'off') action = 'on';
      const reset = resetAction(body);
      const allowed = reset.allowable;
      const resetType = allowed === undefined ? resetTypes[action][0] : resetTypes[action].find((type) => allowed.includes(type));
      if (resetType === undefined) {
        throw new LifeboatError('BMC_UNSUPPORTED', `the Redfish BMC allows no reset type for "${action}" (it allows ${allowed?.join(', ') ?? 'none'})`);
      }
      const reply = await call('POST', reset.target, { ResetType: resetType });
      expectSuccess(reply, `ComputerSystem.Reset ${resetType}`);
    });
  }

  async setBootDevice(device: BootDevice, options: { persistent?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    await this.#withSession(options.signal, async (call) => {
      const { body, etag, path } = await this.#system(call);
      const boot = isObject(body.Boot) ? body.Boot : {};
      const target = bootTargets[device];
      const targets = boot['BootSourceOverrideTarget@Redfish.AllowableValues'];
      if (Array.isArray(targets) && !targets.includes(target)) {
        throw new LifeboatError('BMC_UNSUPPORTED', `the Redfish BMC cannot boot from ${target} (it allows ${targets.join(', ')})`);
      }
      const enabled = options.persistent ? 'Continuous' : 'Once';
      const reply = await call('PATCH', path, { Boot: { BootSourceOverrideTarget: target, BootSourceOverrideEnabled: enabled } }, etag);
      expectSuccess(reply, `setting the boot override to ${target} (${enabled})`);
    });
  }

  async bootDevice(signal?: AbortSignal): Promise<BootDevice | 'none'> {
    return this.#withSession(signal, async (call) => {
      const { body } = await this.#system(call);
      const boot = isObject(body.Boot) ? body.Boot : {};
      if (boot.BootSourceOverrideEnabled === 'Disabled') return 'none';
      const target = boot.BootSourceOverrideTarget;
      const device = (Object.keys(bootTargets) as BootDevice[]).find((d) => bootTargets[d] === target);
      return device ?? 'none';
    });
  }

  #target(): BmcTarget & { systemPath: string } {
    const target = parseBmcUrl(this.#bmc, 'redfish');
    const path = target.path.replace(/\/+$/, '');
    const parameter = [...new URL(this.#bmc.url).searchParams.keys()][0];
    if (parameter !== undefined) throw new LifeboatError('BMC_INVALID', `bmc.url: unknown Redfish URL parameter ${parameter} (a Redfish BMC URL takes none)`);
    if (!/^\/redfish\/v1\/Systems\/[^/]+$/.test(path)) {
      throw new LifeboatError('BMC_INVALID', `bmc.url: a Redfish BMC URL names its system: redfish://${target.host}:${target.port}/redfish/v1/Systems/ID`);
    }
    if (this.#options.insecureTls && target.transport !== 'https') {
      throw new LifeboatError('BMC_INVALID', 'insecure TLS was asked for a redfish:// (plain HTTP) BMC; use redfish+https://');
    }
    return { ...target, systemPath: path };
  }

  /** GETs the ComputerSystem; 404 means the record names a system the BMC does not have. */
  async #system(call: Call): Promise<{ body: Json; etag: string | undefined; path: string }> {
    const path = this.#target().systemPath;
    const reply = await call('GET', path);
    if (reply.status === 404) throw new LifeboatError('BMC_INVALID', `the Redfish BMC has no system at ${path}`);
    expectSuccess(reply, `GET ${path}`);
    if (reply.body === undefined) throw new LifeboatError('BMC_ERROR', `the Redfish BMC answered GET ${path} without JSON`);
    const etag = reply.headers.etag ?? (typeof reply.body['@odata.etag'] === 'string' ? reply.body['@odata.etag'] : undefined);
    return { body: reply.body, etag, path };
  }

  /** Runs `work` with authenticated requests; a session opened for it is always deleted afterwards. */
  async #withSession<T>(signal: AbortSignal | undefined, work: (call: Call) => Promise<T>): Promise<T> {
    const target = this.#target();
    signal?.throwIfAborted();
    const raw = (method: string, path: string, body?: Json, headers: Record<string, string> = {}): Promise<Reply> =>
      this.#request(target, method, path, body, headers, signal);
    const basic = `Basic ${Buffer.from(`${this.#bmc.user}:${this.#bmc.password}`).toString('base64')}`;
    let credentials: Credentials = { kind: 'basic', header: basic };
    if (this.#options.auth !== 'basic') {
      const root = await raw('GET', '/redfish/v1/');
      expectSuccess(root, 'GET /redfish/v1/');
      const links = isObject(root.body?.Links) ? root.body.Links : {};
      const sessions = isObject(links.Sessions) && typeof links.Sessions['@odata.id'] === 'string' ? links.Sessions['@odata.id'] : undefined;
      if (sessions !== undefined) {
        const created = await raw('POST', sessions, { UserName: this.#bmc.user, Password: this.#bmc.password });
        const token = created.headers['x-auth-token'];
        if (created.status === 401 || created.status === 403) throw authFailed();
        if (created.status < 300 && typeof token === 'string') {
          const location = created.headers.location ?? (typeof created.body?.['@odata.id'] === 'string' ? created.body['@odata.id'] : undefined);
          credentials = { kind: 'session', token, location };
        } else if (created.status !== 404 && created.status !== 405 && created.status !== 501) {
          expectSuccess(created, 'creating a Redfish session');
          throw new LifeboatError('BMC_ERROR', 'the Redfish BMC created a session without an X-Auth-Token');
        }
      }
    }
    const auth: Record<string, string> = credentials.kind === 'session' ? { 'X-Auth-Token': credentials.token } : { Authorization: credentials.header };
    const call: Call = async (method, path, body, etag) => {
      const reply = await raw(method, path, body, etag === undefined ? auth : { ...auth, 'If-Match': etag });
      if (reply.status === 401 || reply.status === 403) throw authFailed();
      return reply;
    };
    try {
      return await work(call);
    } finally {
      if (credentials.kind === 'session' && credentials.location !== undefined) {
        // Best effort: a session we cannot delete times out on the BMC by itself.
        await this.#request(target, 'DELETE', pathOf(credentials.location), undefined, auth, undefined).catch(() => undefined);
      }
    }
  }

  /** One HTTP request to the BMC; network failures become `BMC_UNREACHABLE`. */
  #request(target: BmcTarget, method: string, path: string, body: Json | undefined, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<Reply> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const requestMs = this.#options.requestMs ?? 15_000;
    const where = `${target.transport}://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
    return new Promise<Reply>((resolve, reject) => {
      const send = target.transport === 'https' ? httpsRequest : httpRequest;
      const req = send(
        {
          host: target.host,
          port: target.port,
          method,
          path: pathOf(path),
          signal,
          timeout: requestMs,
          headers: {
            Accept: 'application/json',
            'OData-Version': '4.0',
            ...(payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) }),
            ...headers,
          },
          ...(target.transport === 'https' ? { rejectUnauthorized: !this.#options.insecureTls, ...(this.#options.ca ? { ca: this.#options.ca } : {}) } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: Json | undefined;
            try {
              const value: unknown = text === '' ? undefined : JSON.parse(text);
              parsed = isObject(value) ? value : undefined;
            } catch {
              parsed = undefined;
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
          });
        },
      );
      req.on('timeout', () => req.destroy(new LifeboatError('BMC_UNREACHABLE', `the Redfish BMC at ${where} did not answer ${method} ${pathOf(path)} within ${Math.round(requestMs / 1000)} s`)));
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (error instanceof LifeboatError) return reject(error);
        if (signal?.aborted) return reject(signal.reason instanceof Error ? signal.reason : error);
        if (error.code !== undefined && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(error.code)) {
          return reject(new LifeboatError('BMC_ERROR', `the Redfish BMC at ${where} has a certificate Lifeboat does not trust (${error.code}); give its CA, or accept a self-signed certificate explicitly`));
        }
        reject(new LifeboatError('BMC_UNREACHABLE', `cannot reach the Redfish BMC at ${where}: ${error.code ?? error.message}`));
      });
      req.end(payload);
    });
  }
}

type Call = (method: string, path: string, body?: Json, etag?: string) => Promise<Reply>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A Location header may be an absolute URL or a path; requests always go to the configured BMC. */
function pathOf(location: string): string {
  return /^https?:\/\//.test(location) ? new URL(location).pathname : location;
}

function authFailed(): LifeboatError {
  return new LifeboatError('BMC_AUTH_FAILED', 'the Redfish BMC refused the user name or password');
}

/** The Reset action of a ComputerSystem: its target and, when the BMC lists them, the allowable ResetTypes. */
function resetAction(system: Json): { target: string; allowable: readonly string[] | undefined } {
  const actions = isObject(system.Actions) ? system.Actions : {};
  const reset = actions['#ComputerSystem.Reset'];
  if (!isObject(reset) || typeof reset.target !== 'string') {
    throw new LifeboatError('BMC_UNSUPPORTED', 'the Redfish system has no #ComputerSystem.Reset action');
  }
  const allowable = reset['ResetType@Redfish.AllowableValues'];
  return {
    target: reset.target,
    allowable: Array.isArray(allowable) ? allowable.filter((value): value is string => typeof value === 'string') : undefined,
  };
}

/** Throws `BMC_ERROR` with Redfish's own message for an answer that is not 2xx. */
function expectSuccess(reply: Reply, what: string): void {
  if (reply.status >= 200 && reply.status < 300) return;
  if (reply.status === 401 || reply.status === 403) throw authFailed();
  throw new LifeboatError('BMC_ERROR', `the Redfish BMC refused ${what}: HTTP ${reply.status}${redfishMessage(reply.body)}`);
}

/** The first message of a Redfish error body (`error.@Message.ExtendedInfo[0].Message`), if any. */
function redfishMessage(body: Json | undefined): string {
  const error = isObject(body?.error) ? body.error : undefined;
  const info = error?.['@Message.ExtendedInfo'];
  const first = Array.isArray(info) && isObject(info[0]) ? info[0].Message : error?.message;
  return typeof first === 'string' ? ` (${first.slice(0, 200)})` : '';
}
