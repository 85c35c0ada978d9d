/**
 * The typed client of Lifeboat's public HTTP API: one method per route, with the contract's types
 * (`../api/schemas.ts`). It needs only the global `fetch` (Node ≥ 20, browsers), so the CLI, the lab,
 * tests and the web console share it. Error answers become `ApiError`s with the server's code and
 * status; a control plane that does not answer becomes `UNREACHABLE`.
 *
 * Two ways to authenticate:
 * - scripts and the CLI: `new LifeboatClient({ url, token })` sends `Authorization: Bearer <token>`;
 * - a page of the web console (same origin as the API): `new LifeboatClient({ url: '', browser: true })`
 *   sends no token but the session cookie (`credentials: 'same-origin'`), and the session's CSRF token
 *   in `X-CSRF-Token` on every unsafe method (POST, PUT, PATCH, DELETE). The client learns that token
 *   from {@link LifeboatClient.signIn} and {@link LifeboatClient.session}; a page that already has it
 *   passes `csrfToken` (giving `csrfToken` implies `browser: true`).
 */
import type {
  AgentWorkCreated,
  AgentWorkView,
  AuditQuery,
  BmcChange,
  BmcValidation,
  EnterRescue,
  ExtendRescue,
  IncidentCreated,
  IncidentUpdate,
  InventoryAnswer,
  NewAgentWork,
  NewIncident,
  NewServer,
  NewTenant,
  NewToken,
  RescueView,
  ServerEvent,
  ServerList,
  ServerView,
  SshHostCaView,
  TaskList,
  TenantList,
  TenantView,
  TokenAnswer,
} from '../api/schemas.js';
import type {
  AccountAnswer,
  AccountUpdate,
  NewOwnToken,
  NewUser,
  OwnTokenCreated,
  OwnTokenList,
  PasswordChange,
  SessionAnswer,
  SignIn,
  UserCreated,
  UserList,
} from '../api/accounts.js';
import { csrfHeader } from '../api/accounts.js';
import type { HardwareTestEvent, HardwareTestList, HardwareTestView, NewHardwareTest } from '../api/hardware-tests.js';
import type { ConsoleInfo, ConsoleLogView, NewSshKey, SshKeyList, SshKeyView } from '../api/console.js';
import type { FileListing, JournalQuery } from '../api/files.js';
import type { DesktopView } from '../api/desktop.js';
import type { DoctorEvent, DoctorFixAnswer, DoctorFixView, DoctorView } from '../api/doctor.js';
import { fileSizeHeader, uploadTypeHeader } from '../api/files.js';
import type { IncidentCommentView, IncidentDetail, IncidentList, IncidentQuery, IncidentView, NewIncidentComment, ResolveIncident } from '../api/incidents.js';
import { ApiError, LifeboatError } from '../errors.js';

/** One range of a file (`GET .../files/{device}/content`). */
export interface FileRange {
  /** The bytes (at most 1 MiB; fewer at the end of the file). */
  readonly data: Uint8Array;
  /** The whole file's size. */
  readonly size: number;
}

/** A download's answer: a file as it is or a directory as tar, streamed. */
export interface FileDownload {
  readonly type: 'file' | 'directory';
  /** The file name the control plane proposes (`etc.tar`, `fstab`). */
  readonly filename: string;
  /** The size when known (a file). */
  readonly size: number | null;
  readonly body: ReadableStream<Uint8Array>;
}

/** How to reach a control plane. */
export interface LifeboatClientOptions {
  /**
   * Base URL of the control plane, e.g. `http://127.0.0.1:8080` (a trailing slash is ignored); `''`
   * in a page served by the control plane itself (paths stay relative to its origin).
   */
  readonly url: string;
  /** API token (`lb_...`), sent as a bearer token; none for the public routes and in a browser. */
  readonly token?: string | undefined;
  /**
   * Browser use: send the session cookie (`credentials: 'same-origin'`) and, on unsafe methods, the
   * CSRF token; no bearer token is sent.
   */
  readonly browser?: boolean;
  /** The browser session's CSRF token (from `GET /v1/auth/session`); implies `browser`. */
  readonly csrfToken?: string | undefined;
  /** The `fetch` to use; the global one by default. */
  readonly fetch?: typeof fetch;
}

/** The answer to `rescue enter` and `rescue exit`: the view with the id of the task just started. */
export type RescueTaskAnswer = RescueView & { readonly taskId?: string };

