/**
 * A small real TCP proxy for fault tests: it forwards 127.0.0.1:PORT to a target (PostgreSQL on
 * 127.0.0.1:5432) and can cut the link, as a network outage or a database that went away would:
 * existing connections are closed and new ones refused, until `restore()`. The target itself (a
 * database other tests share) is never touched.
 */
import { createConnection, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/** A running proxy. */
export interface TcpProxy {
  /** The local port clients connect to (the same across cuts). */
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Closes every open connection (both sides) and refuses new ones. */
  cut(): Promise<void>;
  /** Accepts and forwards connections again, on the same port. */
  restore(): Promise<void>;
  /** Cuts and stops for good. */
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 (a free port) to `target`. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let accepted = 0;
  const server = createServer((client) => {
    accepted++;
    const upstream = createConnection(target);
    open.add(client);
    open.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  let listening = true;

  const cut = async (): Promise<void> => {
    if (listening) {
      listening = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of open) socket.destroy();
      open.clear();
      await closed;
    }
  };
  return {
    port,
    get accepted() {
      return accepted;
    },
    cut,
    restore: () =>
      new Promise<void>((resolve, reject) => {
        if (listening) return resolve();
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          listening = true;
          resolve();
        });
      }),
    close: cut,
  };
}
