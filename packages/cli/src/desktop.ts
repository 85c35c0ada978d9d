/**
 * `lifeboat desktop NAME`: the rescue desktop of a server (issue 16), how to open it; `--listen`: a local
 * VNC port relayed to it through the control plane's desktop WebSocket, with the caller's token, for a
 * VNC viewer of one's own when SSH to the rescue is not at hand. The port has no VNC password (the
 * control plane's authentication is the gate), so it listens on a loopback address only.
 */
import { createServer, isIPv4, isIPv6, type Socket } from 'node:net';
import WebSocket from 'ws';
import { desktopVncPort, type DesktopView } from '@lifeboat/core';
import { clientFor, tokenFor, type CommonOptions } from './context.js';
import { CliError, exitCodes, usageError } from './errors.js';
import { block } from './format.js';
import type { Run } from './commands.js';

const reasons: Record<NonNullable<DesktopView['reason']>, (name: string) => string> = {
  'not-in-rescue': (name) => `not in rescue: lifeboat rescue enter ${name} --profile windows`,
  'no-desktop-profile': (name) => `its rescue has no desktop (only the windows profile has one): lifeboat rescue exit ${name}, then rescue enter ${name} --profile windows`,
  'no-ssh-endpoint': () => 'no SSH address registered for it: ask your provider',
  'no-host-keys': () => 'the rescue system is still starting: try again in a moment',
};

/** `lifeboat desktop NAME [--listen HOST:PORT]`. */
export async function desktop(name: string, options: CommonOptions & { listen?: string }, { env, out }: Run): Promise<void> {
  const client = clientFor(options, env);
  const view = await client.getDesktop(name);
  if (options.listen === undefined) {
    const text = view.available
      ? block([
          ['desktop', `available (rescue profile ${view.profile})`],
          ['browser', `${client.url}/servers/${encodeURIComponent(name)}/desktop`],
          ['ssh tunnel', view.tunnel ? `${view.tunnel}   then: vncviewer localhost:${desktopVncPort}` : null],
          ['relay', `lifeboat desktop ${name} --listen 127.0.0.1:${desktopVncPort}   then: vncviewer localhost:${desktopVncPort}`],
          ['viewers', `${view.viewers} now (at most ${view.viewerLimit} per control plane)`],
        ])
      : `${name} has no desktop now: ${view.reason ? reasons[view.reason](name) : 'unknown reason'}`;
    out.result(view, text);
    return;
  }
  const { host, port } = listenAddress(options.listen);
  if (!view.available) throw new CliError('DESKTOP_UNAVAILABLE', `${name} has no desktop now: ${view.reason ? reasons[view.reason](name) : 'unknown reason'}`, exitCodes.refused);
  await relay({ host, port, url: `${client.url.replace(/^http/, 'ws')}${view.websocket}`, token: tokenFor(options, env), name, log: (line) => process.stderr.write(`${line}\n`) });
}

/** `HOST:PORT` on a loopback address (`127.0.0.1:5900`, `[::1]:5901`, `localhost:5900`). */
export function listenAddress(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) throw usageError(`--listen ${value}: expected HOST:PORT, e.g. 127.0.0.1:${desktopVncPort}`);
  const loopback = host === 'localhost' || (isIPv4(host) && host.startsWith('127.')) || (isIPv6(host) && host === '::1');
  if (!loopback) throw usageError(`--listen ${value}: the relay has no VNC password, so it listens on a loopback address only (127.0.0.1, ::1)`);
  return { host, port };
}

/** Relays each TCP connection to a new desktop WebSocket until SIGINT or SIGTERM. */
async function relay(options: { host: string; port: number; url: string; token: string | undefined; name: string; log: (line: string) => void }): Promise<void> {
  const sockets = new Set<Socket>();
  const server = createServer((tcp) => {
    sockets.add(tcp);
    tcp.pause();
    const ws = new WebSocket(options.url, { headers: options.token ? { authorization: `Bearer ${options.token}` } : {} });
    const end = () => {
      sockets.delete(tcp);
      tcp.destroy();
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.terminate();
    };
    ws.on('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk));
      response.on('end', () => {
        const answer = (() => {
          try {
            return JSON.parse(body) as { code?: string; message?: string };
          } catch {
            return {};
          }
        })();
        options.log(`lifeboat: the control plane refused the desktop: ${answer.code ?? `HTTP ${response.statusCode}`} ${answer.message ?? ''}`.trimEnd());
        end();
      });
    });
    ws.on('open', () => {
      tcp.on('data', (data) => ws.send(data, { binary: true }));
      tcp.resume();
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return;
      if (!tcp.write(data)) {
        ws.pause();
        tcp.once('drain', () => ws.resume());
      }
    });
    ws.on('close', (code, reason) => {
      if (code !== 1000 && code !== 1005) options.log(`lifeboat: the desktop closed (${code} ${reason.toString()})`);
      end();
    });
    ws.on('error', (error) => {
      if (error.message.startsWith('Unexpected server response')) return;
      options.log(`lifeboat: desktop connection: ${error.message}`);
      end();
    });
    tcp.on('close', end);
    tcp.on('error', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? usageError(`--listen ${options.host}:${options.port}: the port is in use (another VNC server or relay?)`) : error),
    );
    server.listen(options.port, options.host, resolve);
  });
  const address = server.address();
  const shown = typeof address === 'object' && address ? `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : `${options.host}:${options.port}`;
  options.log(`lifeboat: the desktop of ${options.name} on ${shown}: point a VNC viewer at it (no VNC password). Ctrl-C ends.`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