/** Options of {@link LifeboatClient.events}. */
export interface EventsOptions {
  /** Only this server's changes. */
  readonly server?: string;
  /** Ends the stream. */
  readonly signal?: AbortSignal;
  /** Also yield hardware tests' changes (`{test}` events, at most a few per second per test). */
  readonly tests?: boolean;
  /** Also yield the rescue doctor's changes (`{doctor}` events: a new report, a fix asked or answered). */
  readonly doctor?: boolean;
}

const segment = (value: string) => encodeURIComponent(value);
const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/** A client of one control plane with one token. */
export class LifeboatClient {
  readonly #base: string;
  readonly #token: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #browser: boolean;
  #csrfToken: string | undefined;

  constructor(options: LifeboatClientOptions) {
    this.#base = options.url.replace(/\/+$/, '');
    this.#browser = options.browser === true || options.csrfToken !== undefined;
    this.#token = this.#browser ? undefined : options.token;
    this.#csrfToken = options.csrfToken;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /** The control plane's base URL. */
  get url(): string {
    return this.#base;
  }

  /** The CSRF token a browser client sends on unsafe methods (undefined before sign-in). */
  get csrfToken(): string | undefined {
    return this.#csrfToken;
  }

  // Browser sessions (a client made with `browser: true`).
  /**
   * `POST /v1/auth/sign-in`: starts a browser session (the answer sets the cookie); the client keeps
   * the session's CSRF token. Wrong name or password: `SIGN_IN_FAILED`; too many failures:
   * `RATE_LIMITED` (the answer's `Retry-After` says when to try again).
   */
  async signIn(body: SignIn): Promise<SessionAnswer> {
    const answer = await this.request<SessionAnswer>('POST', '/v1/auth/sign-in', body);
    this.#csrfToken = answer.csrfToken;
    return answer;
  }
  /** `POST /v1/auth/sign-out`: ends the session server-side and clears the cookie. */
  async signOut(): Promise<void> {
    await this.request('POST', '/v1/auth/sign-out');
    this.#csrfToken = undefined;
  }
  /** `GET /v1/auth/session`: the signed-in user and the CSRF token (kept by the client); `UNAUTHORIZED` when signed out. */
  async session(): Promise<SessionAnswer> {
    const answer = await this.request<SessionAnswer>('GET', '/v1/auth/session');
    this.#csrfToken = answer.csrfToken;
    return answer;
  }

  // The caller's own account (a browser session or a user's own token).
  /** `GET /v1/account`. */
  getAccount(): Promise<AccountAnswer> {
    return this.request('GET', '/v1/account');
  }
  /** `PUT /v1/account`: sets (or, with null, clears) the e-mail address. */
  updateAccount(body: AccountUpdate): Promise<AccountAnswer> {
    return this.request('PUT', '/v1/account', body);
  }
  /**
   * `POST /v1/account/password`: `SIGN_IN_FAILED` when `current` is wrong, `PASSWORD_WEAK` when `new`
   * is shorter than 12 or longer than 1024 characters. Every other session of the user ends.
   */
  async changePassword(body: PasswordChange): Promise<void> {
    await this.request('POST', '/v1/account/password', body);
  }
  /** `GET /v1/account/tokens`: the caller's own live API tokens (never their secrets). */
  listOwnTokens(): Promise<OwnTokenList> {
    return this.request('GET', '/v1/account/tokens');
  }
  /** `POST /v1/account/tokens`: a token with the caller's role and tenant; its secret is in this answer only. */
  createOwnToken(body: NewOwnToken): Promise<OwnTokenCreated> {
    return this.request('POST', '/v1/account/tokens', body);
  }
  /** `DELETE /v1/account/tokens/{id}`. */
  async revokeOwnToken(id: string): Promise<void> {
    await this.request('DELETE', `/v1/account/tokens/${segment(id)}`);
  }

  // Users (operator).
  /** `GET /v1/users`. */
  listUsers(): Promise<UserList> {
    return this.request('GET', '/v1/users');
  }
  /** `POST /v1/users`: without `password`, the answer carries a generated one (shown this once). */
  addUser(body: NewUser): Promise<UserCreated> {
    return this.request('POST', '/v1/users', body);
  }
  /** `DELETE /v1/users/{name}`: the user's sessions end and their own tokens are revoked. */
  async removeUser(name: string): Promise<void> {
    await this.request('DELETE', `/v1/users/${segment(name)}`);
  }

  // Tenants and tokens (operator).
  /** `GET /v1/tenants`. */
  listTenants(): Promise<TenantList> {
    return this.request('GET', '/v1/tenants');
  }
  /** `POST /v1/tenants`. */
  addTenant(body: NewTenant): Promise<TenantView> {
    return this.request('POST', '/v1/tenants', body);
  }
  /** `POST /v1/tokens`: the token's secret is in this answer only. */
  createToken(body: NewToken): Promise<TokenAnswer> {
    return this.request('POST', '/v1/tokens', body);
  }
  /** `DELETE /v1/tokens/{id}`. */
  async revokeToken(id: string): Promise<void> {
    await this.request('DELETE', `/v1/tokens/${segment(id)}`);
  }

  // Servers.
  /** `GET /v1/servers`: the servers the token may see. */
  listServers(): Promise<ServerList> {
    return this.request('GET', '/v1/servers');
  }
  /** `POST /v1/servers` (operator). */
  addServer(body: NewServer): Promise<ServerView> {
    return this.request('POST', '/v1/servers', body);
  }
  /** `GET /v1/servers/{name}`. */
  getServer(name: string): Promise<ServerView> {
    return this.request('GET', `/v1/servers/${segment(name)}`);
  }
  /** `DELETE /v1/servers/{name}` (operator; only when the server boots from its disk). */
  async removeServer(name: string): Promise<void> {
    await this.request('DELETE', `/v1/servers/${segment(name)}`);
  }
  /**
   * `POST /v1/servers/{name}/validate` (operator): reaches the server's BMC and reads its power state.
   * A BMC that cannot be reached or refuses the credentials is an `ApiError` with its code
   * (`BMC_UNREACHABLE`, `BMC_AUTH_FAILED`, `BMC_ERROR`, `BMC_UNSUPPORTED`, `BMC_INVALID`).
   */
  validateServer(name: string): Promise<BmcValidation> {
    return this.request('POST', `/v1/servers/${segment(name)}/validate`);
  }

  /** `PATCH /v1/servers/{name}/bmc` (operator): a new BMC address, user or password. */
  updateBmc(name: string, change: BmcChange): Promise<ServerView> {
    return this.request('PATCH', `/v1/servers/${segment(name)}/bmc`, change);
  }

  // SSH keys and the console gateway.
  /** `GET /v1/keys`: the caller's tenant's keys; staff: the tenant named, or the staff keys. */
  listKeys(tenant?: string): Promise<SshKeyList> {
    return this.request('GET', `/v1/keys${tenant === undefined ? '' : `?tenant=${encodeURIComponent(tenant)}`}`);
  }
  /** `POST /v1/keys`: registers a public key (`KEY_INVALID`, `KEY_EXISTS`). */
  addKey(body: NewSshKey): Promise<SshKeyView> {
    return this.request('POST', '/v1/keys', body);
  }
  /** `DELETE /v1/keys/{name}` (`KEY_NOT_FOUND`). */
  async removeKey(name: string, tenant?: string): Promise<void> {
    await this.request('DELETE', `/v1/keys/${segment(name)}${tenant === undefined ? '' : `?tenant=${encodeURIComponent(tenant)}`}`);
  }
  /** `GET /v1/ssh-host-ca`: the provider's SSH host CA and its `@cert-authority` line for known_hosts. */
  sshHostCa(): Promise<SshHostCaView> {
    return this.request('GET', '/v1/ssh-host-ca');
  }
  /** `GET /v1/console`: the SSH console gateway's address and host key fingerprint. */
  consoleInfo(): Promise<ConsoleInfo> {
    return this.request('GET', '/v1/console');
  }
  /**
   * `GET /v1/servers/{name}/console/log[?session=ID]`: the console recorded while the server entered
   * and left rescue, for a session (default: its latest recorded one); `data` is base64.
   */
  getConsoleLog(name: string, options: { session?: string } = {}): Promise<ConsoleLogView> {
    const query = options.session === undefined ? '' : `?session=${encodeURIComponent(options.session)}`;
    return this.request('GET', `/v1/servers/${segment(name)}/console/log${query}`);
  }

  /** `GET /v1/servers/{name}/desktop`: whether the rescue's desktop can be opened, its WebSocket and SSH tunnel. */
  getDesktop(name: string): Promise<DesktopView> {
    return this.request('GET', `/v1/servers/${segment(name)}/desktop`);
  }

  // Rescue.
  /** `POST /v1/servers/{name}/rescue`: the clear password (without SSH keys) is in this answer only. */
  enterRescue(name: string, body: EnterRescue = {}): Promise<RescueTaskAnswer> {
    return this.request('POST', `/v1/servers/${segment(name)}/rescue`, body);
  }
  /** `GET /v1/servers/{name}/rescue`. */
  getRescue(name: string): Promise<RescueView> {
    return this.request('GET', `/v1/servers/${segment(name)}/rescue`);
  }
  /** `POST /v1/servers/{name}/rescue/exit`. */
  exitRescue(name: string): Promise<RescueTaskAnswer> {
    return this.request('POST', `/v1/servers/${segment(name)}/rescue/exit`);
  }
  /** `POST /v1/servers/{name}/rescue/extend`. */
  extendRescue(name: string, body: ExtendRescue): Promise<RescueView> {
    return this.request('POST', `/v1/servers/${segment(name)}/rescue/extend`, body);
  }
  /** `GET /v1/servers/{name}/tasks`: the boot timelines, newest first. */
  listTasks(name: string): Promise<TaskList> {
    return this.request('GET', `/v1/servers/${segment(name)}/tasks`);
  }
  /** `GET /v1/servers/{name}/inventory`. */
  getInventory(name: string): Promise<InventoryAnswer> {
    return this.request('GET', `/v1/servers/${segment(name)}/inventory`);
  }
  /** `POST /v1/servers/{name}/rescue/work`: work for the agent of a server in rescue. */
  addAgentWork(name: string, body: NewAgentWork): Promise<AgentWorkCreated> {
    return this.request('POST', `/v1/servers/${segment(name)}/rescue/work`, body);
  }
  /** `GET /v1/servers/{name}/rescue/work/{id}`. */
  getAgentWork(name: string, id: string): Promise<AgentWorkView> {
    return this.request('GET', `/v1/servers/${segment(name)}/rescue/work/${segment(id)}`);
  }

  // The partition explorer (a server in rescue).
  /** `GET /v1/servers/{name}/files/{device}?path=`: a directory's entries (symlinks not followed). */
  listFiles(name: string, device: string, path: string): Promise<FileListing> {
    return this.request('GET', `/v1/servers/${segment(name)}/files/${segment(device)}?path=${segment(path)}`);
  }
  /** `GET /v1/servers/{name}/files/{device}/content`: one range of a file (default 64 KiB, at most 1 MiB). */
  async readFile(name: string, device: string, path: string, range: { offset?: number; length?: number } = {}): Promise<FileRange> {
    const search = new URLSearchParams({ path });
    if (range.offset !== undefined) search.set('offset', String(range.offset));
    if (range.length !== undefined) search.set('length', String(range.length));
    const response = await this.#send('GET', `/v1/servers/${segment(name)}/files/${segment(device)}/content?${search}`, undefined, 'application/octet-stream');
    if (!response.ok) throw await answerError(response);
    return { data: new Uint8Array(await response.arrayBuffer()), size: Number(response.headers.get(fileSizeHeader) ?? 0) };
  }
  /**
   * `GET /v1/servers/{name}/files/{device}/download?path=`: a file as it is or a directory as a tar
   * stream, relayed from the rescue system as it is read; `signal` ends it (and the upload).
   */
  async downloadFiles(name: string, device: string, path: string, signal?: AbortSignal): Promise<FileDownload> {
    const response = await this.#send('GET', `/v1/servers/${segment(name)}/files/${segment(device)}/download?path=${segment(path)}`, undefined, '*/*', signal);
    if (!response.ok || !response.body) throw await answerError(response);
    const disposition = response.headers.get('content-disposition') ?? '';
    const encoded = /filename\*=UTF-8''([^;]+)/.exec(disposition)?.[1];
    const length = response.headers.get('content-length');
    return {
      type: response.headers.get(uploadTypeHeader) === 'directory' ? 'directory' : 'file',
      filename: encoded ? decodeURIComponent(encoded) : (/filename="([^"]*)"/.exec(disposition)?.[1] ?? 'download'),
      size: length === null ? null : Number(length),
      body: response.body,
    };
  }
  /** `GET /v1/servers/{name}/journal`: the installed system's journal, as journalctl prints it. */
  async journal(name: string, query: JournalQuery): Promise<string> {
    const search = new URLSearchParams({ device: query.device });
    if (query.lines !== undefined) search.set('lines', String(query.lines));
    if (query.boot !== undefined) search.set('boot', String(query.boot));
    if (query.priority !== undefined) search.set('priority', query.priority);
    const response = await this.#send('GET', `/v1/servers/${segment(name)}/journal?${search}`, undefined, 'text/plain');
    if (!response.ok) throw await answerError(response);
    return response.text();
  }

