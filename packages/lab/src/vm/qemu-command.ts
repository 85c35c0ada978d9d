import { join } from 'node:path';

/** Where the files of one lab server's VM live, all inside its server directory. */
export function vmFiles(serverDir: string) {
  return {
    startScript: join(serverDir, 'start-vm.sh'),
    bootDevice: join(serverDir, 'boot-device'),
    pidfile: join(serverDir, 'qemu.pid'),
    qmpSocket: join(serverDir, 'qmp.sock'),
    serialSocket: join(serverDir, 'serial.sock'),
    serialLog: join(serverDir, 'serial.log'),
    qemuLog: join(serverDir, 'qemu.log'),
    serconPort: join(serverDir, 'sercon-port.bin'),
  };
}

/** What a lab server's VM is made of. */
export interface VmSpec {
  /** Server name, also the QEMU `-name` and the SMBIOS serial number. */
  readonly name: string;
  /** Directory holding the VM's sockets, pidfile and logs. */
  readonly serverDir: string;
  /** Fixed MAC of the virtio NIC (whose option ROM is iPXE). */
  readonly mac: string;
  /** SMBIOS/firmware UUID of the machine. */
  readonly uuid: string;
  /** Host port on 127.0.0.1 forwarded to the guest's port 22. */
  readonly sshPort: number;
  /** URL that QEMU's DHCP hands to iPXE as the boot file (the control plane's iPXE entry point). */
  readonly bootUrl: string;
  /** Disk images in order, attached to AHCI ports 0..5 (SATA, so SMART answers). */
  readonly disks: readonly { readonly path: string; readonly format: 'raw' | 'qcow2' }[];
  /**
   * Disk images attached as NVMe controllers (`nvme0n1`, `nvme1n1`, ...), never booted from: QEMU's
   * `nvme` device answers SMART / health log queries (`smartctl -a /dev/nvme0n1`). Lab servers get
   * their data disk here.
   */
  readonly nvmeDisks?: readonly { readonly path: string; readonly format: 'raw' | 'qcow2' }[];
  /** Guest RAM in MiB. */
  readonly memoryMiB: number;
  /** `tcg` (software emulation) unless a trial boot proved KVM works. */
  readonly accel: 'tcg' | 'kvm';
}

const NET_INDEX = '@NET_BOOTINDEX@';
const DISK_INDEX = '@DISK_BOOTINDEX@';

/**
 * QEMU's arguments for a VM, with boot-index placeholders that the start script fills from the stored
 * boot device. Boot order is given by `bootindex` (not `-boot order=`) because QEMU lets QMP change a
 * device's `bootindex` while it runs and applies it at the next reset, so a BMC's boot device is
 * honoured by a reset as well as by a power-on.
 */
export function qemuArguments(spec: VmSpec): string[] {
  const files = vmFiles(spec.serverDir);
  const args = [
    '-name', spec.name,
    '-accel', spec.accel,
    '-machine', 'pc',
    '-smp', '1',
    '-m', String(spec.memoryMiB),
    '-uuid', spec.uuid,
    '-smbios', `type=1,manufacturer=Lifeboat Lab,product=Lab Server,serial=${spec.name},uuid=${spec.uuid}`,
    '-display', 'none',
    '-monitor', 'none',
    '-qmp', `unix:${files.qmpSocket},server=on,wait=off`,
    '-chardev', `socket,id=serial0,path=${files.serialSocket},server=on,wait=off,logfile=${files.serialLog},logappend=on`,
    '-serial', 'chardev:serial0',
    // SeaBIOS mirrors its screen (and iPXE's) to COM1 when fw_cfg holds the port: the serial log then
    // shows firmware and netboot from the first byte, as a real BMC's serial-over-LAN does.
    '-fw_cfg', `name=etc/sercon-port,file=${files.serconPort}`,
    '-netdev', `user,id=n0,bootfile=${spec.bootUrl},hostfwd=tcp:127.0.0.1:${spec.sshPort}-:22`,
    '-device', `virtio-net-pci,netdev=n0,mac=${spec.mac},id=nic0,bootindex=${NET_INDEX}`,
    // When every boot device fails, retry from the top like a real server does instead of halting.
    '-boot', 'menu=off,strict=off,reboot-timeout=5000',
    '-device', 'ahci,id=ahci0',
    // Real servers have a hardware random source (RDRAND, a TPM); without one, a freshly booted guest
    // waits ~20 s under TCG for entropy before ssh-keygen can make its host keys.
    '-device', 'virtio-rng-pci',
  ];
  spec.disks.forEach((disk, i) => {
    args.push(
      '-drive', `if=none,id=drive${i},file=${disk.path},format=${disk.format},discard=unmap`,
      '-device', `ide-hd,drive=drive${i},bus=ahci0.${i},id=disk${i},serial=LAB-${spec.name}-${i},bootindex=${DISK_INDEX}${i}`,
    );
  });
  (spec.nvmeDisks ?? []).forEach((disk, i) => {
    args.push(
      '-drive', `if=none,id=nvmedrive${i},file=${disk.path},format=${disk.format},discard=unmap`,
      // The serial is required by QEMU's nvme device and is what `smartctl -i` shows.
      '-device', `nvme,drive=nvmedrive${i},id=nvme${i},serial=LABNVME-${spec.name}-${i}`,
    );
  });
  args.push('-pidfile', files.pidfile, '-daemonize');
  return args;
}

function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/**
 * The server's `start-vm.sh`: powers the VM on, network first or disk first as `boot-device` says
 * (`network`, the default, or `disk`). Shared by ipmi_sim's chassis control program and the Redfish
 * service, so both start the same machine. QEMU daemonizes: the script returns once the VM runs.
 */
export function startScript(spec: VmSpec, qemuBinary = 'qemu-system-x86_64'): string {
  const files = vmFiles(spec.serverDir);
  const args = qemuArguments(spec).map((arg) =>
    shellQuote(arg)
      .replace(NET_INDEX, `'"$net"'`)
      .replace(new RegExp(`${DISK_INDEX}(\\d+)`), (_m, i: string) => `'"$((disk + ${i}))"'`),
  );
  return [
    '#!/bin/sh',
    `# Powers on lab server ${spec.name}. Generated by lifeboat lab up; read by its BMCs.`,
    'set -e',
    `case "$(cat ${shellQuote(files.bootDevice)} 2>/dev/null || true)" in`,
    '  disk) disk=1; net=9 ;;',
    '  *) net=1; disk=2 ;;',
    'esac',
    `rm -f ${shellQuote(files.pidfile)}`,
    `exec ${qemuBinary} \\`,
    ...args.map((a) => `  ${a} \\`),
    `  2>>${shellQuote(files.qemuLog)}`,
    '',
  ].join('\n');
}

/** The content of `sercon-port.bin`: COM1's I/O port 0x3f8, as the little-endian integer SeaBIOS reads. */
export const serconPortBytes = Buffer.from([0xf8, 0x03]);

/** The `bootindex` of the NIC and of the first disk for a boot device, as `start-vm.sh` sets them. */
export function bootIndexes(device: 'network' | 'disk'): { net: number; disk: number } {
  return device === 'disk' ? { net: 9, disk: 1 } : { net: 1, disk: 2 };
}
