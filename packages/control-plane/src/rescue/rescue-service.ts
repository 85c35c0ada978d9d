/**
 * What users ask of the rescue flow: enter, exit, extend, show. Each request checks the state
 * machine, records a session and a task, and queues a durable job; the jobs (`rescue-jobs.ts`) talk
 * to the BMC.
 */
import {
  agentResponding,
  canExtendRescue,
  LifeboatError,
  enterRescueSteps,
  exitRescueSteps,
  knownHostsLines,
  may,
  nextRescueState,
  rescueStatus,
  type Principal,
  type RescueSession,
  type RescueView,
  type Server,
  type Task,
} from '@lifeboat/core';
import { rescuePassword, type RescueCredentials } from '../credentials/password.js';
import { serverLockKey, type JobQueue } from '../jobs/job-queue.js';
import { imageProblem, type ImageRegistry } from '../netboot/image-registry.js';
import type { Store } from '../store/store.js';
import type { RescueAlert } from '../store/boot-credentials.js';
import { BootTimeline } from './boot-timeline.js';
import type { HostCertificate, SshHostCa } from '../ssh-host-ca/host-ca.js';

/** Job kinds of the rescue flow. */
export const enterJob = 'rescue.enter';
export const exitJob = 'rescue.exit';
export const mailCredentialsJob = 'rescue.mail_credentials';

/**
 * Attempts of the credentials mail: with the worker's backoff capped at a minute, far longer than any
 * rescue lease (the job stops by itself when the session leaves rescue).
 */
export const mailAttempts = 1_000_000;

/** The job that sets a server back to disk boot once its BMC answers again, after a rollback the BMC did not let happen. */
export const restoreDiskBootJob = 'rescue.restore_disk_boot';

/**
 * Attempts of an enter or exit job by default: with the worker's backoff (2 s doubling, at most 60 s)
 * about three minutes of retries against a BMC that does not answer, within the request's deadline.
 */
export const defaultBmcAttempts = 8;

/** Where a session's password waits, sealed, until the credentials mail is sent. */
export function mailPasswordSecret(sessionId: string): string {
  return `mail-password:${sessionId}`;
}

/** Parameters of the enter and exit jobs. */
export interface RescueJobParams {
  readonly sessionId: string;
  readonly taskId: string;
}

/** Lease limits. */
export interface LeaseSettings {
  readonly defaultLeaseMs: number;
  /** Longest lease for customers and technicians; operators are not limited. */
  readonly maxLeaseMs: number;
}

/** A rescue request. */
export interface EnterRescueInput {
  readonly profile?: string;
  readonly sshKeys?: readonly string[];
  readonly email?: string;
  readonly expiresInMs?: number;
}

/** The rescue view and its SSH access are the contract's types (`core/src/api/schemas.ts`). */
export type { SshAccess, RescueView } from '@lifeboat/core';

/** The rescue flow's entry points. */
export class RescueService {
  readonly #store: Store;
  readonly #queue: JobQueue;
  readonly #lease: LeaseSettings;
  readonly #mails: boolean;
  readonly #bmcAttempts: number;
  readonly #images: ImageRegistry;
  readonly #timeline: BootTimeline;
  readonly #newPassword: () => Promise<RescueCredentials>;
  readonly #hostCa: SshHostCa | undefined;

  /**
   * `images`: the rescue images by profile (the netboot server's registry; a request for a profile
   * without a complete image is refused). `mails`: whether a mailer is configured (credentials then go
   * to the request's or the tenant's address). `newPassword`: makes a session's password and hash
   * (default {@link rescuePassword}; tests wrap it to see when it runs).
   */
  constructor(options: {
    store: Store;
    queue: JobQueue;
    lease: LeaseSettings;
    images: ImageRegistry;
    mails?: boolean;
    newPassword?: () => Promise<RescueCredentials>;
    /** Attempts of an enter or exit job (its BMC steps) before it fails (default {@link defaultBmcAttempts}). */
    bmcAttempts?: number;
    /** The SSH host CA that certifies the rescue systems' host keys (absent: no certificates, no `@cert-authority` line). */
    hostCa?: SshHostCa;
  }) {
    this.#hostCa = options.hostCa;
    this.#bmcAttempts = options.bmcAttempts ?? defaultBmcAttempts;
    this.#newPassword = options.newPassword ?? rescuePassword;
    this.#store = options.store;
    this.#images = options.images;
    this.#timeline = new BootTimeline(options.store);
    this.#queue = options.queue;
    this.#lease = options.lease;
    this.#mails = options.mails ?? false;
  }