  // Incidents and audit.
  /** `POST /v1/servers/{name}/incidents`. */
  reportIncident(name: string, body: NewIncident): Promise<IncidentCreated> {
    return this.request('POST', `/v1/servers/${segment(name)}/incidents`, body);
  }
  /** `GET /v1/incidents`: the queue (a customer's: its tenant's), open first, oldest first; filtered by state or server. */
  listIncidents(query: IncidentQuery = {}): Promise<IncidentList> {
    const search = new URLSearchParams();
    if (query.state !== undefined) search.set('state', query.state);
    if (query.server !== undefined) search.set('server', query.server);
    const text = search.toString();
    return this.request('GET', `/v1/incidents${text ? `?${text}` : ''}`);
  }
  /** `GET /v1/incidents/{id}`: the incident with its comments and attached test results. */
  getIncident(id: string): Promise<IncidentDetail> {
    return this.request('GET', `/v1/incidents/${segment(id)}`);
  }
  /** `POST /v1/incidents/{id}`: moves it (`acknowledged`, `resolved`, `open` again). */
  updateIncident(id: string, body: IncidentUpdate): Promise<IncidentView> {
    return this.request('POST', `/v1/incidents/${segment(id)}`, body);
  }
  /** `POST /v1/incidents/{id}/comments`. */
  commentIncident(id: string, body: NewIncidentComment): Promise<IncidentCommentView> {
    return this.request('POST', `/v1/incidents/${segment(id)}/comments`, body);
  }
  /** `POST /v1/incidents/{id}/resolve`. */
  resolveIncident(id: string, body: ResolveIncident = {}): Promise<IncidentView> {
    return this.request('POST', `/v1/incidents/${segment(id)}/resolve`, body);
  }
  /** `GET /v1/audit`. */
  audit(query: AuditQuery = {}): Promise<{ events: unknown[] }> {
    const search = new URLSearchParams();
    if (query.server !== undefined) search.set('server', query.server);
    if (query.limit !== undefined) search.set('limit', String(query.limit));
    const text = search.toString();
    return this.request('GET', `/v1/audit${text ? `?${text}` : ''}`);
  }

