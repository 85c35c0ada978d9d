import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { LabError } from '../errors.js';
import { isProcessAlive, livePid, waitUntil } from '../processes/processes.js';
import { qmp } from './qmp.mjs';
import { vmFiles } from './qemu-command.js';

const run = promisify(execFile);

/** A lab server's power state, as its BMCs report it: on while its QEMU process lives. */
export type VmPowerState = 'on' | 'off';

/** The device a lab server boots from first. `network` (iPXE, then disk) is the lab's default. */
export type VmBootDevice = 'network' | 'disk';

/**
 * One lab server's virtual machine, driven the way its BMC drives real hardware: power on starts QEMU
 * (`start-vm.sh`), power off ends it (QMP `quit`), reset is QMP `system_reset`, a soft off is an ACPI
 * power button press (QMP `system_powerdown`). State lives in files, so the Redfish service, ipmi_sim's
 * chassis control program and `lab down` all see the same machine.
 */
export class ServerVm {
  readonly #files: ReturnType<typeof vmFiles>;
  readonly #diskCount: number;

  /** @param serverDir the server's directory (holding `start-vm.sh`); @param diskCount disks attached. */
  constructor(serverDir: string, diskCount: number) {
    this.#files = vmFiles(serverDir);
    this.#diskCount = diskCount;
  }

  /** The QEMU process id while the VM is powered on. */
  pid(): number | undefined {
    return livePid(this.#files.pidfile, 'qemu-system');
  }

  /** `on` while the QEMU process lives. */
  powerState(): VmPowerState {
    return this.pid() === undefined ? 'off' : 'on';
  }

  /** Starts the VM if it is off; resolves once QEMU runs (its QMP socket answers). */
  async powerOn(): Promise<void> {
    if (this.powerState() === 'on') return;
    try {
      await run('/bin/sh', [this.#files.startScript], { timeout: 30_000 });
    } catch (error) {
      throw new LabError('VM_START_FAILED', `QEMU did not start; see ${this.#files.qemuLog}`, { cause: error });
    }
    const pid = this.pid();
    if (pid === undefined) throw new LabError('VM_START_FAILED', `QEMU exited at start; see ${this.#files.qemuLog}`);
  }

  /** Cuts the power: ends QEMU (QMP `quit`, SIGKILL if it does not end within 10 s). */
  async forceOff(): Promise<void> {
    const pid = this.pid();
    if (pid === undefined) return;
    await qmp(this.#files.qmpSocket, 'quit').catch(() => undefined);
    if (!(await waitUntil(() => !isProcessAlive(pid, 'qemu-system'), 10_000, 50))) {
      process.kill(pid, 'SIGKILL');
      await waitUntil(() => !isProcessAlive(pid, 'qemu-system'), 5_000, 50);
    }
  }

  /** Presses the reset button (QMP `system_reset`); the VM must be on. */
  async reset(): Promise<void> {
    await this.#control('system_reset');
  }

  /** Presses the power button (ACPI, QMP `system_powerdown`): the OS shuts down if it listens. */
  async pressPowerButton(): Promise<void> {
    await this.#control('system_powerdown');
  }

  /** Sends a non-maskable interrupt (QMP `inject-nmi`); the VM must be on. */
  async injectNmi(): Promise<void> {
    await this.#control('inject-nmi');
  }

  /** Waits until the VM is off; false when it is still on after `timeoutMs`. */
  waitForOff(timeoutMs: number): Promise<boolean> {
    return waitUntil(() => this.powerState() === 'off', timeoutMs, 200);
  }

  /** The device the VM boots from first at its next power-on or reset. */
  bootDevice(): VmBootDevice {
    try {
      return readFileSync(this.#files.bootDevice, 'utf8').trim() === 'disk' ? 'disk' : 'network';
    } catch {
      return 'network';
    }
  }

  /**
   * Stores the boot device for the next power-on and, when the VM runs, changes its devices'
   * `bootindex` so that the next reset honours it too.
   */
  async setBootDevice(device: VmBootDevice): Promise<void> {
    writeFileSync(this.#files.bootDevice, `${device}\n`);
    if (this.powerState() === 'off') return;
    const target = device === 'disk' ? { net: 9, disk: 1 } : { net: 1, disk: 2 };
    const disks = Array.from({ length: this.#diskCount }, (_, i) => `disk${i}`);
    // Two devices may never hold the same index, even for a moment: park them all first.
    await this.#setBootIndex('nic0', 30);
    for (const [i, id] of disks.entries()) await this.#setBootIndex(id, 20 + i);
    await this.#setBootIndex('nic0', target.net);
    for (const [i, id] of disks.entries()) await this.#setBootIndex(id, target.disk + i);
  }

  /** QEMU's own view of the VM (`running`, `paused`, `shutdown`, ...), through QMP `query-status`. */
  async runState(): Promise<string | undefined> {
    if (this.powerState() === 'off') return undefined;
    const status = (await qmp(this.#files.qmpSocket, 'query-status')) as { status?: string };
    return status.status;
  }

  async #setBootIndex(id: string, index: number): Promise<void> {
    await this.#control('qom-set', { path: `/machine/peripheral/${id}`, property: 'bootindex', value: index });
  }

  async #control(command: string, args?: Record<string, unknown>): Promise<void> {
    if (this.powerState() === 'off') throw new LabError('VM_CONTROL_FAILED', `the VM is off (${command})`);
    try {
      await qmp(this.#files.qmpSocket, command, args);
    } catch (error) {
      throw new LabError('VM_CONTROL_FAILED', `QMP ${command} failed: ${(error as Error).message}`, { cause: error });
    }
  }
}