  /** Puts a server in rescue. The clear password is in this answer only. */
  async enter(principal: Principal, server: Server, input: EnterRescueInput): Promise<{ view: RescueView; task: Task }> {
    if (!may(principal, 'rescue.enter', server.tenantId)) throw new LifeboatError('FORBIDDEN', 'this token may not put servers in rescue');
    const profile = input.profile ?? 'linux';
    if (!server.profiles.includes(profile)) {
      throw new LifeboatError('PROFILE_NOT_FOUND', `server ${server.name} has no rescue profile ${profile} (it has: ${server.profiles.join(', ') || 'none'})`);
    }
    const leaseMs = input.expiresInMs ?? this.#lease.defaultLeaseMs;
    if (leaseMs <= 0) throw new LifeboatError('BAD_REQUEST', 'the lease must be longer than 0');
    if (leaseMs > this.#lease.maxLeaseMs && principal.role !== 'operator') {
      throw new LifeboatError('LEASE_TOO_LONG', `a rescue lease may last at most ${Math.round(this.#lease.maxLeaseMs / 3_600_000)} h`);
    }
    // Before any session, task, job or BMC command: a server sent to netboot a missing image would
    // fetch it over and over and fail only at the rescue deadline, minutes later.
    const problem = await imageProblem(this.#images, profile);
    if (problem !== undefined) {
      const howTo = profile === 'linux'
        ? 'build it with `lifeboat image build` and start the control plane with --image DIR (LIFEBOAT_IMAGE)'
        : `build it with \`lifeboat image build --profile ${profile}\` and start the control plane with --image-profile ${profile}=DIR (LIFEBOAT_IMAGE_PROFILES)`;
      throw new LifeboatError('IMAGE_NOT_FOUND', `cannot enter rescue: ${problem}; ${howTo}`);
    }
    const sshKeys = (input.sshKeys ?? []).map((k) => k.trim()).filter(Boolean);
    for (const key of sshKeys) {
      if (!/^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-[a-z0-9@.-]+) [A-Za-z0-9+/=]+( .*)?$/.test(key)) {
        throw new LifeboatError('BAD_REQUEST', 'not an SSH public key (expected "ssh-ed25519 AAAA... comment")');
      }
    }
    // The state check before the hash: a refused request must cost no CPU (sessions.open checks again,
    // in its transaction, for a request that raced this one).
    nextRescueState((await this.#store.sessions.openFor(server.id))?.state ?? 'active', 'request');
    const credentials = sshKeys.length === 0 ? await this.#newPassword() : null;
    const now = this.#store.now();
    const recipient = input.email ?? (this.#mails ? ((await this.#store.tenants.byId(server.tenantId))?.email ?? null) : null);
    const session = await this.#store.sessions.open({
      serverId: server.id,
      profile,
      email: recipient,
      sshKeys,
      passwordHash: credentials?.hash ?? null,
      expiresAt: new Date(now.getTime() + leaseMs),
      requestedBy: principal.tokenId,
    });
    if (this.#mails && recipient !== null && credentials !== null) await this.#store.secrets.put(mailPasswordSecret(session.id), credentials.password);
    const task = await this.#store.tasks.create({ serverId: server.id, sessionId: session.id, kind: 'enter_rescue', steps: enterRescueSteps });
    const params: RescueJobParams = { sessionId: session.id, taskId: task.id };
    await this.#queue.add(enterJob, params, { dedupeKey: `enter:${session.id}`, lockKey: serverLockKey(server.id), maxAttempts: this.#bmcAttempts });
    await this.#store.audit.record(principal.tokenId, 'rescue.enter', {
      tenantId: server.tenantId,
      serverId: server.id,
      detail: { sessionId: session.id, profile, keys: sshKeys.length, email: input.email ?? null, leaseMs, role: principal.role },
    });
    const view = this.view(server, session);
    return { view: credentials ? { ...view, ssh: { ...view.ssh, password: credentials.password } } : view, task };
  }