  // Hardware tests (issue 11).
  /** `POST /v1/servers/{name}/tests`: starts a test on a server in rescue (answer: the queued test). */
  runTest(name: string, body: NewHardwareTest): Promise<HardwareTestView> {
    return this.request('POST', `/v1/servers/${segment(name)}/tests`, body);
  }
  /** `GET /v1/servers/{name}/tests`: the server's tests, newest first, also after the rescue ended. */
  listTests(name: string): Promise<HardwareTestList> {
    return this.request('GET', `/v1/servers/${segment(name)}/tests`);
  }
  /** `GET /v1/servers/{name}/tests/{id}`. */
  getTest(name: string, id: string): Promise<HardwareTestView> {
    return this.request('GET', `/v1/servers/${segment(name)}/tests/${segment(id)}`);
  }
  /** `GET /v1/servers/{name}/tests/{id}/output`: the kept output (the last 1 MiB), as text. */
  async getTestOutput(name: string, id: string): Promise<string> {
    const response = await this.#send('GET', `/v1/servers/${segment(name)}/tests/${segment(id)}/output`, undefined, 'text/plain');
    if (!response.ok) throw await answerError(response);
    return response.text();
  }
  /** `POST /v1/servers/{name}/tests/{id}/cancel`: a queued test is cancelled at once, a running one is asked to stop. */
  cancelTest(name: string, id: string): Promise<HardwareTestView> {
    return this.request('POST', `/v1/servers/${segment(name)}/tests/${segment(id)}/cancel`);
  }

