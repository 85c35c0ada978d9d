/**
 * Records a server's console while its rescue session enters or leaves rescue: a read-only viewer
 * (`recorder`) on the console hub, the last bytes kept (1 MiB by default) and flushed to the session's
 * row periodically, so a crash of the control plane keeps most of it. The recording of an exit goes on
 * after that of the enter (same session, same log). It stops on its own a little after the session
 * leaves the entering and exiting states (the grace keeps the lines printed right after).
 *
 * The rescue jobs start it (the replica that reboots the server records it, so several replicas never
 * fight over a BMC's single SOL session).
 */
import { LifeboatError, type RescueState, type Server } from '@lifeboat/core';
import type { Store } from '../store/store.js';
import { ByteRing } from './byte-ring.js';
import type { ConsoleAttachment, ConsoleHubs } from './console-hub.js';
import { consoleTail } from './console-text.js';

/** States during which the console is recorded. */
const recordedStates: ReadonlySet<RescueState> = new Set<RescueState>(['rescue_requested', 'preparing_rescue', 'exiting_rescue']);

/** Settings of the recorder. */
export interface ConsoleRecorderOptions {
  readonly hubs: ConsoleHubs;
  readonly store: Store;
  /** Bytes kept per session. Default 1 MiB. */
  readonly maxBytes?: number;
  /** Milliseconds between flushes (and session checks). Default 2 000. */
  readonly flushMs?: number;
  /** Milliseconds recording goes on after the session left the recorded states. Default 5 000. */
  readonly graceMs?: number;
  readonly log?: { info(object: object, message: string): void; warn(object: object, message: string): void };
}

/** Console recordings by session. */
export class ConsoleRecorder {
  readonly #options: ConsoleRecorderOptions;
  readonly #recordings = new Map<string, Recording>();
  #closed = false;

  constructor(options: ConsoleRecorderOptions) {
    this.#options = options;
  }

  /** Starts recording a session's console, unless it is already being recorded here. */
  record(server: Server, sessionId: string): void {
    if (this.#closed || this.#recordings.get(sessionId)?.running) return;
    const recording = new Recording(server, sessionId, this.#options, () => {
      if (this.#recordings.get(sessionId) === recording) this.#recordings.delete(sessionId);
    });
    this.#recordings.set(sessionId, recording);
    recording.start();
  }

  /**
   * The last lines of a session's console, cleaned of escape sequences (for a failure's reason), from
   * the live recording or the stored log; null when none was recorded.
   */
  async tail(sessionId: string, lines = 3): Promise<string | null> {
    const live = this.#recordings.get(sessionId);
    if (live) return consoleTail(live.bytes(), lines);
    const stored = await this.#options.store.consoleLogs.forSession(sessionId);
    return stored ? consoleTail(stored.data, lines) : null;
  }

  /**
   * How many bytes the live recording of a session has taken in so far (the stored log it continues
   * included): a mark for {@link since}. Null when the session is not being recorded here.
   */
  async position(sessionId: string): Promise<number | null> {
    const live = this.#recordings.get(sessionId);
    return live ? live.position() : null;
  }

  /**
   * What the live recording of a session took in after `mark` (from {@link position}), as far as it
   * still holds it; null when the session is not being recorded here.
   */
  since(sessionId: string, mark: number): Buffer | null {
    return this.#recordings.get(sessionId)?.since(mark) ?? null;
  }

  /** Stops every recording here, flushing what it holds. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#recordings.values()].map((recording) => recording.stop()));
  }
}

/** One session's recording. */
class Recording {
  readonly #server: Server;
  readonly #sessionId: string;
  readonly #options: ConsoleRecorderOptions;
  readonly #onStop: () => void;
  readonly #ring: ByteRing;
  #startedAt = new Date();
  #attachment: ConsoleAttachment | null = null;
  #attaching = false;
  #dirty = false;
  #leftAt: number | null = null;
  #timer: NodeJS.Timeout | null = null;
  #ticking: Promise<void> = Promise.resolve();
  #loaded: Promise<void> = Promise.resolve();
  #warned = false;
  /** Failed attaches in a row, and when the next may be tried: a console that is down is not hammered. */
  #failures = 0;
  #nextAttemptAt = 0;
  /** Bytes the stored log had already dropped when this recording continued it. */
  #droppedBefore = 0;
  running = false;

