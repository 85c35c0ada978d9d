/**
 * Test support: a real Lifeboat control plane (`@lifeboat/control-plane`, SQLite in a temp dir) whose
 * only replaced part is the BMC boundary, as `ControlPlaneParts` allows: the "BMC" of the test's
 * server powers a {@link TestMachine} (the rescue VM, or the agent as a local process). What the
 * machine boots with (server id, one-time boot token) comes from the control plane's netboot source,
 * exactly what its iPXE script would put on the kernel command line.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, startControlPlane } from '@lifeboat/control-plane';
import type { RunningControlPlane } from '@lifeboat/control-plane';

/** What a netbooting machine learns from the control plane. */
export interface RescueBoot {
  readonly serverId: string;
  readonly bootToken: string;
}

/** The machine behind the test server's BMC. */
export interface TestMachine {
  /** Power on into the rescue system (boot device network) with these boot parameters. */
  bootRescue(boot: RescueBoot): Promise<void>;
  /** Power off. */
  powerOff(): Promise<void>;
  readonly poweredOn: boolean;
}

/** A running control plane and a client of its user API with the operator token. */
export interface TestControlPlane {
  readonly running: RunningControlPlane;
  /** Calls the user API; throws on a status other than `expect`. */
  api<T = unknown>(method: string, path: string, body?: unknown, expect?: number): Promise<T>;
  close(): Promise<void>;
}

/** Writes the three files of a rescue image (small, not bootable) into `dir`; returns `dir`. */
function standInImage(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const file of ['vmlinuz', 'initrd', 'rootfs.squashfs']) writeFileSync(join(dir, file), `stand-in ${file}\n`);
  return dir;
}

type NetbootLike = { bootTargetFor(mac: string, address: string): Promise<{ kind: string; serverId?: string; bootToken?: string }> };

/** Starts the control plane in `dataDir`; the server registered with `mac` is `machine`. */
export async function startTestControlPlane(dataDir: string, mac: string, machine: TestMachine, extraFlags: string[] = []): Promise<TestControlPlane> {
  let netboot: NetbootLike | undefined;
  let bootDevice: 'network' | 'disk' = 'disk';
  // The control plane refuses a rescue without a complete image; the machine here boots its own, so
  // unless the test names one, a stand-in directory with the three files satisfies the check.
  const image = extraFlags.includes('--image') ? [] : ['--image', standInImage(`${dataDir}-image`)];
  const config = parseConfig(['--data', dataDir, '--listen', '127.0.0.1:0', '--console-listen', '127.0.0.1:0', '--log-level', 'warn', ...image, ...extraFlags], {}, dataDir);
  const powerOn = async (): Promise<void> => {
    if (machine.poweredOn) await machine.powerOff();
    if (bootDevice !== 'network' || !netboot) return; // no installed system in these tests: it stays off
    // The machine's agent reaches the control plane through QEMU's user networking: from 127.0.0.1,
    // the address its boot credential is bound to.
    const target = await netboot.bootTargetFor(mac, '127.0.0.1');
    if (target.kind !== 'rescue' || !target.serverId || !target.bootToken) return;
    await machine.bootRescue({ serverId: target.serverId, bootToken: target.bootToken });
  };
  const running = await startControlPlane(config, {
    powerDrivers: () => ({
      name: 'ipmi',
      capabilities: new Set(['power', 'boot-device']),
      validate: () => undefined,
      powerState: async () => (machine.poweredOn ? 'on' : 'off'),
      setPower: async (action) => {
        if (action === 'off' || action === 'soft') await machine.powerOff();
        else await powerOn();
      },
      setBootDevice: async (device) => {
        bootDevice = device;
      },
    }),
    routes: (context) => {
      netboot = context.netboot;
      return [];
    },
  });
  const adminToken = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  async function api<T>(method: string, path: string, body?: unknown, expect?: number): Promise<T> {
    const response = await fetch(`${running.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    const ok = expect === undefined ? response.ok : response.status === expect;
    if (!ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }
  return {
    running,
    api,
    close: async () => {
      await machine.powerOff();
      await running.close();
    },
  };
}

/** The rescue view of `GET /v1/servers/{name}/rescue` (the parts the tests read). */
export interface RescueView {
  readonly state: string;
  readonly reason: string | null;
  readonly sessionId: string | null;
  readonly expiresAt: string | null;
  readonly ssh: { host: string | null; port: number | null; password?: string; hostKeyFingerprints: string[]; knownHosts: string[]; certAuthority?: string };
}
