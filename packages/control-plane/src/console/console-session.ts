/**
 * One viewer's console session, whatever carries it (an SSH channel, a WebSocket): attaches to the
 * server's console hub, sends the scrollback then the live bytes, forwards the viewer's keystrokes
 * when it holds the writer's seat, detaches on `~.`, on the idle timeout, or when the hub ends it (the
 * console closed, the viewer fell too far behind: the hub's queue for it is bounded); audits the attach
 * and the detach. A viewer backed up tells the hub, which holds its bytes until the transport drains.
 */
import { LifeboatError, type Server } from '@lifeboat/core';
import type { Store } from '../store/store.js';
import type { ConsoleAttachment, ConsoleHubs, ConsoleViewer } from './console-hub.js';
import { EscapeDetector } from './escape-detector.js';

/** The console hubs, as a viewer reaches them. */
export type ConsoleAttacher = Pick<ConsoleHubs, 'attach'>;

/** The transport of one viewer. */
export interface ViewerTransport {
  /** Console bytes to the viewer; false when the viewer is backed up (then `onDrain` tells when it is not). */
  send(data: Buffer): boolean;
  /** Calls `listener` once the viewer takes bytes again. */
  onDrain(listener: () => void): void;
  /** A line for the human (SSH: stderr; WebSocket: a text frame). */
  notice(text: string): void;
  /** Ends the transport; `code` is the SSH exit status. */
  end(code: number): void;
}

/** Who is attaching, for the seat, the notices and the audit log. */
export interface ViewerIdentity {
  /** Shown to a viewer refused the writer's seat (`key laptop of acme`). */
  readonly who: string;
  /** The audit log's actor (`ssh-key:ID`, a token id). */
  readonly actor: string;
  /** Detail for the audit log: `via`, key name and fingerprint, ... (no secret). */
  readonly detail: Record<string, unknown>;
}

/** Limits of a session. */
export interface ConsoleSessionLimits {
  /** Detach after this long without input from the viewer or output from the console. */
  readonly idleTimeoutMs: number;
}

/** A viewer attached to a console. */
export class ConsoleSession {
  readonly #store: Store;
  readonly #server: Server;
  readonly #identity: ViewerIdentity;
  readonly #transport: ViewerTransport;
  readonly #limits: ConsoleSessionLimits;
  readonly #escape = new EscapeDetector();
  #attachment: ConsoleAttachment | undefined;
  #idle: NodeJS.Timeout | undefined;
  #ended = false;
  #mode: 'read' | 'write' = 'read';

  private constructor(store: Store, server: Server, identity: ViewerIdentity, transport: ViewerTransport, limits: ConsoleSessionLimits) {
    this.#store = store;
    this.#server = server;
    this.#identity = identity;
    this.#transport = transport;
    this.#limits = limits;
  }

  /**
   * Attaches; a refused writer's seat ends the transport with the holder's name (exit status 1) and
   * resolves to undefined.
   */
  static async open(input: {
    store: Store;
    hubs: ConsoleAttacher;
    server: Server;
    write: boolean;
    identity: ViewerIdentity;
    transport: ViewerTransport;
    limits: ConsoleSessionLimits;
    /** Why the gateway chose read-only, when the viewer did not ask for the seat. */
    banner?: string;
  }): Promise<ConsoleSession | undefined> {
    const session = new ConsoleSession(input.store, input.server, input.identity, input.transport, input.limits);
    try {
      session.#attachment = await input.hubs.attach(input.server, session.#viewer(), { write: input.write, who: input.identity.who });
    } catch (error) {
      if (error instanceof LifeboatError && error.code === 'CONSOLE_BUSY') {
        session.#ended = true;
        await input.store.audit.record(input.identity.actor, 'console.refused', { tenantId: input.server.tenantId, serverId: input.server.id, detail: { ...input.identity.detail, mode: 'write', reason: error.message } });
        input.transport.notice(`${error.message}\r\n`);
        input.transport.end(1);
        return undefined;
      }
      throw error;
    }
    session.#mode = session.#attachment.writer ? 'write' : 'read';
    await input.store.audit.record(input.identity.actor, 'console.attach', { tenantId: input.server.tenantId, serverId: input.server.id, detail: { ...input.identity.detail, mode: session.#mode } });
    if (session.#ended) return session;
    input.transport.notice(
      `[lifeboat] console of ${input.server.name}, ${session.#mode === 'write' ? 'writer' : 'read-only'}${input.banner ?? ''}; ~. at the start of a line detaches\r\n`,
    );
    if (session.#attachment.scrollback.length > 0) input.transport.send(session.#attachment.scrollback);
    session.#touch();
    return session;
  }

  #viewer(): ConsoleViewer {
    return {
      onData: (chunk: Buffer) => {
        if (this.#ended) return true;
        this.#touch();
        if (this.#transport.send(chunk)) return true;
        this.#transport.onDrain(() => this.#attachment?.resume());
        return false;
      },
      onClose: (reason: string) => {
        void this.close(`the console closed: ${reason}`, 0, { fromHub: true });
      },
      onStatus: (status) => {
        if (!this.#ended) this.#transport.notice(status === 'reconnecting' ? '\r\n[lifeboat] console connection lost, reconnecting...\r\n' : '\r\n[lifeboat] console connection back\r\n');
      },
    };
  }

  /** The viewer's keystrokes. */
  input(data: Buffer): void {
    if (this.#ended || this.#attachment === undefined) return;
    this.#touch();
    const { forward, detach } = this.#escape.feed(data);
    if (forward.length > 0 && this.#attachment.writer) this.#attachment.write(forward);
    if (detach) void this.close('detached (~.)', 0);
  }

  /** The transport went away (the viewer closed the connection). */
  gone(): void {
    void this.close('the viewer disconnected', 0, { transportGone: true });
  }

  #touch(): void {
    if (this.#idle !== undefined) this.#idle.refresh();
    else {
      this.#idle = setTimeout(() => void this.close(`idle for ${Math.round(this.#limits.idleTimeoutMs / 1000)} s`, 0), this.#limits.idleTimeoutMs);
      this.#idle.unref();
    }
  }

  /** Detaches (once), tells the viewer why, audits it. */
  async close(reason: string, code: number, how: { fromHub?: boolean; transportGone?: boolean } = {}): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#idle);
    if (!how.fromHub) this.#attachment?.detach();
    if (!how.transportGone) {
      this.#transport.notice(`\r\n[lifeboat] ${reason}\r\n`);
      this.#transport.end(code);
    }
    // At shutdown the database may close before the last viewers are told: the detach then goes unrecorded
    // rather than failing the shutdown (the attach is recorded, and the reason is the control plane stopping).
    await this.#store.audit
      .record(this.#identity.actor, 'console.detach', { tenantId: this.#server.tenantId, serverId: this.#server.id, detail: { ...this.#identity.detail, mode: this.#mode, reason } })
      .catch(() => undefined);
  }
}
