/**
 * The `tcp` console driver: a serial port exported as a raw TCP stream (`tcp://HOST:PORT`), as serial
 * concentrators (and QEMU's `-chardev socket`) do. No telnet negotiation: bytes pass as they are.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { LifeboatError, parseConsoleUrl } from '@lifeboat/core';
import type { ConsoleDriver } from './console-driver.js';

/** Options of the TCP serial driver. */
export interface TcpSerialOptions {
  /** Milliseconds to wait for the connection. Default 10 000. */
  readonly connectTimeoutMs?: number;
}

/** A console on a TCP serial port. */
export class TcpSerialDriver implements ConsoleDriver {
  readonly name = 'tcp' as const;
  readonly #url: string;
  readonly #options: TcpSerialOptions;

  constructor(url: string, options: TcpSerialOptions = {}) {
    this.#url = url;
    this.#options = options;
  }

  get target(): string {
    return this.#url;
  }

  async validate(): Promise<void> {
    parseConsoleUrl(this.#url);
  }

  async connect(signal: AbortSignal): Promise<Duplex> {
    const { host, port, url } = parseConsoleUrl(this.#url);
    signal.throwIfAborted();
    const timeoutMs = this.#options.connectTimeoutMs ?? 10_000;
    return new Promise<Duplex>((resolve, reject) => {
      const socket: Socket = tcpConnect({ host, port });
      const timer = setTimeout(() => fail(new LifeboatError('CONSOLE_UNAVAILABLE', `console ${url}: no connection within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
      const onAbort = (): void => fail(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      const cleanup = (): void => {
        clearTimeout(timer);
        socket.off('error', onError);
        socket.off('connect', onConnect);
      };
      const fail = (error: Error): void => {
        cleanup();
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        reject(error);
      };
      const onError = (error: NodeJS.ErrnoException): void => {
        fail(new LifeboatError('CONSOLE_UNAVAILABLE', `console ${url}: ${error.code === 'ECONNREFUSED' ? 'connection refused' : (error.code ?? error.message)}`));
      };
      const onConnect = (): void => {
        cleanup();
        signal.removeEventListener('abort', onAbort);
        socket.setNoDelay(true);
        socket.setKeepAlive(true, 30_000);
        // From now on aborting closes the open console.
        signal.addEventListener('abort', () => socket.destroy(), { once: true });
        resolve(socket);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('error', onError);
      socket.once('connect', onConnect);
    });
  }
}
