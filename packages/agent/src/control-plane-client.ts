/**
 * The agent's side of the agent API (docs/architecture.md, "Agent API"): JSON over HTTP, the agent
 * always the client, outbound only. Transient failures (no route yet, connection refused, 5xx) are
 * retried with capped exponential backoff; a 4xx answer is final.
 */
import type { AgentConfig, AgentHardwareTestCreated, AgentNewHardwareTest, DoctorReport, HostKeysAnswer, WorkProgress, WorkProgressAnswer } from '@lifeboat/core/api';
import { ApiError } from '@lifeboat/core/errors';
import type { HostKeyReport } from './host-keys.js';
import type { Inventory } from './inventory.js';
import type { Platform, Stop } from './platform.js';

/** The session's configuration, as `POST /redeem` returns it (the contract's `RedeemAnswer.config`). */
export type RescueConfig = AgentConfig;

/** A host certificate, as `POST /host-keys` answers it (the contract's `HostKeysAnswer`). */
export type HostCertificate = HostKeysAnswer['certificates'][number];

/** A job the control plane hands the agent through `GET /work`. */
export interface AgentJob {
  readonly id: string;
  readonly kind: string;
  readonly params: unknown;
}

/** The outcome of a job, for `POST /work/{id}/result`. */
export interface JobResult {
  readonly state: 'completed' | 'failed';
  readonly result?: unknown;
  readonly message?: string;
}

/**
 * An answer of the control plane that is final (4xx), with its stable code when it gave one
 * (`BOOT_TOKEN_INVALID`, `AGENT_TOKEN_REVOKED`, ...; `serverCode` is `HTTP_<status>` when the body had
 * none), or the agent's own `CONTROL_PLANE_UNREACHABLE` / `BAD_ANSWER`.
 */
export class AgentApiError extends ApiError {
  constructor(code: string, status: number, message: string) {
    super(code, status, message);
    this.name = 'AgentApiError';
  }
}

/** How retries wait. */
export interface RetryPolicy {
  /** First wait (ms). */
  readonly initialMs: number;
  /** Longest wait (ms). */
  readonly maxMs: number;
  /** Give up after this long in total (ms); `Infinity` to retry until aborted. */
  readonly totalMs: number;
}

/** Retry for as long as it takes: a control plane being restarted must not strand a rescue system. */
export const defaultRetry: RetryPolicy = { initialMs: 500, maxMs: 15_000, totalMs: Infinity };

/** Options of the client. */
export interface ClientOptions {
  readonly retry?: RetryPolicy;
  /** Ends every pending request and wait. */
  readonly stop?: Stop;
  /** Told about each failed attempt (never given a secret). */
  readonly onRetry?: (what: string, attempt: number, error: string) => void;
}

/** A client of the agent API for one rescue system. */
export class ControlPlaneClient {
  readonly #base: string;
  readonly #platform: Platform;
  readonly #retry: RetryPolicy;
  readonly #stop: Stop | undefined;
  readonly #onRetry: ClientOptions['onRetry'];
  #agentToken: string | null = null;

  /** `url` is `lifeboat.url`; calls go to `{url}/v1/agent/...`. */
  constructor(platform: Platform, url: string, options: ClientOptions = {}) {
    this.#platform = platform;
    this.#base = `${url.replace(/\/+$/, '')}/v1/agent`;
    this.#retry = options.retry ?? defaultRetry;
    this.#stop = options.stop;
    this.#onRetry = options.onRetry;
  }

  /** Uses an agent token obtained earlier (a restarted agent resumes its session). */
  useAgentToken(token: string): void {
    this.#agentToken = token;
  }

