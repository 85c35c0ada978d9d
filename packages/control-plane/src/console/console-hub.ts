/**
 * The consoles of the servers as viewers see them: one driver connection per server, shared by every
 * viewer (an IPMI BMC allows one SOL session), opened on the first attach, closed a short while after
 * the last viewer leaves, reopened with backoff when it drops while viewers remain. Each console keeps
 * a bounded scrollback given to a viewer on attach, and one writer seat.
 *
 * Bytes reach every viewer in the order the console printed them. A viewer that cannot keep up says so
 * (`onData` returns false); the hub then queues its bytes, bounded, until it calls `resume()`. A viewer
 * whose queue overflows is detached with a reason: a slow reader never grows the hub's memory.
 */
import type { Duplex } from 'node:stream';
import { LifeboatError, type Server } from '@lifeboat/core';
import { ByteRing } from './byte-ring.js';
import type { ConsoleDriverFactory } from './console-driver.js';

/** One watcher of a console (an SSH channel, a WebSocket, the recorder). */
export interface ConsoleViewer {
  /**
   * Bytes the console printed, in order. Return `false` when this viewer cannot take more now: the hub
   * then holds further bytes for it (bounded) until `attachment.resume()`.
   */
  onData(chunk: Buffer): void | boolean;
  /** The attachment ended (detached by the hub: console gone, too slow, control plane stopping). */
  onClose(reason: string): void;
  /** The console connection dropped (`reconnecting`) or is back (`connected`); bytes may have been missed between. */
  onStatus?(status: 'reconnecting' | 'connected'): void;
}

/** A viewer's hold on a console. */
export interface ConsoleAttachment {
  /** The console's recent output at the moment of attaching (at most the scrollback size). */
  readonly scrollback: Buffer;
  /** Whether this attachment holds the writer seat. */
  readonly writer: boolean;
  /** Types bytes into the console (writer only: others get `FORBIDDEN`). Dropped while the console reconnects. */
  write(data: Buffer): void;
  /** The viewer takes bytes again after `onData` returned false: queued bytes are delivered first. */
  resume(): void;
  /** Bytes waiting for this viewer (see `resume`). */
  readonly queuedBytes: number;
  /** Leaves the console (frees the writer seat); idempotent. */
  detach(): void;
}

/** Who is on a server's console now. */
export interface ConsoleOccupancy {
  readonly connected: boolean;
  readonly viewers: ReadonlyArray<{ readonly who: string; readonly writer: boolean; readonly since: Date }>;
}

/** Settings of the hubs. */
export interface ConsoleHubOptions {
  /** The driver of a server's console. */
  readonly drivers: ConsoleDriverFactory;
  /** Scrollback kept per console, in bytes. Default 64 KiB. */
  readonly scrollbackBytes?: number;
  /** Bytes held for a viewer that does not keep up before it is detached. Default 1 MiB. */
  readonly viewerQueueBytes?: number;
  /** Milliseconds the connection stays open after the last viewer left. Default 5 000. */
  readonly lingerMs?: number;
  /** Reconnection backoff: first wait and longest wait, in milliseconds. Default 500 and 15 000. */
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
  /** Where connection drops and reconnects are reported (no console bytes go there). */
  readonly log?: { info(object: object, message: string): void; warn(object: object, message: string): void };
}

/** The consoles of all servers; one per control plane. */
export class ConsoleHubs {
  readonly #options: ConsoleHubOptions;
  readonly #hubs = new Map<string, Hub>();
  #closed = false;

  constructor(options: ConsoleHubOptions) {
    this.#options = options;
  }

