/** The kernel command line that boots a rescue image: where to find the control plane and the root file system. */

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

/** `console=... lifeboat.url=... lifeboat.server=... lifeboat.token=... lifeboat.rootfs=...`. */
export function kernelCommandLine(params: KernelCommandLineParams): string {
  const words: Array<[string, string]> = [
    ['lifeboat.url', params.controlPlaneUrl],
    ['lifeboat.server', params.serverId],
    ['lifeboat.token', params.bootToken],
    ['lifeboat.rootfs', params.rootfsUrl],
  ];
  for (const [key, value] of words) {
    if (!value || /\s/.test(value)) throw new Error(`${key} must be a non-empty value without spaces`);
  }
  return [`console=${params.console ?? 'ttyS0,115200'}`, ...words.map(([k, v]) => `${k}=${v}`)].join(' ');
}
