/**
 * Tells whether a server's installed system answers on its SSH endpoint again after an exit: an SSH
 * banner, and none of the rescue system's host keys (the rescue sshd answers on the same endpoint
 * until the reboot takes effect). Host keys are read with `ssh-keyscan`, a real SSH client.
 */
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import type { HostKey, SshEndpoint } from '@lifeboat/core';

/** Reads the SSH banner; resolves to it, or null when nothing SSH-like answered in `timeoutMs`. */
export function sshBanner(endpoint: SshEndpoint, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: endpoint.host, port: endpoint.port });
    let data = '';
    const finish = (value: string | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      data += chunk;
      const line = data.split(/\r?\n/).find((l) => l.startsWith('SSH-'));
      if (line) finish(line.trim());
      else if (data.length > 4096) finish(null);
    });
    socket.on('error', () => finish(null));
    socket.on('close', () => finish(null));
  });
}

/** Public keys (`type base64`) the endpoint serves, through `ssh-keyscan`. */
export function scanHostKeys(endpoint: SshEndpoint, timeoutSeconds = 5): Promise<string[]> {
  return new Promise((resolve) => {
    execFile('ssh-keyscan', ['-T', String(timeoutSeconds), '-p', String(endpoint.port), endpoint.host], { timeout: (timeoutSeconds + 2) * 1000 }, (error, stdout) => {
      if (error && !stdout) return resolve([]);
      resolve(
        stdout
          .split('\n')
          .filter((line) => line && !line.startsWith('#'))
          .map((line) => line.split(/\s+/).slice(1, 3).join(' ')),
      );
    });
  });
}

/** Whether the endpoint answers as something other than the rescue system with these host keys. */
export async function installedSystemAnswers(endpoint: SshEndpoint, rescueHostKeys: readonly HostKey[]): Promise<boolean> {
  if ((await sshBanner(endpoint, 3000)) === null) return false;
  return rescueHostKeys.length === 0 || servesOtherKeys(endpoint, rescueHostKeys);
}

/** Whether the endpoint serves host keys, none of them the rescue system's. */
async function servesOtherKeys(endpoint: SshEndpoint, rescueHostKeys: readonly HostKey[]): Promise<boolean> {
  const rescue = new Set(rescueHostKeys.map((k) => k.publicKey.trim().split(/\s+/).slice(0, 2).join(' ')));
  const served = await scanHostKeys(endpoint);
  return served.length > 0 && !served.some((key) => rescue.has(key));
}

/**
 * Whether the rescue system with these host keys has left the endpoint: nothing answers SSH there, or
 * what answers serves none of its keys (after an exit to a system that does not answer SSH: Windows).
 * Without known rescue keys, only silence tells.
 */
export async function rescueSystemGone(endpoint: SshEndpoint, rescueHostKeys: readonly HostKey[]): Promise<boolean> {
  if ((await sshBanner(endpoint, 3000)) === null) return true;
  return rescueHostKeys.length > 0 && servesOtherKeys(endpoint, rescueHostKeys);
}
