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
  readonly onProgress?: (line: string) => void;
}

/** The BMC URL of a lab server, as the control plane's drivers expect it. */
export function bmcUrl(lab: LabRecord, server: LabRecord['servers'][number], kind: LabBmcKind): string {
  return kind === 'ipmi' ? `ipmi://127.0.0.1:${server.ipmiPort}` : `redfish://127.0.0.1:${lab.redfishPort}/redfish/v1/Systems/${server.name}`;
}

/**
 * Registers every lab server with the control plane through its HTTP API (`POST /v1/servers`, what
 * `lifeboat servers add NAME --tenant T --mac MAC --bmc URL --bmc-user U --bmc-password-file F
 * --ssh-endpoint HOST:PORT` sends): same name, its MAC, BMC and SSH endpoint. A server already
 * registered under that name is replaced, since a new lab has new ports.
 */
export async function registerLab(lab: LabRecord, options: RegisterOptions): Promise<void> {
  const base = options.url.replace(/\/+$/, '');
  const call = async (method: string, path: string, body?: unknown) => {
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, {
        method,
        headers: { Authorization: `Bearer ${options.token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new LabError('LAB_REGISTER_FAILED', `the control plane at ${base} does not answer: ${(error as Error).message}`, { cause: error });
    }
    const text = await response.text();
    let parsed: { code?: string; message?: string } = {};
    try {
      parsed = text ? (JSON.parse(text) as typeof parsed) : {};
    } catch {
      // not JSON: keep the status
    }
    return { status: response.status, code: parsed.code, message: parsed.message ?? text.slice(0, 200) };
  };

  const tenant = await call('POST', '/v1/tenants', { name: options.tenant });
  if (tenant.status !== 201 && tenant.code !== 'TENANT_EXISTS') {
    throw new LabError('LAB_REGISTER_FAILED', `creating tenant ${options.tenant}: HTTP ${tenant.status} ${tenant.code ?? ''} ${tenant.message}`);
  }
  const password = readBmcPassword(lab);
  for (const server of lab.servers) {
    const url = bmcUrl(lab, server, options.bmc);
    const body = {
      name: server.name,
      tenant: options.tenant,
      macs: [server.mac],
      bmc: { url, user: lab.bmc.user, password },
      sshEndpoint: `127.0.0.1:${server.sshPort}`,
    };
    let added = await call('POST', '/v1/servers', body);
    if (added.code === 'SERVER_EXISTS' || added.code === 'MAC_IN_USE') {
      const removed = await call('DELETE', `/v1/servers/${encodeURIComponent(server.name)}`);
      if (removed.status !== 204) {
        throw new LabError('LAB_REGISTER_FAILED', `${server.name} is already registered and cannot be replaced: HTTP ${removed.status} ${removed.code ?? ''} ${removed.message}`);
      }
      added = await call('POST', '/v1/servers', body);
    }
    if (added.status !== 201) {
      throw new LabError('LAB_REGISTER_FAILED', `registering ${server.name}: HTTP ${added.status} ${added.code ?? ''} ${added.message}`);
    }
    options.onProgress?.(`${server.name}: registered with the control plane (tenant ${options.tenant}, BMC ${url})`);
  }
}
