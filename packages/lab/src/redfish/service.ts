import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LifeboatError } from '@lifeboat/core';
import type { VmBootDevice, VmPowerState } from '../vm/server-vm.js';

/**
 * What a Redfish system drives: a machine with power and a boot device. A lab server's `ServerVm` is
 * one; a test can put any machine of its own behind the service (the agent as a local process, a
 * rescue VM, a machine that only records what it was asked).
 */
export interface RedfishMachine {
  /** `on` or `off`, as the BMC reports it. */
  powerState(): VmPowerState;
  /** Powers on (boots from {@link bootDevice}); nothing when it is on. */
  powerOn(): Promise<void>;
  /** Cuts the power; nothing when it is off. */
  forceOff(): Promise<void>;
  /** The reset button (the machine is on). */
  reset(): Promise<void>;
  /** The power button (ACPI): an OS that listens shuts down. */
  pressPowerButton(): Promise<void>;
  /** Waits until the machine is off; false when it is still on after `timeoutMs`. */
  waitForOff(timeoutMs: number): Promise<boolean>;
  /** The device the next power-on or reset boots from. */
  bootDevice(): VmBootDevice;
  /** Sets the device the next power-on or reset boots from. */
  setBootDevice(device: VmBootDevice): Promise<void>;
  /** A non-maskable interrupt; a machine without one does not offer `Nmi`. */
  injectNmi?(): Promise<void>;
}

/** One computer system the Redfish service exposes: a lab server's VM, or a test's machine. */
export interface RedfishSystem {
  /** The system's `Id` in `/redfish/v1/Systems/{Id}`: the lab server's name. */
  readonly id: string;
  /** The machine's UUID (the one QEMU's firmware reports). */
  readonly uuid: string;
  /** MAC of the NIC it netboots from. */
  readonly mac: string;
  /** The machine behind it. */
  readonly machine: RedfishMachine;
  /** Its `Description` (default: a lab server, a QEMU virtual machine). */
  readonly description?: string;
}

/** How the Redfish service is set up. */
export interface RedfishOptions {
  /** The systems it fronts, by `Id`. */
  readonly systems: ReadonlyMap<string, RedfishSystem>;
  /** The one account it accepts (Basic auth or a session). */
  readonly user: string;
  /** Its password. */
  readonly password: string;
  /** Idle seconds after which a session ends (Redfish `SessionTimeout`). */
  readonly sessionTimeoutSeconds?: number;
  /** Seconds a GracefulRestart waits for the OS to power off before cutting the power. */
  readonly gracefulTimeoutSeconds?: number;
}

/** The reset types of `ComputerSystem.Reset` the lab honours. */
export const resetTypes = ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'PowerCycle', 'PushPowerButton', 'Nmi'] as const;
type ResetType = (typeof resetTypes)[number];

/** Redfish boot source targets and the lab's boot devices, in one table. */
const bootTargets: Record<string, VmBootDevice> = { Pxe: 'network', Hdd: 'disk' };
const bootTargetOf: Record<VmBootDevice, string> = { network: 'Pxe', disk: 'Hdd' };
const overrideEnabledValues = ['Once', 'Continuous', 'Disabled'] as const;

const ROOT = '/redfish/v1';
const SESSIONS = `${ROOT}/SessionService/Sessions`;

/**
 * An error the simulated BMC answers in Redfish's own form: the HTTP status and `MessageId` of the
 * Redfish standard, not Lifeboat's table (it is a BMC speaking, not the control plane).
 */
class RedfishError extends LifeboatError {
  /** The HTTP status of the Redfish answer. */
  readonly redfishStatus: number;
  /** Redfish's registry message id, e.g. `Base.1.8.ResourceMissingAtURI`. */
  readonly messageId: string;
  constructor(status: number, messageId: string, message: string) {
    super('LAB_REDFISH', message);
    this.redfishStatus = status;
    this.messageId = messageId;
  }
}

interface Session {
  readonly id: string;
  readonly token: string;
  lastUsed: number;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * A Redfish service fronting machines (the lab's VMs, or a test's machines), the way OpenStack's sushy-tools fronts libvirt domains:
 * service root, Systems with `PowerState`, `ComputerSystem.Reset`, boot source override by PATCH, and
 * Basic or session (`X-Auth-Token`) authentication. Returns a `node:http` request handler.
 */
export function createRedfishService(options: RedfishOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const sessions = new Map<string, Session>();
  const sessionTimeout = options.sessionTimeoutSeconds ?? 1800;
  const gracefulTimeout = options.gracefulTimeoutSeconds ?? 120;
  const busy = new Map<string, Promise<unknown>>();
  /** `BootSourceOverrideEnabled` as last set, per system (the device itself lives with the VM). */
  const storedOverride = new Map<string, string>();

  /** Runs power operations of one system one after the other. */
  function serialized<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = busy.get(id) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    busy.set(id, next);
    return next;
  }