  constructor(server: Server, sessionId: string, options: ConsoleRecorderOptions, onStop: () => void) {
    this.#server = server;
    this.#sessionId = sessionId;
    this.#options = options;
    this.#onStop = onStop;
    this.#ring = new ByteRing(options.maxBytes ?? 1024 * 1024);
  }

  bytes(): Buffer {
    return this.#ring.snapshot();
  }

  /** Bytes taken in so far, once the stored log this recording continues is loaded. */
  async position(): Promise<number> {
    await this.#loaded;
    return this.#ring.total;
  }

  /** The bytes taken in after `mark` that the ring still holds. */
  since(mark: number): Buffer {
    const after = Math.max(0, this.#ring.total - mark);
    const held = this.#ring.snapshot();
    return held.subarray(held.length - Math.min(after, held.length));
  }

  start(): void {
    this.running = true;
    this.#loaded = this.#load();
    this.#ticking = this.#loaded.then(() => this.#attach());
    this.#timer = setInterval(() => {
      this.#ticking = this.#ticking.then(() => this.#tick());
    }, this.#options.flushMs ?? 2000);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.#timer !== null) clearInterval(this.#timer);
    await this.#ticking.catch(() => undefined);
    this.#attachment?.detach();
    this.#attachment = null;
    await this.#flush();
    this.#onStop();
  }

  /** Continues the session's log (an exit after the enter) instead of replacing it. */
  async #load(): Promise<void> {
    try {
      const stored = await this.#options.store.consoleLogs.forSession(this.#sessionId);
      if (stored) {
        this.#startedAt = stored.startedAt;
        this.#droppedBefore = stored.dropped;
        this.#ring.push(stored.data);
      }
    } catch (error) {
      this.#options.log?.warn({ server: this.#server.name, session: this.#sessionId, err: error }, 'could not read the stored console log');
    }
  }

  async #attach(): Promise<void> {
    if (!this.running || this.#attachment !== null || this.#attaching) return;
    this.#attaching = true;
    try {
      this.#attachment = await this.#options.hubs.attach(
        this.#server,
        {
          onData: (chunk) => {
            this.#ring.push(chunk);
            this.#dirty = true;
          },
          onClose: () => {
            this.#attachment = null;
          },
        },
        { write: false, who: 'recorder' },
      );
      this.#failures = 0;
      if (!this.running) {
        this.#attachment.detach();
        this.#attachment = null;
      }
    } catch (error) {
      this.#failures++;
      this.#nextAttemptAt = Date.now() + Math.min(30_000, 1000 * 2 ** this.#failures);
      if (error instanceof LifeboatError && error.code === 'CONSOLE_INVALID') {
        this.#options.log?.info({ server: this.#server.name, session: this.#sessionId }, `console not recorded: ${error.message}`);
        void this.stop();
        return;
      }
      // Unreachable now (a BMC busy rebooting): tried again with backoff (2 s doubling to 30 s); warn once.
      if (!this.#warned) {
        this.#warned = true;
        this.#options.log?.warn({ server: this.#server.name, session: this.#sessionId, reason: error instanceof Error ? error.message : String(error) }, 'console not reachable yet; recording retries');
      }
    } finally {
      this.#attaching = false;
    }
  }

  async #tick(): Promise<void> {
    if (!this.running) return;
    await this.#flush();
    const session = await this.#options.store.sessions.byId(this.#sessionId).catch(() => undefined);
    const recorded = session !== undefined && session.endedAt === null && recordedStates.has(session.state);
    if (recorded) this.#leftAt = null;
    else {
      this.#leftAt ??= Date.now();
      if (Date.now() - this.#leftAt >= (this.#options.graceMs ?? 5000)) {
        void this.stop();
        return;
      }
    }
    if (this.#attachment === null && Date.now() >= this.#nextAttemptAt) await this.#attach();
  }

  async #flush(): Promise<void> {
    if (!this.#dirty) return;
    this.#dirty = false;
    try {
      await this.#options.store.consoleLogs.save({
        sessionId: this.#sessionId,
        serverId: this.#server.id,
        data: this.#ring.snapshot(),
        dropped: this.#droppedBefore + this.#ring.dropped,
        startedAt: this.#startedAt,
      });
    } catch (error) {
      this.#dirty = true;
      this.#options.log?.warn({ server: this.#server.name, session: this.#sessionId, err: error }, 'could not store the console log');
    }
  }
}