  // The rescue doctor (issue 15).
  /** `GET /v1/servers/{name}/doctor`: the doctor's report on the rescue in progress (else the last one), with its fixes. */
  getDoctor(name: string): Promise<DoctorView> {
    return this.request('GET', `/v1/servers/${segment(name)}/doctor`);
  }
  /**
   * `POST /v1/servers/{name}/doctor/findings/{id}/fix`: asks the rescue system to apply the finding's fix
   * (answer: the pending fix; a `root-password` fix carries the new password, shown this once).
   */
  fixFinding(name: string, findingId: string): Promise<DoctorFixAnswer> {
    return this.request('POST', `/v1/servers/${segment(name)}/doctor/findings/${segment(findingId)}/fix`);
  }
  /** `POST /v1/servers/{name}/doctor/findings/{id}/undo`: puts back the files the finding's fix changed. */
  undoFinding(name: string, findingId: string): Promise<DoctorFixAnswer> {
    return this.request('POST', `/v1/servers/${segment(name)}/doctor/findings/${segment(findingId)}/undo`);
  }
  /** `GET /v1/servers/{name}/doctor/fixes/{id}`: one fix or undo, pending, done or failed. */
  getDoctorFix(name: string, id: string): Promise<DoctorFixView> {
    return this.request('GET', `/v1/servers/${segment(name)}/doctor/fixes/${segment(id)}`);
  }

