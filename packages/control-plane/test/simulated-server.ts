/**
 * A server for the fault tests, driven by a real BMC simulator (ipmi_sim or the Redfish simulator):
 * each power-on the BMC does (on, cycle, reset) boots it from the BMC's next boot device. From the
 * network, iPXE asks the control plane for its script (retrying while the control plane is down) and
 * the played agent redeems the rescue, says ready and serves `leave_rescue` as the real agent does
 * (reports, then reboots the server itself); from the disk, the installed system comes up.
 * Every boot and what it reached is an event with its time, so a test can tell a BMC action repeated
 * after its effect was reached.
 */
import { leaveRescueWork } from '@lifeboat/core';
import { playAgent } from '@lifeboat/test-support';
import type { IpmiSim } from './drivers/ipmi-sim.js';
import type { RedfishBmc } from './drivers/redfish-bmc.js';

/** What the server reads from its BMC. */
export interface SimulatedBmc {
  /** Power-ons the BMC did so far (on, cycle, reset): each one boots the server. */
  powerOns(): number;
  /** The device the next boot uses. */
  nextBoot(): 'network' | 'disk';
}

/** ipmi_sim's chassis, as its control program recorded it (`power 1`, `reset 1`, `boot pxe`). */
export function ipmiSimBmc(sim: IpmiSim): SimulatedBmc {
  return {
    powerOns: () => sim.sets().filter((line) => line === 'power 1' || line === 'reset 1').length,
    nextBoot: () => (sim.sets().filter((line) => line.startsWith('boot ')).at(-1) === 'boot pxe' ? 'network' : 'disk'),
  };
}

/** The Redfish simulator's system. */
export function redfishSimBmc(bmc: RedfishBmc): SimulatedBmc {
  return {
    powerOns: () => bmc.state.resets.filter((reset) => reset !== 'ForceOff' && reset !== 'GracefulShutdown').length,
    nextBoot: () => (bmc.state.bootTarget === 'Pxe' && bmc.state.bootEnabled !== 'Disabled' ? 'network' : 'disk'),
  };
}

/** Something that happened to the server. */
export interface ServerEvent {
  readonly at: number;
  /**
   * `bmc-boot`: the BMC powered it on; `self-reboot`: the agent rebooted it after `leave_rescue`;
   * `rescue-script`: iPXE got the rescue script; `ready`: the agent said ready; `disk-up`: the
   * installed system booted; `agent-failed`: the agent stopped on a refusal.
   */
  readonly kind: 'bmc-boot' | 'self-reboot' | 'rescue-script' | 'ready' | 'disk-up' | 'agent-failed';
  readonly detail?: string;
}

/** A server booting from what its BMC says, against the control plane at `url`. */
export class SimulatedServer {
  readonly events: ServerEvent[] = [];
  readonly #url: string;
  readonly #mac: string;
  readonly #bmc: SimulatedBmc;
  readonly #timer: NodeJS.Timeout;
  #powerOns: number;
  #boot: AbortController | undefined;

  constructor(url: string, mac: string, bmc: SimulatedBmc) {
    this.#url = url;
    this.#mac = mac;
    this.#bmc = bmc;
    this.#powerOns = bmc.powerOns();
    this.#timer = setInterval(() => {
      const powerOns = this.#bmc.powerOns();
      if (powerOns === this.#powerOns) return;
      this.#powerOns = powerOns;
      this.#start('bmc-boot');
    }, 25);
  }

  /** Events of `kind` at or after `since`. */
  eventsOf(kind: ServerEvent['kind'], since = 0): ServerEvent[] {
    return this.events.filter((e) => e.kind === kind && e.at >= since);
  }

  /** Powers the server off for good (the end of a test). */
  stop(): void {
    clearInterval(this.#timer);
    this.#boot?.abort();
  }

  #start(kind: 'bmc-boot' | 'self-reboot'): void {
    this.#boot?.abort();
    const boot = new AbortController();
    this.#boot = boot;
    const device = this.#bmc.nextBoot();
    this.events.push({ at: Date.now(), kind, detail: device });
    this.#run(device, boot.signal).catch((error: unknown) => {
      if (!boot.signal.aborted) this.events.push({ at: Date.now(), kind: 'agent-failed', detail: error instanceof Error ? error.message : String(error) });
    });
  }

  async #run(device: 'network' | 'disk', signal: AbortSignal): Promise<void> {
    if (device === 'disk') {
      this.events.push({ at: Date.now(), kind: 'disk-up' });
      return;
    }
    const agent = await playAgent(this.#url, this.#mac, 120_000, { signal, onScript: () => this.events.push({ at: Date.now(), kind: 'rescue-script' }) });
    if (signal.aborted) return;
    this.events.push({ at: Date.now(), kind: 'ready' });
    for (;;) {
      const work = await agent.call('GET', '/work?waitSeconds=1');
      if (signal.aborted) return;
      if (work.status !== 200) throw new Error(`GET /v1/agent/work: ${work.status} ${JSON.stringify(work.body)}`);
      for (const job of work.body.jobs as Array<{ id: string; kind: string }>) {
        if (job.kind !== leaveRescueWork) continue;
        const report = { state: 'completed', result: { unmounted: [], clean: true, detail: 'synced; nothing was mounted' } };
        const answered = await agent.call('POST', `/work/${job.id}/result`, report);
        if (signal.aborted) return;
        if (answered.status !== 204) throw new Error(`POST /v1/agent/work/${job.id}/result: ${answered.status} ${JSON.stringify(answered.body)}`);
        this.#start('self-reboot');
        return;
      }
    }
  }
}
