/**
 * The control plane's way to a rescue's desktop: an SSH connection to the rescue system's sshd with the
 * desktop client key, whose host key must be one the session's agent reported (the control plane signed
 * certificates for exactly those), then a `direct-tcpip` channel to 127.0.0.1:5900 of the rescue, where
 * its VNC server listens. The agent's `authorized_keys` line allows that forward and nothing else.
 */
import { LifeboatError, desktopVncPort } from '@lifeboat/core';
import ssh2 from 'ssh2';
import type { Duplex } from 'node:stream';

/** Where the rescue is and what to trust. */
export interface DesktopTarget {
  readonly host: string;
  readonly port: number;
  /** The desktop client key's private half. */
  readonly privateKey: string;
  /** The host keys the agent reported (`TYPE BASE64`): the rescue must present one of them. */
  readonly hostKeys: readonly string[];
  /** How long the SSH handshake and the forward may take (default 15 s). */
  readonly timeoutMs?: number;
}

/** An open forward to the rescue's VNC server. */
export interface DesktopTunnel {
  /** The RFB byte stream. */
  readonly stream: Duplex;
  /** Closes the channel and the SSH connection. */
  close(): void;
}

function keyBlob(line: string): Buffer | undefined {
  const blob = line.trim().split(/\s+/)[1];
  return blob === undefined ? undefined : Buffer.from(blob, 'base64');
}

/** Opens the forward; `DESKTOP_UNREACHABLE` (with what failed, no secret) when it cannot. */
export function openDesktopTunnel(target: DesktopTarget): Promise<DesktopTunnel> {
  const trusted = target.hostKeys.map(keyBlob).filter((b): b is Buffer => b !== undefined && b.length > 0);
  const where = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let settled = false;
    let hostKeyRefused = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.end();
      reject(new LifeboatError('DESKTOP_UNREACHABLE', message));
    };
    const timer = setTimeout(() => fail(`the rescue system's sshd at ${where} did not answer in time`), target.timeoutMs ?? 15_000);
    client.on('error', (error: Error & { level?: string }) => {
      if (hostKeyRefused) fail(`the rescue system at ${where} presented a host key its agent did not report: refused`);
      else if (error.level === 'client-authentication') fail(`the rescue system at ${where} refused the control plane's desktop key (its agent has not authorized it yet)`);
      else fail(`the rescue system's sshd at ${where} cannot be reached (${error.message})`);
    });
    client.on('close', () => fail(`the rescue system at ${where} closed the connection`));
    client.on('ready', () => {
      client.forwardOut('127.0.0.1', 0, '127.0.0.1', desktopVncPort, (error, channel) => {
        if (error) return fail(`the rescue's desktop is not running (its VNC server refused the connection: ${error.message})`);
        if (settled) return channel.close();
        settled = true;
        clearTimeout(timer);
        channel.once('close', () => client.end());
        resolve({ stream: channel, close: () => {
          channel.close();
          client.end();
        } });
      });
    });
    client.connect({
      host: target.host,
      port: target.port,
      username: 'root',
      privateKey: target.privateKey,
      hostVerifier: (key: Buffer) => {
        const known = trusted.some((blob) => blob.equals(key));
        hostKeyRefused = !known;
        return known;
      },
      readyTimeout: target.timeoutMs ?? 15_000,
      keepaliveInterval: 15_000,
      keepaliveCountMax: 4,
    });
  });
}