  /**
   * `GET /v1/events`: the live changes of the servers the token may see (Server-Sent Events), one
   * `ServerEvent` per change, until the stream ends, `signal` aborts or the loop breaks. With
   * `tests: true` it also yields `{test}` ({@link HardwareTestEvent}) for each change of a test, with
   * `doctor: true` `{doctor}` ({@link DoctorEvent}) for each change of a doctor report.
   */
  events(options?: EventsOptions & { readonly tests?: false; readonly doctor?: false }): AsyncGenerator<ServerEvent, void, undefined>;
  events(options: EventsOptions & { readonly tests: true; readonly doctor?: false }): AsyncGenerator<ServerEvent | HardwareTestEvent, void, undefined>;
  events(options: EventsOptions & { readonly doctor: true }): AsyncGenerator<ServerEvent | HardwareTestEvent | DoctorEvent, void, undefined>;
  async *events(options: EventsOptions = {}): AsyncGenerator<ServerEvent | HardwareTestEvent | DoctorEvent, void, undefined> {
    const query = options.server === undefined ? '' : `?server=${segment(options.server)}`;
    const controller = new AbortController();
    const abort = () => controller.abort();
    options.signal?.addEventListener('abort', abort, { once: true });
    try {
      const response = await this.#send('GET', `/v1/events${query}`, undefined, 'text/event-stream', controller.signal);
      if (!response.ok || !response.body) throw await answerError(response);
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buffer += decoder.decode(value, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const message = parseEventBlock(block);
            if (message?.event === 'server') yield JSON.parse(message.data) as ServerEvent;
            else if (message?.event === 'test' && options.tests === true) yield JSON.parse(message.data) as HardwareTestEvent;
            else if (message?.event === 'doctor' && options.doctor === true) yield JSON.parse(message.data) as DoctorEvent;
          }
        }
      } catch (error) {
        if (controller.signal.aborted) return;
        throw error;
      } finally {
        reader.releaseLock();
      }
    } finally {
      options.signal?.removeEventListener('abort', abort);
      controller.abort();
    }
  }

  /**
   * Sends one request and decodes the JSON answer (undefined for 204). For routes without a method
   * above; the methods are the typed way.
   */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.#send(method, path, body, 'application/json');
    if (!response.ok) throw await answerError(response);
    const text = await response.text();
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError('BAD_ANSWER', response.status, `${method} ${path}: the answer is not JSON`);
    }
  }

  async #send(method: string, path: string, body: unknown, accept: string, signal?: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { accept };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    if (this.#browser && this.#csrfToken !== undefined && !safeMethods.has(method)) headers[csrfHeader] = this.#csrfToken;
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await this.#fetch(`${this.#base}${path}`, {
        method,
        headers,
        ...(this.#browser ? { credentials: 'same-origin' as const } : {}),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new LifeboatError('UNREACHABLE', `cannot reach the control plane at ${this.#base} (${cause})`, { cause: error });
    }
  }
}

/** The `ApiError` of an error answer: its `{code, message}` body, or `HTTP_<status>` without one. */
async function answerError(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => '');
  let answer: { code?: unknown; message?: unknown } = {};
  try {
    answer = (text ? JSON.parse(text) : {}) as typeof answer;
  } catch {
    answer = {};
  }
  const code = typeof answer.code === 'string' ? answer.code : `HTTP_${response.status}`;
  const message = typeof answer.message === 'string' ? answer.message : response.statusText;
  return new ApiError(code, response.status, message);
}

/** One Server-Sent Events block: its `event` (default `message`) and its `data` lines joined; null for a comment. */
export function parseEventBlock(block: string): { event: string; data: string } | null {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  return data.length === 0 ? null : { event, data: data.join('\n') };
}