  function authenticated(req: IncomingMessage): boolean {
    const now = Date.now();
    for (const [id, s] of sessions) if (now - s.lastUsed > sessionTimeout * 1000) sessions.delete(id);
    const token = req.headers['x-auth-token'];
    if (typeof token === 'string') {
      for (const s of sessions.values()) {
        if (sameSecret(s.token, token)) {
          s.lastUsed = now;
          return true;
        }
      }
      return false;
    }
    const header = req.headers.authorization;
    if (header?.startsWith('Basic ')) {
      const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      return colon >= 0 && sameSecret(decoded.slice(0, colon), options.user) && sameSecret(decoded.slice(colon + 1), options.password);
    }
    return false;
  }

  function system(id: string): RedfishSystem {
    const found = options.systems.get(decodeURIComponent(id));
    if (!found) throw new RedfishError(404, 'Base.1.8.ResourceMissingAtURI', `No system ${id}`);
    return found;
  }

  function systemResource(s: RedfishSystem) {
    const power = s.machine.powerState();
    const path = `${ROOT}/Systems/${encodeURIComponent(s.id)}`;
    return {
      '@odata.type': '#ComputerSystem.v1_10_0.ComputerSystem',
      '@odata.id': path,
      '@odata.context': '/redfish/v1/$metadata#ComputerSystem.ComputerSystem',
      Id: s.id,
      Name: s.id,
      Description: s.description ?? 'Lifeboat lab server (QEMU virtual machine)',
      UUID: s.uuid,
      Manufacturer: 'Lifeboat Lab',
      Model: 'Lab Server',
      SerialNumber: s.id,
      SystemType: 'Virtual',
      PowerState: power === 'on' ? 'On' : 'Off',
      Status: { State: power === 'on' ? 'Enabled' : 'Disabled', Health: 'OK' },
      ProcessorSummary: { Count: 1 },
      MemorySummary: { TotalSystemMemoryGiB: 1 },
      Boot: {
        BootSourceOverrideEnabled: storedOverride.get(s.id) ?? 'Continuous',
        BootSourceOverrideTarget: bootTargetOf[s.machine.bootDevice()],
        'BootSourceOverrideTarget@Redfish.AllowableValues': [...Object.keys(bootTargets), 'None'],
        BootSourceOverrideMode: 'Legacy',
      },
      Actions: {
        '#ComputerSystem.Reset': {
          target: `${path}/Actions/ComputerSystem.Reset`,
          'ResetType@Redfish.AllowableValues': resetTypes.filter((type) => type !== 'Nmi' || s.machine.injectNmi !== undefined),
        },
      },
      EthernetInterfaces: { '@odata.id': `${path}/EthernetInterfaces` },
      Links: { ManagedBy: [] },
    };
  }

  async function reset(s: RedfishSystem, type: ResetType): Promise<void> {
    const vm = s.machine;
    switch (type) {
      case 'On':
        return vm.powerOn();
      case 'ForceOff':
        return vm.forceOff();
      case 'GracefulShutdown':
        if (vm.powerState() === 'on') await vm.pressPowerButton();
        return;
      case 'ForceRestart':
        if (vm.powerState() === 'on') return vm.reset();
        return vm.powerOn();
      case 'PowerCycle':
        await vm.forceOff();
        return vm.powerOn();
      case 'PushPowerButton':
        if (vm.powerState() === 'on') return vm.pressPowerButton();
        return vm.powerOn();
      case 'Nmi':
        if (!vm.injectNmi) throw new RedfishError(400, 'Base.1.8.ActionParameterValueNotInList', 'This system has no NMI');
        if (vm.powerState() === 'off') throw new RedfishError(409, 'Base.1.8.ActionNotSupported', 'The system is off');
        return vm.injectNmi();
      case 'GracefulRestart': {
        if (vm.powerState() === 'off') return vm.powerOn();
        await vm.pressPowerButton();
        // The OS shuts down in its own time: finish in the background, as a real BMC does.
        void serialized(s.id, async () => {
          if (!(await vm.waitForOff(gracefulTimeout * 1000))) await vm.forceOff();
          await vm.powerOn();
        }).catch(() => undefined);
        return;
      }
    }
  }

