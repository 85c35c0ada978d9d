import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';

/** Where one lab server's serial fan-out reads and serves. */
export interface SerialFanoutOptions {
  /** QEMU's serial socket (`-chardev socket,path=...,server=on`): one client at a time. */
  readonly socketPath: string;
  /** TCP port on 127.0.0.1 that serves the serial line to any number of clients (0: any free port). */
  readonly port: number;
  /** How often to try QEMU's socket again while it is absent (the VM off or starting); default 20 ms: QEMU's socket appears a moment before the firmware's first line. */
  readonly retryMs?: number;
  /** Bytes a client may have pending before it is disconnected as too slow (default 1 MiB). */
  readonly maxPendingBytes?: number;
}

/**
 * A serial port shared like a serial concentrator shares one: the only connection to QEMU's serial
 * socket (which serves one client), and a TCP port on loopback where every client gets every byte the
 * port prints, in order, and what any client writes goes to the port. The TCP side stays up while the
 * VM is powered off and on again (QEMU's socket goes and comes back with the process): ipmi_sim's SOL
 * and the control plane's `tcp://` console keep their connection across reboots and power cycles,
 * as they would on a real server.
 */
export class SerialFanout {
  readonly #options: SerialFanoutOptions;
  readonly #server: Server;
  readonly #clients = new Set<Socket>();
  #upstream: Socket | null = null;
  #retry: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: SerialFanoutOptions) {
    this.#options = options;
    this.#server = createServer((client) => this.#accept(client));
  }

  /** Listens on 127.0.0.1 and starts reaching QEMU's socket; resolves with the TCP port. */
  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port, '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#connectUpstream();
    return this.port;
  }

  /** The TCP port served. */
  get port(): number {
    const address = this.#server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  /** Whether QEMU's serial socket is connected now. */
  get connected(): boolean {
    return this.#upstream !== null;
  }

  /** Number of TCP clients connected now. */
  get clients(): number {
    return this.#clients.size;
  }

  /** Closes the TCP port, every client and the connection to QEMU. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#upstream?.destroy();
    for (const client of this.#clients) client.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    client.setNoDelay(true);
    this.#clients.add(client);
    client.on('data', (chunk: Buffer) => this.#upstream?.write(chunk));
    client.on('error', () => undefined);
    client.on('close', () => this.#clients.delete(client));
  }

  #connectUpstream(): void {
    if (this.#stopped) return;
    const socket = connect(this.#options.socketPath);
    let up = false;
    socket.once('connect', () => {
      up = true;
      this.#upstream = socket;
    });
    socket.on('data', (chunk: Buffer) => this.#broadcast(chunk));
    socket.on('error', () => undefined);
    socket.once('close', () => {
      if (up) this.#upstream = null;
      if (this.#stopped) return;
      this.#retry = setTimeout(() => this.#connectUpstream(), this.#options.retryMs ?? 20);
    });
  }

  #broadcast(chunk: Buffer): void {
    const limit = this.#options.maxPendingBytes ?? 1024 * 1024;
    for (const client of this.#clients) {
      // A serial port cannot wait: a client that does not read is cut off, the others go on.
      if (client.writableLength > limit) client.destroy();
      else client.write(chunk);
    }
  }
}
