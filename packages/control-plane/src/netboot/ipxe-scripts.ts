/**
 * The iPXE scripts Lifeboat serves, as templates. Every network step retries with a pause, and a server
 * that cannot get its rescue image in the end boots its local disk instead of hanging at a prompt (the
 * rescue flow's deadline then rolls the session back).
 */
import { kernelCommandLine, LifeboatError } from '@lifeboat/core';

/** How often and how patiently the scripts retry a fetch. */
export interface RetryPolicy {
  /** Attempts before giving up. Default 5. */
  readonly attempts?: number;
  /** Seconds between attempts. Default 3. */
  readonly delaySeconds?: number;
}

/** What the rescue script boots. */
export interface RescueScriptParams {
  /** The control plane's URL as servers reach it, without a trailing slash. */
  readonly bootUrl: string;
  readonly serverId: string;
  readonly imageId: string;
  readonly bootToken: string;
}

/** Values that go into a script must not be able to start a new iPXE command or expand a setting. */
const scriptSafe = /^[A-Za-z0-9._~:/?=&%+@,-]+$/;

function safe(value: string, what: string): string {
  if (!scriptSafe.test(value)) throw new LifeboatError('CONFIG_INVALID', `${what} cannot go into an iPXE script: ${JSON.stringify(value.slice(0, 80))}`);
  return value;
}

function retryCount(policy: RetryPolicy): { attempts: number; delay: number } {
  return { attempts: Math.max(1, Math.floor(policy.attempts ?? 5)), delay: Math.max(1, Math.floor(policy.delaySeconds ?? 3)) };
}

/** The lines that boot the local disk: BIOS drive 0x80 first, else back to the firmware's next boot device. */
const localDisk = ['sanboot --no-describe --drive 0x80 ||', 'exit'];

/** The retry block shared by the scripts: count, give up after `attempts`, else pause and try again. */
function retryBlock(label: string, what: string, policy: RetryPolicy): string[] {
  const { attempts, delay } = retryCount(policy);
  return [
    ':retry',
    'inc lifeboat-attempt',
    `iseq \${lifeboat-attempt} ${attempts} && goto give-up ||`,
    `echo Lifeboat: ${what} failed (attempt \${lifeboat-attempt} of ${attempts}); retrying in ${delay} s`,
    `sleep ${delay}`,
    `goto ${label}`,
    ':give-up',
    `echo Lifeboat: ${what} failed ${attempts} times; booting from the local disk`,
    ...localDisk,
  ];
}

/**
 * `GET /boot.ipxe`, what DHCP points every server at: chains to the script for the MAC of the NIC iPXE
 * booted from (`netX`), replacing itself so that the chained script's `exit` leaves iPXE.
 */
export function chainScript(bootUrl: string, policy: RetryPolicy = {}): string {
  const url = `${safe(bootUrl, 'boot URL')}/v1/boot/\${netX/mac}.ipxe`;
  return [
    '#!ipxe',
    '# Lifeboat: ask the control plane what this server boots, by MAC.',
    'set lifeboat-attempt:int32 0',
    ':fetch',
    `chain --replace --autofree ${url} || goto retry`,
    ...retryBlock('fetch', `fetching ${url}`, policy),
    '',
  ].join('\n');
}

/** The answer for a server with a rescue being prepared: kernel + initrd of its image, with retries. */
export function rescueScript(params: RescueScriptParams, policy: RetryPolicy = {}): string {
  const bootUrl = safe(params.bootUrl, 'boot URL');
  const imageId = safe(params.imageId, 'image id');
  const server = encodeURIComponent(params.serverId);
  const base = `${bootUrl}/v1/images/${imageId}`;
  const commandLine = kernelCommandLine({
    controlPlaneUrl: bootUrl,
    serverId: safe(params.serverId, 'server id'),
    bootToken: safe(params.bootToken, 'boot token'),
    rootfsUrl: `${base}/rootfs.squashfs?server=${server}`,
  });
  return [
    '#!ipxe',
    `# Lifeboat rescue of server ${params.serverId}: image ${imageId}.`,
    'set lifeboat-attempt:int32 0',
    ':fetch',
    'imgfree',
    `kernel --name vmlinuz ${base}/vmlinuz?server=${server} initrd=initrd ${commandLine} || goto retry`,
    `initrd --name initrd ${base}/initrd?server=${server} || goto retry`,
    'boot || goto retry',
    ...retryBlock('fetch', 'loading the rescue image', policy),
    '',
  ].join('\n');
}

/** The answer for every other server, and for MACs Lifeboat does not know: boot the local disk. */
export function localDiskScript(): string {
  return ['#!ipxe', '# Lifeboat: no rescue for this server; booting from the local disk.', 'echo Lifeboat: booting from the local disk', ...localDisk, ''].join('\n');
}
