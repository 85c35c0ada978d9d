/** The block devices worth exploring, from the rescue system's inventory (`lsblk --json` tree). */

/** A device a user can pick: its name as the explorer's routes take it, and what lsblk says of it. */
export interface ExplorableDevice {
  readonly name: string;
  readonly fstype: string | null;
  readonly label: string | null;
  readonly size: number | null;
}

interface LsblkNode {
  name?: unknown;
  kname?: unknown;
  path?: unknown;
  type?: unknown;
  fstype?: unknown;
  label?: unknown;
  size?: unknown;
  children?: unknown;
}

/** Filesystems the explorer can mount read-only (swap and RAID or LVM members are not browsable). */
const browsable = (fstype: string) => !/^(swap|linux_raid_member|LVM2_member|crypto_LUKS)$/.test(fstype);

/**
 * Every device with a browsable filesystem, depth first. LVM volumes are named `vg/lv` (the routes'
 * form), from their `/dev/mapper/vg-lv` path when lsblk gives one.
 */
export function explorableDevices(inventory: unknown): ExplorableDevice[] {
  const disks = (inventory as { disks?: unknown } | null)?.disks;
  const found: ExplorableDevice[] = [];
  const visit = (node: LsblkNode) => {
    const fstype = typeof node.fstype === 'string' ? node.fstype : null;
    const name = deviceName(node);
    if (name && fstype && browsable(fstype) && !found.some((device) => device.name === name)) {
      found.push({ name, fstype, label: typeof node.label === 'string' ? node.label : null, size: typeof node.size === 'number' ? node.size : null });
    }
    if (Array.isArray(node.children)) for (const child of node.children) if (child && typeof child === 'object') visit(child as LsblkNode);
  };
  if (Array.isArray(disks)) for (const disk of disks) if (disk && typeof disk === 'object') visit(disk as LsblkNode);
  return found;
}

function deviceName(node: LsblkNode): string | null {
  const name = typeof node.name === 'string' ? node.name : null;
  if (node.type === 'lvm' && name) {
    // lsblk names an LV `vg0-root` (dashes inside names doubled); the routes take `vg0/root`.
    const match = /^((?:[^-]|--)+)-((?:[^-]|--)+)$/.exec(name);
    if (match) return `${match[1]!.replaceAll('--', '-')}/${match[2]!.replaceAll('--', '-')}`;
  }
  return name;
}