  /**
   * Where and with which credentials a work's bytes are uploaded (`PUT {url}/v1/agent/work/{id}/upload`):
   * the explorer hands them to curl through a file, never its argv.
   */
  uploadTarget(jobId: string): { url: string; authorization: string } {
    if (this.#agentToken === null) throw new AgentApiError('UNAUTHORIZED', 401, 'no agent token yet');
    return { url: `${this.#base}/work/${encodeURIComponent(jobId)}/upload`, authorization: `Bearer ${this.#agentToken}` };
  }

  /** Trades the one-time boot token for the agent token and the session's configuration. */
  async redeem(serverId: string, bootToken: string): Promise<{ agentToken: string; config: RescueConfig }> {
    const answer = await this.#call('POST', '/redeem', { serverId, bootToken }, false);
    if (!isRedeemAnswer(answer)) throw new AgentApiError('BAD_ANSWER', 200, 'redeem answered without agentToken/config');
    this.#agentToken = answer.agentToken;
    return answer;
  }

  /** Records a step on the session's boot timeline. */
  async event(step: string, detail?: string): Promise<void> {
    await this.#call('POST', '/events', detail === undefined ? { step } : { step, detail });
  }

  /**
   * Publishes the host keys sshd serves; returns the host certificates the control plane signed for
   * them (none from a control plane without a CA, which answers 204).
   */
  async hostKeys(hostKeys: readonly HostKeyReport[]): Promise<HostCertificate[]> {
    const answer = await this.#call('POST', '/host-keys', { hostKeys });
    const certificates = typeof answer === 'object' && answer !== null ? (answer as { certificates?: unknown }).certificates : undefined;
    return Array.isArray(certificates) ? certificates.filter(isHostCertificate) : [];
  }

  /** Publishes the hardware inventory. */
  async inventory(inventory: Inventory): Promise<void> {
    await this.#call('POST', '/inventory', inventory);
  }

  /** Tells the control plane that sshd is up with the session's credentials. */
  async ready(): Promise<void> {
    await this.#call('POST', '/ready', {});
  }

  /** Reports the rescue doctor's run (`running`, then `done` or `failed`). */
  async doctor(report: DoctorReport): Promise<void> {
    await this.#call('POST', '/doctor', report);
  }

  /** Says the rescue system is alive; returns the lease's end. */
  async heartbeat(): Promise<{ expiresAt?: string }> {
    const answer = await this.#call('POST', '/heartbeat', {});
    return typeof answer === 'object' && answer !== null ? (answer as { expiresAt?: string }) : {};
  }

  /** Waits up to `waitSeconds` for work (long poll). */
  async work(waitSeconds: number): Promise<AgentJob[]> {
    const answer = await this.#call('GET', `/work?waitSeconds=${waitSeconds}`, undefined, true, waitSeconds + requestSeconds);
    if (typeof answer !== 'object' || answer === null || !('jobs' in answer) || !Array.isArray(answer.jobs)) return [];
    return (answer.jobs as unknown[]).filter(isJob);
  }

  /** Reports a job's outcome. */
  async result(jobId: string, result: JobResult): Promise<void> {
    await this.#call('POST', `/work/${encodeURIComponent(jobId)}/result`, result);
  }

  /** Reports how far a job is; the answer says whether the user cancelled it. */
  async progress(jobId: string, report: WorkProgress): Promise<WorkProgressAnswer> {
    const answer = await this.#call('POST', `/work/${encodeURIComponent(jobId)}/progress`, report);
    return { cancel: typeof answer === 'object' && answer !== null && (answer as { cancel?: unknown }).cancel === true };
  }

  /** Records a hardware test started from SSH (`rescue-tests`); the agent then runs it as work `workId`. */
  async createTest(request: AgentNewHardwareTest): Promise<AgentHardwareTestCreated> {
    const answer = await this.#call('POST', '/tests', request);
    const o = (typeof answer === 'object' && answer !== null ? answer : {}) as Record<string, unknown>;
    if (typeof o.testId !== 'string' || typeof o.workId !== 'string') throw new AgentApiError('BAD_ANSWER', 200, 'POST /tests answered without testId/workId');
    return { testId: o.testId, workId: o.workId };
  }

  async #call(method: string, path: string, body: unknown, authorized = true, timeoutSeconds = requestSeconds): Promise<unknown> {
    const started = Date.now();
    let wait = this.#retry.initialMs;
    for (let attempt = 1; ; attempt++) {
      this.#stop?.throwIfStopped();
      let failure: string;
      try {
        const headers: Record<string, string> = { accept: 'application/json' };
        if (body !== undefined) headers['content-type'] = 'application/json';
        if (authorized && this.#agentToken) headers.authorization = `Bearer ${this.#agentToken}`;
        const response = await this.#platform.http({
          method,
          url: `${this.#base}${path}`,
          headers,
          timeoutSeconds,
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          ...(this.#stop ? { stop: this.#stop } : {}),
        });
        if (response.status >= 200 && response.status < 300) return response.body.length > 0 ? parseJson(response.body) : undefined;
        const parsed = parseJson(response.body);
        const code = typeof parsed === 'object' && parsed !== null && 'code' in parsed ? String(parsed.code) : `HTTP_${response.status}`;
        const message = typeof parsed === 'object' && parsed !== null && 'message' in parsed ? String(parsed.message) : `HTTP ${response.status}`;
        if (response.status < 500 && response.status !== 408 && response.status !== 429) {
          throw new AgentApiError(code, response.status, `${method} ${path.split('?')[0]}: ${response.status} ${code}: ${message}`);
        }
        failure = `${response.status} ${code}`;
      } catch (error) {
        if (error instanceof AgentApiError) throw error;
        if (this.#stop?.stopped) throw error;
        failure = error instanceof Error ? error.message : String(error);
      }
      if (Date.now() - started + wait > this.#retry.totalMs) {
        throw new AgentApiError('CONTROL_PLANE_UNREACHABLE', 0, `${method} ${path.split('?')[0]}: gave up: ${failure}`);
      }
      this.#onRetry?.(`${method} ${path.split('?')[0]}`, attempt, failure);
      await this.#platform.sleep(wait, this.#stop);
      this.#stop?.throwIfStopped();
      wait = Math.min(wait * 2, this.#retry.maxMs);
    }
  }
}

/** Longest time one API call may take, beyond a long poll's own wait. */
const requestSeconds = 30;

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRedeemAnswer(v: unknown): v is { agentToken: string; config: RescueConfig } {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  const c = o.config as Record<string, unknown> | undefined;
  return typeof o.agentToken === 'string' && typeof c === 'object' && c !== null && typeof c.hostname === 'string';
}

function isHostCertificate(v: unknown): v is HostCertificate {
  const o = v as Record<string, unknown> | null;
  return typeof o === 'object' && o !== null && typeof o.type === 'string' && typeof o.publicKey === 'string' && typeof o.certificate === 'string';
}

function isJob(v: unknown): v is AgentJob {
  return typeof v === 'object' && v !== null && typeof (v as AgentJob).id === 'string' && typeof (v as AgentJob).kind === 'string';
}
