/**
 * What the rescue system's kernel command line tells the agent: where the control plane is, which
 * server this is, and the one-time boot token. Nothing else (never a password or key) is read from it.
 */

/** The agent's boot parameters from `/proc/cmdline`. */
export interface BootParams {
  /** The control plane's base URL (`lifeboat.url`), without a trailing slash. */
  readonly url: string;
  /** The server's id (`lifeboat.server`). */
  readonly serverId: string;
  /** The one-time boot token (`lifeboat.token`): redeemed once, useless afterwards. */
  readonly bootToken: string;
}

/** Raised when the command line lacks a parameter the agent needs; the message names it, never a value. */
export class BootParamsError extends Error {
  readonly code = 'BOOT_PARAMS_MISSING';
  constructor(message: string) {
    super(message);
    this.name = 'BootParamsError';
  }
}

/**
 * Splits a kernel command line into `key=value` words the way the kernel does: whitespace separates
 * words, double quotes group a value containing spaces (`key="a b"`), a bare word has the value `''`.
 */
export function parseCmdline(text: string): Map<string, string> {
  const params = new Map<string, string>();
  const words = text.match(/(?:[^\s"]+|"[^"]*")+/g) ?? [];
  for (const word of words) {
    const eq = word.indexOf('=');
    const key = eq < 0 ? word : word.slice(0, eq);
    const value = eq < 0 ? '' : word.slice(eq + 1).replace(/"/g, '');
    params.set(key.replace(/"/g, ''), value);
  }
  return params;
}

/** The agent's parameters from a kernel command line; throws `BootParamsError` naming what is missing. */
export function bootParamsFrom(cmdline: string): BootParams {
  const params = parseCmdline(cmdline);
  const missing = ['lifeboat.url', 'lifeboat.server', 'lifeboat.token'].filter((k) => !params.get(k));
  if (missing.length > 0) throw new BootParamsError(`kernel command line lacks ${missing.join(', ')}`);
  const url = params.get('lifeboat.url') as string;
  if (!/^https?:\/\/[^/]/.test(url)) throw new BootParamsError('lifeboat.url is not an http(s) URL');
  return {
    url: url.replace(/\/+$/, ''),
    serverId: params.get('lifeboat.server') as string,
    bootToken: params.get('lifeboat.token') as string,
  };
}
