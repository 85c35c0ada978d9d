/**
 * Test support: a real Lifeboat control plane (its entry point in a child process, SQLite in the
 * test's directory) and the Redfish BMC of the test's server (`startTestBmc`), which powers a
 * {@link TestMachine}: the rescue VM, or the agent as a local process. What the machine boots with
 * (control plane URL, server id, one-time boot token) comes from the control plane's iPXE script.
 */
import { startControlPlaneProcess, type ControlPlaneProcess } from './control-plane-process.js';
import { freePort } from './ports.js';
import { startTestBmc, type TestBmc, type TestMachine } from './test-bmc.js';

/** A running control plane, the BMC of its test server and a client of its user API with the operator token. */
export interface TestControlPlane {
  /** Base URL of its API (`http://127.0.0.1:PORT`). */
  readonly url: string;
  readonly process: ControlPlaneProcess;
  /** The test server's BMC: register the server with `bmc: plane.bmc.record`. */
  readonly bmc: TestBmc;
  /** Calls the user API; throws on a status other than `expect`. */
  api<T = unknown>(method: string, path: string, body?: unknown, expect?: number): Promise<T>;
  /** Powers the machine off, stops the control plane and the BMC. */
  close(): Promise<void>;
}

/**
 * Starts the control plane in `dataDir` (with `extraFlags`) and a BMC whose machine, netbooting from
 * `mac`, is `machine`. The test registers its server with `bmc: plane.bmc.record` and `macs: [mac]`.
 */
export async function startTestControlPlane(dataDir: string, mac: string, machine: TestMachine, extraFlags: readonly string[] = []): Promise<TestControlPlane> {
  const controlPlane = await startControlPlaneProcess({ dataDir, port: await freePort(), flags: extraFlags });
  let bmc: TestBmc;
  try {
    bmc = await startTestBmc({ controlPlaneUrl: controlPlane.url, mac, machine });
  } catch (error) {
    await controlPlane.stop();
    throw error;
  }
  const adminToken = controlPlane.adminToken();
  async function api<T>(method: string, path: string, body?: unknown, expect?: number): Promise<T> {
    const response = await fetch(`${controlPlane.url}${path}`, {
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
    url: controlPlane.url,
    process: controlPlane,
    bmc,
    api,
    close: async () => {
      await controlPlane.stop();
      await bmc.close();
      await machine.powerOff();
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

