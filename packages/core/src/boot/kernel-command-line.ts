/**
 * The rescue system's kernel command line: written by the control plane into the iPXE script, read by
 * the initrd (`lifeboat.rootfs`) and by the agent (`lifeboat.url`, `lifeboat.server`, `lifeboat.token`).
 * One module for both ends, so that the format cannot drift. Plain code: the agent bundles it for QuickJS.
 *
 * Quoting follows the kernel (`parse_args` / `next_arg`): words are separated by whitespace, a value in
 * double quotes may hold spaces (`key="a b"`). The kernel has no escape for a double quote inside a value,
 * so the writer refuses one, and refuses control characters (a newline would end the iPXE line) and `$`
 * (iPXE would expand `${...}`).
 */
import { LifeboatError } from '../errors.js';

/** What the rescue system learns from its kernel command line. Never a password or a key. */
export interface KernelCommandLineParams {
  /** The control plane's URL as the server reaches it (`lifeboat.url`). */
  readonly controlPlaneUrl: string;
  /** The server's id (`lifeboat.server`). */
  readonly serverId: string;
  /** The one-time boot token (`lifeboat.token`), useless once redeemed. */
  readonly bootToken: string;
  /** URL of `rootfs.squashfs` (`lifeboat.rootfs`), fetched by the initrd. */
  readonly rootfsUrl: string;
  /** Serial console; default `ttyS0,115200`. */
  readonly console?: string;
}

/** The parameter names of the command line. */
export const kernelParameterNames = {
  controlPlaneUrl: 'lifeboat.url',
  serverId: 'lifeboat.server',
  bootToken: 'lifeboat.token',
  rootfsUrl: 'lifeboat.rootfs',
} as const;

/** One `key=value` word, quoted when the value holds whitespace; refuses what the kernel cannot carry. */
export function kernelParameter(key: string, value: string): string {
  if (value === '') throw new LifeboatError('BAD_REQUEST', `${key} must not be empty`);
  // eslint-disable-next-line no-control-regex
  if (/["$\u0000-\u001f\u007f]/.test(value)) {
    throw new LifeboatError('BAD_REQUEST', `${key} must not contain a double quote, a $ or a control character (the kernel command line cannot carry them)`);
  }
  return /\s/.test(value) ? `${key}="${value}"` : `${key}=${value}`;
}

/** `console=... lifeboat.url=... lifeboat.server=... lifeboat.token=... lifeboat.rootfs=...`. */
export function kernelCommandLine(params: KernelCommandLineParams): string {
  const words = (Object.keys(kernelParameterNames) as Array<keyof typeof kernelParameterNames>).map((field) =>
    kernelParameter(kernelParameterNames[field], params[field]),
  );
  return [kernelParameter('console', params.console ?? 'ttyS0,115200'), ...words].join(' ');
}

/**
 * Splits a kernel command line into `key=value` words the way the kernel does: whitespace separates
 * words, double quotes group a value containing spaces (`key="a b"`), a bare word has the value `''`.
 */
export function parseKernelCommandLine(text: string): Map<string, string> {
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

/** The agent's boot parameters from `/proc/cmdline`. */
export interface BootParams {
  /** The control plane's base URL (`lifeboat.url`), without a trailing slash. */
  readonly url: string;
  /** The server's id (`lifeboat.server`). */
  readonly serverId: string;
  /** The one-time boot token (`lifeboat.token`): redeemed once, useless afterwards. */
  readonly bootToken: string;
}

/** The agent's parameters from a kernel command line; throws `BOOT_PARAMS_MISSING` naming what is missing, never a value. */
export function bootParamsFrom(cmdline: string): BootParams {
  const params = parseKernelCommandLine(cmdline);
  const names = kernelParameterNames;
  const missing = [names.controlPlaneUrl, names.serverId, names.bootToken].filter((k) => !params.get(k));
  if (missing.length > 0) throw new LifeboatError('BOOT_PARAMS_MISSING', `kernel command line lacks ${missing.join(', ')}`);
  const url = params.get(names.controlPlaneUrl) as string;
  if (!/^https?:\/\/[^/]/.test(url)) throw new LifeboatError('BOOT_PARAMS_MISSING', `${names.controlPlaneUrl} is not an http(s) URL`);
  return {
    url: url.replace(/\/+$/, ''),
    serverId: params.get(names.serverId) as string,
    bootToken: params.get(names.bootToken) as string,
  };
}
