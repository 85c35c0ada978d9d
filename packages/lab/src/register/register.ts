import { ApiError, LifeboatClient, LifeboatError } from '@lifeboat/core';
import { LabError } from '../errors.js';
import { readBmcPassword } from '../lab-state.js';
import type { LabRecord } from '../lab-state.js';

/** Which BMC of the lab servers the control plane is told to use. */
export type LabBmcKind = 'ipmi' | 'redfish';

/** Where and as whom to register. */
export interface RegisterOptions {
  /** The control plane's base URL (`LIFEBOAT_URL`). */
  readonly url: string;
  /** An operator API token (`LIFEBOAT_TOKEN`). */
  readonly token: string;
  /** Tenant the servers belong to; created when missing. */
  readonly tenant: string;
  /** BMC protocol to register. */
  readonly bmc: LabBmcKind;
  /** The rescue profiles the servers may use (default: the control plane's default, linux). */
  readonly profiles?: readonly string[];
  readonly onProgress?: (line: string) => void;
}

/** The BMC URL of a lab server, as the control plane's drivers expect it. */
export function bmcUrl(lab: LabRecord, server: LabRecord['servers'][number], kind: LabBmcKind): string {
  return kind === 'ipmi' ? `ipmi://127.0.0.1:${server.ipmiPort}` : `redfish://127.0.0.1:${lab.redfishPort}/redfish/v1/Systems/${server.name}`;
}

/** The `tcp://` URL of a lab server's serial console (the lab's serial fan-out). */
export function consoleUrl(server: LabRecord['servers'][number]): string {
  return `tcp://127.0.0.1:${server.consolePort}`;
}

/**
 * Registers every lab server with the control plane through its HTTP API (`POST /v1/servers`, what
 * `lifeboat servers add NAME --tenant T --mac MAC --bmc URL --bmc-user U --bmc-password-file F
 * --ssh-endpoint HOST:PORT [--console tcp://HOST:PORT]` sends): same name, its MAC, BMC, SSH endpoint
 * and, with Redfish, its serial console (with IPMI the console is the BMC's Serial-over-LAN). A server already
 * registered under that name is replaced, since a new lab has new ports.
 */
export async function registerLab(lab: LabRecord, options: RegisterOptions): Promise<void> {
  const api = new LifeboatClient({ url: options.url, token: options.token });
  /** Runs one call; any failure becomes `LAB_REGISTER_FAILED` naming what was being done. */
  const step = async <T>(what: string, call: () => Promise<T>, accept: (error: LifeboatError) => boolean = () => false): Promise<T | undefined> => {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof LifeboatError)) throw error;
      if (accept(error)) return undefined;
      const detail = error.code === 'UNREACHABLE' ? `the control plane at ${api.url} does not answer: ${error.message}` : `HTTP ${error.status} ${error instanceof ApiError ? error.serverCode : error.code} ${error.message}`;
      throw new LabError('LAB_REGISTER_FAILED', `${what}: ${detail}`, { cause: error });
    }
  };

  await step(`creating tenant ${options.tenant}`, () => api.addTenant({ name: options.tenant }), (e) => e.code === 'TENANT_EXISTS');
  const password = readBmcPassword(lab);
  for (const server of lab.servers) {
    const url = bmcUrl(lab, server, options.bmc);
    const body = {
      name: server.name,
      tenant: options.tenant,
      macs: [server.mac],
      bmc: { url, user: lab.bmc.user, password },
      sshEndpoint: `127.0.0.1:${server.sshPort}`,
      ...(options.profiles && options.profiles.length > 0 ? { profiles: [...options.profiles] } : {}),
      // An IPMI server's console is its BMC's Serial-over-LAN; Redfish has none: the serial port itself.
      ...(options.bmc === 'redfish' ? { console: consoleUrl(server) } : {}),
    };
    const taken = (e: LifeboatError) => e.code === 'SERVER_EXISTS' || e.code === 'MAC_IN_USE';
    const added = await step(`registering ${server.name}`, () => api.addServer(body), taken);
    if (added === undefined) {
      await step(`${server.name} is already registered and cannot be replaced`, () => api.removeServer(server.name));
      await step(`registering ${server.name}`, () => api.addServer(body));
    }
    options.onProgress?.(`${server.name}: registered with the control plane (tenant ${options.tenant}, BMC ${url}, console ${options.bmc === 'redfish' ? consoleUrl(server) : 'IPMI Serial-over-LAN'})`);
  }
}