  /**
   * Attaches a viewer to a server's console, connecting it when nobody watches it yet. Throws
   * `CONSOLE_BUSY` when `write` is asked and someone holds the writer seat (the message names who),
   * `CONSOLE_UNAVAILABLE` when the console cannot be reached, `CONSOLE_INVALID` when it is not set up.
   */
  async attach(server: Server, viewer: ConsoleViewer, options: { write: boolean; who: string }): Promise<ConsoleAttachment> {
    if (this.#closed) throw new LifeboatError('CONSOLE_UNAVAILABLE', 'the control plane is stopping');
    let hub = this.#hubs.get(server.id);
    if (hub === undefined || hub.finished) {
      const driver = this.#options.drivers(server);
      await driver.validate();
      hub = this.#hubs.get(server.id);
      if (hub === undefined || hub.finished) {
        const created = new Hub(server, driver, this.#options, () => {
          if (this.#hubs.get(server.id) === created) this.#hubs.delete(server.id);
        });
        this.#hubs.set(server.id, created);
        hub = created;
      }
    }
    return hub.attach(viewer, options);
  }

  /** Who watches a server's console now (empty when nobody). */
  occupancy(server: Pick<Server, 'id'>): ConsoleOccupancy {
    return this.#hubs.get(server.id)?.occupancy() ?? { connected: false, viewers: [] };
  }

  /** Detaches every viewer and closes every console connection. */
  async close(): Promise<void> {
    this.#closed = true;
    const hubs = [...this.#hubs.values()];
    this.#hubs.clear();
    await Promise.all(hubs.map((hub) => hub.shutdown('the control plane is stopping')));
  }
}

/** One viewer's place in a hub. */
interface Seat {
  readonly viewer: ConsoleViewer;
  readonly who: string;
  readonly writer: boolean;
  readonly since: Date;
  /** Bytes held while the viewer is backed up; null while it keeps up. */
  queue: Buffer[] | null;
  queued: number;
  attached: boolean;
}

/** One server's console: its connection, scrollback, viewers and writer seat. */
class Hub {
  readonly #server: Server;
  readonly #driver: ReturnType<ConsoleDriverFactory>;
  readonly #options: ConsoleHubOptions;
  readonly #onFinish: () => void;
  readonly #ring: ByteRing;
  readonly #seats = new Set<Seat>();
  #writer: Seat | null = null;
  #stream: Duplex | null = null;
  #connecting: Promise<void> | null = null;
  #abort = new AbortController();
  #linger: NodeJS.Timeout | null = null;
  #retry: NodeJS.Timeout | null = null;
  #failures = 0;
  finished = false;

  constructor(server: Server, driver: ReturnType<ConsoleDriverFactory>, options: ConsoleHubOptions, onFinish: () => void) {
    this.#server = server;
    this.#driver = driver;
    this.#options = options;
    this.#onFinish = onFinish;
    this.#ring = new ByteRing(options.scrollbackBytes ?? 64 * 1024);
  }

  async attach(viewer: ConsoleViewer, options: { write: boolean; who: string }): Promise<ConsoleAttachment> {
    this.#checkWriter(options.write);
    if (this.#linger !== null) {
      clearTimeout(this.#linger);
      this.#linger = null;
    }
    // Placeholder seat: keeps the connection from lingering away while we wait for it.
    const pending = { viewer, who: options.who, writer: false, since: new Date(), queue: null, queued: 0, attached: false } satisfies Seat;
    this.#seats.add(pending);
    try {
      if (this.#stream === null) await this.#connect();
    } catch (error) {
      this.#seats.delete(pending);
      this.#maybeLinger();
      throw error;
    }
    this.#seats.delete(pending);
    // The seat may have been taken while we waited for the connection.
    this.#checkWriter(options.write);
    if (this.finished) throw new LifeboatError('CONSOLE_UNAVAILABLE', `the console of ${this.#server.name} closed`);
    const seat: Seat = { viewer, who: options.who, writer: options.write, since: new Date(), queue: null, queued: 0, attached: true };
    this.#seats.add(seat);
    if (seat.writer) this.#writer = seat;
    // Synchronously with joining the viewers: no byte lands between the scrollback and the first onData.
    const scrollback = this.#ring.snapshot();
    const hub = this;
    return {
      scrollback,
      writer: seat.writer,
      get queuedBytes() {
        return seat.queued;
      },
      write(data: Buffer) {
        if (!seat.attached) throw new LifeboatError('CONSOLE_UNAVAILABLE', 'this console attachment has ended');
        if (!seat.writer) throw new LifeboatError('FORBIDDEN', 'read-only console: attach with write to type');
        hub.#stream?.write(data);
      },
      resume() {
        hub.#resume(seat);
      },
      detach() {
        hub.#detach(seat);
      },
    };
  }

  occupancy(): ConsoleOccupancy {
    return {
      connected: this.#stream !== null,
      viewers: [...this.#seats].filter((s) => s.attached).map((s) => ({ who: s.who, writer: s.writer, since: s.since })),
    };
  }

  async shutdown(reason: string): Promise<void> {
    for (const seat of [...this.#seats]) this.#kick(seat, reason);
    this.#finish();
  }

  #checkWriter(write: boolean): void {
    if (write && this.#writer !== null) {
      throw new LifeboatError('CONSOLE_BUSY', `the console of ${this.#server.name} is being written by ${this.#writer.who} (since ${this.#writer.since.toISOString()}); attach read-only, or ask them to detach`);
    }
  }

  /** Opens the driver connection once, however many attach at the same time. */
  #connect(): Promise<void> {
    this.#connecting ??= (async () => {
      try {
        const stream = await this.#driver.connect(this.#abort.signal);
        if (this.finished) {
          stream.destroy();
          throw new LifeboatError('CONSOLE_UNAVAILABLE', `the console of ${this.#server.name} closed`);
        }
        this.#adopt(stream);
      } finally {
        this.#connecting = null;
      }
    })();
    return this.#connecting;
  }

  #adopt(stream: Duplex): void {
    this.#stream = stream;
    const openedAt = Date.now();
    stream.on('data', (chunk: Buffer) => this.#deliver(chunk));
    stream.on('error', () => undefined);
    stream.once('close', () => {
      if (this.#stream !== stream) return;
      this.#stream = null;
      // A connection that held a while was healthy: start the backoff again from its first step.
      if (Date.now() - openedAt > 10_000) this.#failures = 0;
      if (this.finished) return;
      if ([...this.#seats].some((s) => s.attached)) {
        this.#options.log?.warn({ server: this.#server.name, console: this.#driver.target }, 'console connection dropped; reconnecting');
        for (const seat of this.#seats) if (seat.attached) seat.viewer.onStatus?.('reconnecting');
        this.#scheduleReconnect();
      } else {
        this.#finish();
      }
    });
  }

  #scheduleReconnect(): void {
    const backoff = this.#options.backoff ?? { baseMs: 500, maxMs: 15_000 };
    const wait = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(this.#failures, 20));
    this.#failures++;
    this.#retry = setTimeout(() => {
      this.#retry = null;
      if (this.finished) return;
      this.#connect().then(
        () => {
          this.#options.log?.info({ server: this.#server.name, console: this.#driver.target }, 'console reconnected');
          for (const seat of this.#seats) if (seat.attached) seat.viewer.onStatus?.('connected');
        },
        () => {
          if (!this.finished && [...this.#seats].some((s) => s.attached)) this.#scheduleReconnect();
          else this.#finish();
        },
      );
    }, wait);
  }

  #deliver(chunk: Buffer): void {
    this.#ring.push(chunk);
    const limit = this.#options.viewerQueueBytes ?? 1024 * 1024;
    for (const seat of this.#seats) {
      if (!seat.attached) continue;
      if (seat.queue !== null) {
        seat.queue.push(chunk);
        seat.queued += chunk.length;
        if (seat.queued > limit) this.#kick(seat, `too slow: more than ${Math.round(limit / 1024)} KiB of console output waiting`);
        continue;
      }
      if (this.#give(seat, chunk) === false) seat.queue = [];
    }
  }

  /** Hands bytes to a viewer; a throwing viewer is detached rather than stopping the others. */
  #give(seat: Seat, chunk: Buffer): void | boolean {
    try {
      return seat.viewer.onData(chunk);
    } catch {
      this.#kick(seat, 'the viewer failed');
      return undefined;
    }
  }

  #resume(seat: Seat): void {
    while (seat.attached && seat.queue !== null) {
      const next = seat.queue.shift();
      if (next === undefined) {
        seat.queue = null;
        break;
      }
      seat.queued -= next.length;
      if (this.#give(seat, next) === false) break;
    }
  }

  #kick(seat: Seat, reason: string): void {
    if (!seat.attached) return;
    this.#detach(seat);
    try {
      seat.viewer.onClose(reason);
    } catch {
      // Nothing more to tell a viewer that cannot hear.
    }
  }

  #detach(seat: Seat): void {
    if (!seat.attached) return;
    seat.attached = false;
    seat.queue = null;
    seat.queued = 0;
    this.#seats.delete(seat);
    if (this.#writer === seat) this.#writer = null;
    this.#maybeLinger();
  }

  #maybeLinger(): void {
    if (this.finished || this.#seats.size > 0 || this.#linger !== null) return;
    this.#linger = setTimeout(() => {
      this.#linger = null;
      if (this.#seats.size === 0) this.#finish();
    }, this.#options.lingerMs ?? 5000);
  }

  #finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.#linger !== null) clearTimeout(this.#linger);
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#abort.abort(new LifeboatError('CONSOLE_UNAVAILABLE', 'console closed'));
    this.#stream?.destroy();
    this.#stream = null;
    this.#onFinish();
  }
}