  /** Leaves rescue (also cancels a rescue being prepared, or retries a failed exit). */
  async exit(principal: Principal | 'lease', server: Server): Promise<{ view: RescueView; task: Task }> {
    if (principal !== 'lease' && !may(principal, 'rescue.exit', server.tenantId)) throw new LifeboatError('FORBIDDEN', 'this token may not end rescues');
    const open = await this.#store.sessions.openFor(server.id);
    if (!open) throw new LifeboatError('INVALID_STATE', `cannot exit rescue: server ${server.name} is Active`);
    const session = await this.#store.sessions.transition(open.id, principal === 'lease' ? 'expire' : 'request_exit');
    const task = await this.startExit(server, session);
    await this.#store.audit.record(principal === 'lease' ? 'system' : principal.tokenId, principal === 'lease' ? 'rescue.expire' : 'rescue.exit', {
      tenantId: server.tenantId,
      serverId: server.id,
      detail: { sessionId: session.id },
    });
    return { view: this.view(server, session, await this.#alertsOf(session)), task };
  }

  /**
   * The agent reports ready: the session enters `rescue`, the boot timeline completes, and the
   * credentials are mailed (with the host keys now known). Ready twice is harmless.
   */
  async ready(session: RescueSession): Promise<void> {
    if (session.state === 'rescue') {
      // The agent's retry after a control plane that died between the transition and the rest (found by
      // the random kill points): finish what the first call could not, once (the task is still open).
      const task = await this.#store.tasks.latestFor(session.id, 'enter_rescue');
      if (task && task.endedAt === null) await this.#afterReady(session, task.id);
      return;
    }
    if (session.state !== 'preparing_rescue') {
      throw new LifeboatError('INVALID_STATE', `cannot mark rescue ready: the server is ${rescueStatus(session.state)}`);
    }
    // The lease counts from the moment the rescue system is usable, not from the request: a slow
    // boot must not eat the customer's time (or end a short lease before it began).
    const leaseMs = session.expiresAt.getTime() - session.createdAt.getTime();
    await this.#store.sessions.extend(session.id, new Date(this.#store.now().getTime() + leaseMs));
    await this.#store.sessions.transition(session.id, 'ready');
    const task = await this.#store.tasks.latestFor(session.id, 'enter_rescue');
    await this.#afterReady(session, task?.id);
  }

  /** What follows the move to `rescue`: the timeline's last step and end, the audit, the credentials' mail. */
  async #afterReady(session: RescueSession, taskId: string | undefined): Promise<void> {
    if (taskId !== undefined) {
      await this.#timeline.record(session.id, 'ready', 'completed', "sshd is up with the session's credentials");
      await this.#store.tasks.finish(taskId, 'completed');
    }
    await this.#store.audit.record(`agent:${session.id}`, 'rescue.ready', { serverId: session.serverId, detail: { sessionId: session.id } });
    if (this.#mails && session.email !== null) {
      // Retried (with the worker's backoff) for as long as the session is in rescue: the job ends by
      // itself once the rescue is over, so the attempts are only a bound against a loop.
      await this.#queue.add(mailCredentialsJob, { sessionId: session.id }, { dedupeKey: `mail:${session.id}`, maxAttempts: mailAttempts });
    }
  }

  /**
   * The rescue system redeemed its boot credential while the session still waits for the enter job to
   * record the reboot: the control plane died between the BMC's reboot and that record, and the server
   * netbooted meanwhile (found by the random kill points). The boot did happen: the session moves on as
   * the job would have, and the resumed job, finding it moved, neither reboots nor stops the task.
   */
  async bootedBeforeRecorded(session: RescueSession): Promise<void> {
    if (session.state !== 'rescue_requested') return;
    try {
      await this.#store.sessions.transition(session.id, 'boot_started');
    } catch (error) {
      if (error instanceof LifeboatError && error.code === 'INVALID_STATE') return;
      throw error;
    }
    await this.#timeline.record(session.id, 'power_cycled', 'completed', 'the server netbooted the rescue system before the reboot was recorded (a control plane restart)', 'enter_rescue');
  }

  /** Creates the exit task and queues its job for a session now in `exiting_rescue`. */
  async startExit(server: Server, session: RescueSession): Promise<Task> {
    const task = await this.#store.tasks.create({ serverId: server.id, sessionId: session.id, kind: 'exit_rescue', steps: exitRescueSteps });
    const params: RescueJobParams = { sessionId: session.id, taskId: task.id };
    await this.#queue.add(exitJob, params, { dedupeKey: `exit:${session.id}`, lockKey: serverLockKey(server.id), maxAttempts: this.#bmcAttempts });
    return task;
  }

  /** Moves the end of the lease to `expiresInMs` from now. */
  async extend(principal: Principal, server: Server, expiresInMs: number): Promise<RescueView> {
    if (!may(principal, 'rescue.enter', server.tenantId)) throw new LifeboatError('FORBIDDEN', 'this token may not extend rescues');
    if (expiresInMs <= 0) throw new LifeboatError('BAD_REQUEST', 'the lease must be longer than 0');
    if (expiresInMs > this.#lease.maxLeaseMs && principal.role !== 'operator') {
      throw new LifeboatError('LEASE_TOO_LONG', `a rescue lease may last at most ${Math.round(this.#lease.maxLeaseMs / 3_600_000)} h`);
    }
    const open = await this.#store.sessions.openFor(server.id);
    if (!open || !canExtendRescue(open.state)) {
      throw new LifeboatError('INVALID_STATE', `cannot extend: server ${server.name} is not in rescue`);
    }
    const session = await this.#store.sessions.extend(open.id, new Date(this.#store.now().getTime() + expiresInMs));
    await this.#store.audit.record(principal.tokenId, 'rescue.extend', { tenantId: server.tenantId, serverId: server.id, detail: { sessionId: session.id, expiresAt: session.expiresAt.toISOString() } });
    return this.view(server, session, await this.#alertsOf(session));
  }

  /** The server's current (or last) session as users see it, with the alerts of its boot. */
  async show(server: Server): Promise<RescueView> {
    const session = (await this.#store.sessions.openFor(server.id)) ?? (await this.#store.sessions.latestFor(server.id));
    return this.view(server, session, await this.#alertsOf(session));
  }

  async #alertsOf(session: RescueSession | undefined): Promise<RescueAlert[]> {
    return session === undefined ? [] : this.#store.bootCredentials.alertsFor(session.id);
  }

  /** The SSH host CA (absent: this control plane certifies nothing). */
  get hostCa(): SshHostCa | undefined {
    return this.#hostCa;
  }

  /**
   * Host certificates for the host keys a session's agent reported (none without a CA, or for a
   * server without a principal): signed at each report, valid until the end of the lease.
   */
  hostCertificates(server: Server, session: RescueSession): HostCertificate[] {
    return this.#hostCa?.certify(server, session, session.hostKeys, this.#store.now()) ?? [];
  }

  /** Builds the view of a session (no password: it exists in clear only in the enter answer). */
  view(server: Server, session: RescueSession | undefined, alerts: readonly RescueAlert[] = []): RescueView {
    const open = session !== undefined && session.endedAt === null;
    const endpoint = server.sshEndpoint;
    const hostKeys = open ? session.hostKeys : [];
    return {
      server: server.name,
      state: open ? session.state : 'active',
      status: rescueStatus(open ? session.state : 'active'),
      reason: session?.reason ?? null,
      sessionId: session?.id ?? null,
      profile: session?.profile ?? null,
      expiresAt: open ? session.expiresAt.toISOString() : null,
      deadlineAt: open ? (session.deadlineAt?.toISOString() ?? null) : null,
      passwordLogin: session?.passwordLogin ?? null,
      ssh: {
        host: endpoint?.host ?? null,
        port: endpoint?.port ?? null,
        user: 'root',
        hostKeyFingerprints: hostKeys.map((k) => k.fingerprint),
        knownHosts: endpoint ? knownHostsLines(endpoint.host, endpoint.port, hostKeys) : [],
        ...(this.#hostCa ? { certAuthority: this.#hostCa.knownHostsLine } : {}),
      },
      agent: {
        lastSeenAt: open ? (session.lastHeartbeatAt?.toISOString() ?? null) : null,
        responding: open ? agentResponding(session, this.#store.now()) : null,
      },
      alerts: alerts.map((alert) => ({ kind: alert.kind, address: alert.address, message: alert.message, at: alert.at.toISOString() })),
    };
  }
}

