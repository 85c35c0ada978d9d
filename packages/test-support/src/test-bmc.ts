/**
 * Test support: the BMC of a test's server, as real as the control plane sees it: the lab's Redfish
 * simulator (`createRedfishService`) over HTTP on 127.0.0.1, fronting a {@link TestMachine} instead of
 * a QEMU lab server. A power-on with the boot device `network` does what the server's firmware and
 * iPXE would: it asks the control plane for the server's iPXE script (`GET /v1/boot/{mac}.ipxe`, from
 * 127.0.0.1, the address its boot credential is bound to) and boots the machine into the rescue system
 * with the script's kernel command line. From the disk, there is no installed system: it stays off.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bootParamsFrom } from '@lifeboat/core/boot';
import { createRedfishService, type RedfishMachine, type VmBootDevice } from '@lifeboat/lab';
import { waitFor } from './wait.js';

export type { RedfishMachine };

/** What a netbooting machine learns from its kernel command line. */
export interface RescueBoot {
  /** The control plane's URL as the server reaches it (`lifeboat.url`). */
  readonly url: string;
  readonly serverId: string;
  readonly bootToken: string;
}

/** The machine behind a test server's BMC. */
export interface TestMachine {
  /** Power on into the rescue system (boot device network) with these boot parameters. */
  bootRescue(boot: RescueBoot): Promise<void>;
  /** Power off. */
  powerOff(): Promise<void>;
  readonly poweredOn: boolean;
}

/**
 * A machine that only records the rescue boots it was asked for, for tests that play the agent
 * themselves (`playAgent`): it is on from a rescue boot until it is powered off.
 */
export class RecordingMachine implements TestMachine {
  /** The boots asked for, in order. */
  readonly boots: RescueBoot[] = [];
  poweredOn = false;

  async bootRescue(boot: RescueBoot): Promise<void> {
    this.boots.push(boot);
    this.poweredOn = true;
  }

  async powerOff(): Promise<void> {
    this.poweredOn = false;
  }
}

/** A running test BMC. */
export interface TestBmc extends RedfishBmc {
  /**
   * What the BMC did to the machine, one line each, in order: `boot device network`, `power on: rescue`,
   * `power on: local disk` (the script said so), `power on: disk`, `power off`.
   */
  readonly actions: readonly string[];
  readonly machine: TestMachine;
}

/** What the BMC fronts. */
export interface TestBmcOptions {
  /** The control plane's URL from 127.0.0.1, where the machine fetches its iPXE script. */
  readonly controlPlaneUrl: string;
  /** The MAC the server netboots from (registered with the server). */
  readonly mac: string;
  /** Default: a {@link RecordingMachine}. */
  readonly machine?: TestMachine;
  /** The BMC's password (default: a random one). */
  readonly password?: string;
}

/** The Redfish view of a test machine: power and boot device, with the firmware's netboot. */
function redfishMachine(options: TestBmcOptions, machine: TestMachine, actions: string[]): RedfishMachine {
  let device: VmBootDevice = 'disk';
  const powerOff = async (): Promise<void> => {
    if (!machine.poweredOn) return;
    actions.push('power off');
    await machine.powerOff();
  };
  const powerOn = async (): Promise<void> => {
    if (machine.poweredOn) return;
    if (device === 'disk') {
      actions.push('power on: disk');
      return;
    }
    const response = await fetch(`${options.controlPlaneUrl}/v1/boot/${options.mac.replace(/:/g, '-')}.ipxe`);
    const script = await response.text();
    const kernel = script.split('\n').find((line) => line.trimStart().startsWith('kernel '));
    if (!response.ok || kernel === undefined) {
      actions.push('power on: local disk');
      return;
    }
    actions.push('power on: rescue');
    await machine.bootRescue(bootParamsFrom(kernel));
  };
  return {
    powerState: () => (machine.poweredOn ? 'on' : 'off'),
    powerOn,
    forceOff: powerOff,
    async reset() {
      await powerOff();
      await powerOn();
    },
    // The test machines have no OS that could refuse the ACPI button: they shut down.
    pressPowerButton: powerOff,
    waitForOff: (timeoutMs) => waitFor('the machine to be off', () => !machine.poweredOn, timeoutMs, 50).catch(() => false),
    bootDevice: () => device,
    async setBootDevice(next) {
      actions.push(`boot device ${next}`);
      device = next;
    },
  };
}

/** A Redfish BMC of one system, listening on 127.0.0.1. */
export interface RedfishBmc {
  /** The server's `bmc` record for the control plane: its Redfish URL (`redfish://127.0.0.1:PORT/redfish/v1/Systems/ID`) and credentials. */
  readonly record: { readonly url: string; readonly user: string; readonly password: string };
  /** Changes its password, as the BMC's administrator would (the control plane must be told). */
  setPassword(password: string): void;
  /** Stops answering (the machine keeps its power state). */
  close(): Promise<void>;
}

/**
 * Starts the lab's Redfish service on 127.0.0.1 (a free port) in front of `machine`, any machine with
 * power and a boot device (a test with its own notion of an installed system brings its own).
 */
export async function startRedfishBmc(machine: RedfishMachine, mac: string, password = randomBytes(12).toString('base64url')): Promise<RedfishBmc> {
  const user = 'admin';
  const system = { id: 'test-1', uuid: randomUUID(), mac, machine, description: "a test's machine" };
  let current = password;
  // The service reads its password at each request: a getter lets the test change it.
  const server = createServer(createRedfishService({ systems: new Map([[system.id, system]]), user, get password() { return current; } }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `redfish://127.0.0.1:${port}/redfish/v1/Systems/${system.id}`;
  return {
    get record() {
      return { url, user, password: current };
    },
    setPassword(next: string) {
      current = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Starts a Redfish BMC on 127.0.0.1 (a free port) for one server's test machine. */
export async function startTestBmc(options: TestBmcOptions): Promise<TestBmc> {
  const machine = options.machine ?? new RecordingMachine();
  const actions: string[] = [];
  const bmc = await startRedfishBmc(redfishMachine(options, machine, actions), options.mac, options.password);
  return {
    get record() {
      return bmc.record;
    },
    setPassword: (password) => bmc.setPassword(password),
    actions,
    machine,
    close: () => bmc.close(),
  };
}
