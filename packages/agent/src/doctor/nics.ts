/**
 * The physical NICs of this machine and the names the installed system's udev would give them. The
 * rescue system has no udev: its kernel names NICs `eth0`, while a Debian installed system uses
 * predictable names (`eno1`, `ens3`, `enp1s0`), computed as systemd's `net_id` does from sysfs:
 * onboard index (`eno`), PCI hotplug slot (`ens`), PCI path (`enp`), MAC (`enx`). With Debian's
 * default NamePolicy (`keep kernel database onboard slot path`) the first of onboard, slot, path wins.
 */
import { joinPath } from '../platform.js';
import type { Platform } from '../platform.js';

/** One physical NIC, with every name it may have in the installed system. */
export interface Nic {
  /** The rescue kernel's name (`eth0`). */
  readonly kernelName: string;
  readonly mac: string;
  /** Carrier up (a cable, a link). */
  readonly link: boolean;
  /** Every name it may carry: kernel name, onboard, slot, path and MAC names. */
  readonly names: string[];
  /** The name the installed system's udev would give it. */
  readonly preferredName: string;
}

/** Names of a NIC from its PCI address and sysfs facts (pure: tested without sysfs). */
export function predictableNames(facts: {
  kernelName: string;
  mac: string;
  /** `0000:00:03.0`, or null when the NIC is not on PCI. */
  pciAddress: string | null;
  /** The PCI device's firmware index (`acpi_index`, else `index`), if any. */
  onboardIndex: number | null;
  /** The hotplug slot whose address is this device's (`/sys/bus/pci/slots/N/address`), if any. */
  slot: string | null;
  /** `dev_port` of the interface (several ports of one function), 0 when absent. */
  devPort: number;
}): { names: string[]; preferred: string } {
  const names: string[] = [];
  let onboard: string | null = null;
  let slot: string | null = null;
  let path: string | null = null;
  const port = facts.devPort > 0 ? `d${facts.devPort}` : '';
  const pci = facts.pciAddress ? /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i.exec(facts.pciAddress) : null;
  if (pci) {
    const domain = parseInt(pci[1] as string, 16);
    const bus = parseInt(pci[2] as string, 16);
    const device = parseInt(pci[3] as string, 16);
    const fn = parseInt(pci[4] as string, 16);
    const func = fn > 0 ? `f${fn}` : '';
    const prefix = domain > 0 ? `P${domain}` : '';
    if (facts.onboardIndex !== null && facts.onboardIndex > 0 && facts.onboardIndex <= 16383) onboard = `eno${facts.onboardIndex}${port}`;
    if (facts.slot !== null && /^\d+$/.test(facts.slot)) slot = `${prefix}ens${facts.slot}${func}${port}`;
    path = `${prefix}enp${bus}s${device}${func}${port}`;
  }
  for (const n of [onboard, slot, path]) if (n !== null) names.push(n);
  if (/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(facts.mac)) names.push(`enx${facts.mac.replace(/:/g, '').toLowerCase()}`);
  names.push(facts.kernelName);
  return { names, preferred: onboard ?? slot ?? path ?? facts.kernelName };
}

/**
 * The physical NICs under `sysDir/class/net` (those with a `device`: not lo, bridges, tunnels), in
 * name order. `sysDir` is `/sys` in the image.
 */
export async function physicalNics(platform: Platform, sysDir: string): Promise<Nic[]> {
  const netDir = joinPath(sysDir, 'class/net');
  let names: string[];
  try {
    names = (await platform.readdir(netDir)).sort();
  } catch {
    return [];
  }
  const slots = new Map<string, string>();
  try {
    for (const slot of await platform.readdir(joinPath(sysDir, 'bus/pci/slots'))) {
      const address = await readTrimmed(platform, joinPath(sysDir, 'bus/pci/slots', slot, 'address'));
      if (address) slots.set(address, slot);
    }
  } catch {
    // no hotplug slots
  }
  const nics: Nic[] = [];
  for (const kernelName of names) {
    const deviceLink = joinPath(netDir, kernelName, 'device');
    if (!platform.exists(deviceLink)) continue;
    const real = (await platform.run('readlink', ['-f', '--', deviceLink])).stdout.trim();
    // virtio-net sits on a virtio bus below its PCI function: net_id looks at the parent.
    const segments = real.split('/');
    const pciAddress = [...segments].reverse().find((s) => /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i.test(s)) ?? null;
    const pciDir = pciAddress ? segments.slice(0, segments.lastIndexOf(pciAddress) + 1).join('/') : null;
    let onboardIndex: number | null = null;
    if (pciDir) {
      const index = (await readTrimmed(platform, joinPath(pciDir, 'acpi_index'))) ?? (await readTrimmed(platform, joinPath(pciDir, 'index')));
      if (index !== null && /^\d+$/.test(index)) onboardIndex = Number(index);
    }
    const mac = (await readTrimmed(platform, joinPath(netDir, kernelName, 'address'))) ?? '';
    const devPort = Number((await readTrimmed(platform, joinPath(netDir, kernelName, 'dev_port'))) ?? '0') || 0;
    const carrier = await readTrimmed(platform, joinPath(netDir, kernelName, 'carrier'));
    const { names: all, preferred } = predictableNames({
      kernelName,
      mac,
      pciAddress,
      onboardIndex,
      slot: pciAddress ? (slots.get(pciAddress.replace(/\.[0-7]$/, '')) ?? null) : null,
      devPort,
    });
    nics.push({ kernelName, mac: mac.toLowerCase(), link: carrier === '1', names: all, preferredName: preferred });
  }
  return nics;
}

async function readTrimmed(platform: Platform, path: string): Promise<string | null> {
  try {
    const text = (await platform.readText(path)).trim();
    return text === '' ? null : text;
  } catch {
    return null;
  }
}