  async function patchBoot(s: RedfishSystem, body: unknown): Promise<void> {
    const boot = (body as { Boot?: unknown } | null)?.Boot;
    if (!boot || typeof boot !== 'object') throw new RedfishError(400, 'Base.1.8.PropertyMissing', 'The request body must hold a Boot object');
    const { BootSourceOverrideTarget: target, BootSourceOverrideEnabled: enabled, BootSourceOverrideMode: mode } = boot as Record<string, unknown>;
    if (target !== undefined && (typeof target !== 'string' || !(target in bootTargets || target === 'None'))) {
      throw new RedfishError(400, 'Base.1.8.PropertyValueNotInList', `BootSourceOverrideTarget ${String(target)} is not one of Pxe, Hdd, None`);
    }
    if (enabled !== undefined && !overrideEnabledValues.includes(enabled as (typeof overrideEnabledValues)[number])) {
      throw new RedfishError(400, 'Base.1.8.PropertyValueNotInList', `BootSourceOverrideEnabled ${String(enabled)} is not one of Once, Continuous, Disabled`);
    }
    if (mode !== undefined && mode !== 'Legacy') {
      throw new RedfishError(400, 'Base.1.8.PropertyValueNotInList', `BootSourceOverrideMode ${String(mode)}: the lab's firmware is legacy BIOS only`);
    }
    // No override (target None or Disabled) means the machine's own order: network first, then disk.
    const device = enabled === 'Disabled' || target === 'None' ? 'network' : target !== undefined ? bootTargets[target as string] : undefined;
    if (typeof enabled === 'string') storedOverride.set(s.id, enabled);
    if (device) await s.machine.setBootDevice(device);
  }

  async function route(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://redfish');
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    const method = req.method ?? 'GET';
    const send = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'OData-Version': '4.0', ...(payload === undefined ? {} : { 'Content-Type': 'application/json; charset=utf-8' }), ...headers });
      res.end(payload === undefined ? undefined : JSON.stringify(payload));
    };
    const only = (...allowed: string[]) => {
      if (!allowed.includes(method)) throw new RedfishError(405, 'Base.1.8.ActionNotSupported', `${method} is not allowed on ${path}`);
    };

    // Public resources (the Redfish specification lets clients read these without credentials).
    if (path === '/redfish') {
      only('GET');
      return send(200, { v1: `${ROOT}/` });
    }
    if (path === ROOT) {
      only('GET');
      return send(200, {
        '@odata.type': '#ServiceRoot.v1_5_0.ServiceRoot',
        '@odata.id': ROOT,
        Id: 'RootService',
        Name: 'Lifeboat Lab Redfish Service',
        RedfishVersion: '1.8.0',
        UUID: 'b7d1a3c2-5a3e-4f36-9d77-1ab0c0ffee01',
        Systems: { '@odata.id': `${ROOT}/Systems` },
        SessionService: { '@odata.id': `${ROOT}/SessionService` },
        Links: { Sessions: { '@odata.id': SESSIONS } },
      });
    }
    if (path === `${ROOT}/odata`) {
      only('GET');
      return send(200, {
        '@odata.context': '/redfish/v1/$metadata',
        value: [
          { name: 'Service', kind: 'Singleton', url: ROOT },
          { name: 'Systems', kind: 'Singleton', url: `${ROOT}/Systems` },
          { name: 'SessionService', kind: 'Singleton', url: `${ROOT}/SessionService` },
        ],
      });
    }
    if (path === SESSIONS && method === 'POST') {
      const { UserName, Password } = (body ?? {}) as { UserName?: unknown; Password?: unknown };
      if (typeof UserName !== 'string' || typeof Password !== 'string' || !sameSecret(UserName, options.user) || !sameSecret(Password, options.password)) {
        throw new RedfishError(401, 'Base.1.8.NoValidSession', 'Invalid user name or password');
      }
      const session: Session = { id: randomUUID(), token: randomBytes(24).toString('base64url'), lastUsed: Date.now() };
      sessions.set(session.id, session);
      const location = `${SESSIONS}/${session.id}`;
      return send(201, sessionResource(session.id), { 'X-Auth-Token': session.token, Location: location });
    }

    if (!authenticated(req)) {
      throw Object.assign(new RedfishError(401, 'Base.1.8.NoValidSession', 'Authentication required'), { challenge: true });
    }

    if (path === `${ROOT}/Systems`) {
      only('GET');
      const members = [...options.systems.keys()].map((id) => ({ '@odata.id': `${ROOT}/Systems/${encodeURIComponent(id)}` }));
      return send(200, {
        '@odata.type': '#ComputerSystemCollection.ComputerSystemCollection',
        '@odata.id': `${ROOT}/Systems`,
        Name: 'Computer System Collection',
        'Members@odata.count': members.length,
        Members: members,
      });
    }
    const systemMatch = /^\/redfish\/v1\/Systems\/([^/]+)$/.exec(path);
    if (systemMatch?.[1]) {
      const s = system(systemMatch[1]);
      only('GET', 'PATCH');
      if (method === 'PATCH') await serialized(s.id, () => patchBoot(s, body));
      return send(200, systemResource(s));
    }
    const nicsMatch = /^\/redfish\/v1\/Systems\/([^/]+)\/EthernetInterfaces(?:\/(nic0))?$/.exec(path);
    if (nicsMatch?.[1]) {
      const s = system(nicsMatch[1]);
      only('GET');
      const base = `${ROOT}/Systems/${encodeURIComponent(s.id)}/EthernetInterfaces`;
      if (nicsMatch[2]) {
        return send(200, {
          '@odata.type': '#EthernetInterface.v1_4_0.EthernetInterface',
          '@odata.id': `${base}/nic0`,
          Id: 'nic0',
          Name: 'virtio-net (iPXE)',
          MACAddress: s.mac,
          PermanentMACAddress: s.mac,
          Status: { State: 'Enabled', Health: 'OK' },
        });
      }
      return send(200, {
        '@odata.type': '#EthernetInterfaceCollection.EthernetInterfaceCollection',
        '@odata.id': base,
        Name: 'Ethernet Interface Collection',
        'Members@odata.count': 1,
        Members: [{ '@odata.id': `${base}/nic0` }],
      });
    }
    const resetMatch = /^\/redfish\/v1\/Systems\/([^/]+)\/Actions\/ComputerSystem\.Reset$/.exec(path);
    if (resetMatch?.[1]) {
      const s = system(resetMatch[1]);
      only('POST');
      const type = (body as { ResetType?: unknown } | null)?.ResetType;
      if (typeof type !== 'string' || !resetTypes.includes(type as ResetType)) {
        throw new RedfishError(400, 'Base.1.8.ActionParameterValueNotInList', `ResetType ${String(type)} is not one of ${resetTypes.join(', ')}`);
      }
      await serialized(s.id, () => reset(s, type as ResetType));
      return send(204);
    }
    if (path === `${ROOT}/SessionService`) {
      only('GET');
      return send(200, {
        '@odata.type': '#SessionService.v1_1_6.SessionService',
        '@odata.id': `${ROOT}/SessionService`,
        Id: 'SessionService',
        Name: 'Session Service',
        ServiceEnabled: true,
        SessionTimeout: sessionTimeout,
        Sessions: { '@odata.id': SESSIONS },
      });
    }
    if (path === SESSIONS) {
      only('GET', 'POST');
      const members = [...sessions.keys()].map((id) => ({ '@odata.id': `${SESSIONS}/${id}` }));
      return send(200, {
        '@odata.type': '#SessionCollection.SessionCollection',
        '@odata.id': SESSIONS,
        Name: 'Session Collection',
        'Members@odata.count': members.length,
        Members: members,
      });
    }
    const sessionMatch = /^\/redfish\/v1\/SessionService\/Sessions\/([^/]+)$/.exec(path);
    if (sessionMatch?.[1]) {
      only('GET', 'DELETE');
      const id = sessionMatch[1];
      if (!sessions.has(id)) throw new RedfishError(404, 'Base.1.8.ResourceMissingAtURI', `No session ${id}`);
      if (method === 'DELETE') {
        sessions.delete(id);
        return send(204);
      }
      return send(200, sessionResource(id));
    }
    throw new RedfishError(404, 'Base.1.8.ResourceMissingAtURI', `No resource at ${path}`);
  }

  function sessionResource(id: string) {
    return {
      '@odata.type': '#Session.v1_0_0.Session',
      '@odata.id': `${SESSIONS}/${id}`,
      Id: id,
      Name: 'User Session',
      UserName: options.user,
    };
  }

  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let body: unknown;
      const raw = Buffer.concat(chunks).toString('utf8');
      const fail = (error: unknown) => {
        const e = error instanceof RedfishError ? error : new RedfishError(500, 'Base.1.8.InternalError', (error as Error).message ?? String(error));
        const headers: Record<string, string> = { 'Content-Type': 'application/json; charset=utf-8', 'OData-Version': '4.0' };
        if ((error as { challenge?: boolean }).challenge) headers['WWW-Authenticate'] = 'Basic realm="Lifeboat Lab"';
        res.writeHead(e.redfishStatus, headers);
        res.end(
          JSON.stringify({
            error: {
              code: e.redfishStatus >= 500 ? 'Base.1.8.GeneralError' : e.messageId,
              message: e.message,
              '@Message.ExtendedInfo': [{ '@odata.type': '#Message.v1_0_0.Message', MessageId: e.messageId, Message: e.message, Severity: 'Warning' }],
            },
          }),
        );
      };
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        return fail(new RedfishError(400, 'Base.1.8.MalformedJSON', 'The request body is not valid JSON'));
      }
      route(req, res, body).catch(fail);
    });
  };
}
