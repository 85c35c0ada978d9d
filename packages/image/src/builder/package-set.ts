/**
 * What goes into the rescue root file system: Debian 12 packages, the dpkg paths left out, and the
 * kernel modules kept. Changing anything here changes the image's input hash (a rebuild).
 */

import { builtImageProfiles } from '@lifeboat/core';

/** Debian suite the image is built from. */
export const suite = 'bookworm';

/**
 * The rescue tool set (issue 5) plus what the image's own init needs (the agent and its runtime come in the initrd,
 * through `rescueFiles()` of @lifeboat/agent). No recommends: each package here is one someone asked for.
 */
export const rescuePackages: readonly string[] = [
  // log in and copy data off
  'openssh-server', 'openssh-client', 'rsync', 'curl', 'ca-certificates',
  // disks, partitions, file systems
  'util-linux', 'fdisk', 'gdisk', 'parted', 'e2fsprogs', 'xfsprogs', 'btrfs-progs', 'dosfstools', 'ntfs-3g',
  'mdadm', 'lvm2', 'cryptsetup', 'smartmontools', 'nvme-cli', 'hdparm', 'testdisk',
  // hardware tests
  'memtester', 'stress-ng', 'pciutils', 'dmidecode',
  // the installed system's journal, read by the explorer (`journalctl --directory`); only journalctl stays: packageFilesKept
  'systemd',
  // a shell worth using
  'tmux', 'nano', 'less', 'procps', 'iputils-ping', 'iproute2', 'apt',
  // the image's init (busybox: udhcpc, init) and module loading
  'busybox', 'kmod',
  // the kernel: vmlinuz is taken out, its modules stay (pruned)
  'linux-image-amd64',
];

/** The rescue images one can build: `linux` (the tool set above) and `windows` (that plus a desktop and WinRescue's jobs). */
export const imageProfiles = builtImageProfiles;

/** One of {@link imageProfiles}. */
export type ImageProfile = (typeof imageProfiles)[number];

/** Whether `value` names an image profile. */
export function isImageProfile(value: string): value is ImageProfile {
  return (imageProfiles as readonly string[]).includes(value);
}

/**
 * What the `windows` profile adds to {@link rescuePackages}: WinRescue's jobs (issue 16) done with Debian's
 * free tools, and a light desktop reached over VNC. Choices, measured on Debian 12's dependencies:
 * - VNC: tigervnc-standalone-server's `Xtigervnc` is the X server and the VNC server in one program; Xvfb +
 *   x11vnc needs two servers and x11vnc pulls Tcl/Tk. Either X server depends on libgl1 (Mesa).
 * - window manager: openbox (1.3 MB) rather than icewm (2.7 MB + icewm-common, libao, libsndfile, librsvg) or
 *   Xfce (dozens of packages). Its only Python program, `openbox-xdg-autostart`, goes with Python: {@link prunedPaths}.
 * - ms-sys is not in Debian 12: `mbr`'s `install-mbr` writes a boot loader into an MBR (see docs/rescue-image.md).
 */
export const windowsPackages: readonly string[] = [
  // the desktop: X server + VNC server, window manager, terminal, browser, file manager
  'tigervnc-standalone-server', 'openbox', 'xterm', 'firefox-esr', 'pcmanfm',
  // Windows accounts and registry hives (NTPWEdit, ActivNIC), NTFS repair, boot sectors and EFI boot entries (BootSect)
  // (hivexregedit is in libwin-hivex-perl; libhivex-bin has hivexsh, hivexget, hivexml)
  'chntpw', 'libhivex-bin', 'libwin-hivex-perl', 'mbr', 'efibootmgr',
  // antivirus (signatures only when the customer runs freshclam), transfers, archives, CD images
  'clamav', 'clamav-freshclam', 'filezilla', 'p7zip-full', 'bchunk',
];

/** A program of a profile and the Debian package it comes from (listed in the image's manifest with its version). */
export interface ProfileTool {
  readonly command: string;
  readonly package: string;
}

/** The programs the `windows` profile promises (docs/rescue-image.md), each with its package. */
export const windowsTools: readonly ProfileTool[] = [
  { command: 'Xtigervnc', package: 'tigervnc-standalone-server' },
  { command: 'openbox', package: 'openbox' },
  { command: 'xterm', package: 'xterm' },
  { command: 'firefox-esr', package: 'firefox-esr' },
  { command: 'pcmanfm', package: 'pcmanfm' },
  { command: 'chntpw', package: 'chntpw' },
  { command: 'hivexregedit', package: 'libwin-hivex-perl' },
  { command: 'hivexsh', package: 'libhivex-bin' },
  { command: 'ntfsfix', package: 'ntfs-3g' },
  { command: 'install-mbr', package: 'mbr' },
  { command: 'efibootmgr', package: 'efibootmgr' },
  { command: 'testdisk', package: 'testdisk' },
  { command: 'photorec', package: 'testdisk' },
  { command: 'clamscan', package: 'clamav' },
  { command: 'freshclam', package: 'clamav-freshclam' },
  { command: 'filezilla', package: 'filezilla' },
  { command: '7z', package: 'p7zip-full' },
  { command: 'bchunk', package: 'bchunk' },
  { command: 'smartctl', package: 'smartmontools' },
  { command: 'parted', package: 'parted' },
  { command: 'sgdisk', package: 'gdisk' },
];

/**
 * A smoke run of each tool of the windows profile that prints something (the desktop's programs need an X
 * display: the image's tests start them on its Xtigervnc): a shell command line and what its output must
 * show; each must exit 0 (`|| true` where the tool's own help exits non-zero). Run in a chroot of the
 * image (packages/image/test/windows-tools.test.ts) and in a booted windows rescue (e2e/windows-rescue.vm.test.ts).
 */
export const windowsToolSmokeChecks: ReadonlyArray<readonly [string, RegExp]> = [
  ['chntpw -h', /chntpw: change password of a user in a Windows SAM file/],
  ['ntfsfix --version', /ntfsfix v\d/],
  ['testdisk /version', /TestDisk \d/],
  ['photorec /version', /PhotoRec \d/],
  ['clamscan --version', /ClamAV \d/],
  ['freshclam --version', /ClamAV \d/],
  ['7z i', /7-Zip/],
  ['bchunk 2>&1 || true', /Usage: bchunk .*<image\.bin> <image\.cue> <basename>/s],
  ['smartctl -V', /smartctl \d/],
  ['parted -v', /parted \(GNU parted\) \d/],
  ['sgdisk -V', /GPT fdisk \(sgdisk\) version \d/],
  // pod2usage's --help exits 1; the usage shows that Perl loaded Win::Hivex (a missing module stops it before)
  ['hivexregedit --help 2>&1 || true', /hivexregedit --export \[--prefix prefix\] hivefile key/],
  ['echo help | hivexsh', /Navigate through the hive's keys using the 'cd' command/],
  ['install-mbr --version', /install-mbr \d/],
  ['efibootmgr --version', /version \d/],
  ['firefox-esr --version', /Mozilla Firefox \d+/],
  ['Xtigervnc -version 2>&1', /TigerVNC/],
];

/** The Debian packages of a profile's image. */
export function profilePackages(profile: ImageProfile): readonly string[] {
  return profile === 'windows' ? [...rescuePackages, ...windowsPackages] : rescuePackages;
}

/** The programs a profile's manifest lists (the `linux` profile's are {@link rescuePackages}' own: none listed one by one). */
export function profileTools(profile: ImageProfile): readonly ProfileTool[] {
  return profile === 'windows' ? windowsTools : [];
}

/** dpkg `path-exclude`/`path-include` options: documentation and translations are not installed. */
export const dpkgPathFilters: readonly string[] = [
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/locale/*',
  'path-include=/usr/share/locale/locale.alias',
  'path-exclude=/usr/share/lintian/*',
];

/**
 * Kernel modules are kept by an allow list: what a server in a hosting rescue needs (storage
 * controllers, the file systems servers use, server NICs, USB keyboards and sticks, IPMI, sensors and
 * EDAC for hardware tests, virtual machine guests). Every other module goes, unless a kept one
 * depends on it (modules.dep). Directories under `/lib/modules/VERSION/kernel/` whose modules all stay:
 */
export const keptModuleDirs: readonly string[] = [
  // storage: SATA/PATA, NVMe, SAS/RAID HBAs (the SCSI ones are named below), software RAID, device mapper
  'drivers/ata', 'drivers/nvme/host', 'drivers/md', 'drivers/message/fusion', 'drivers/scsi/device_handler', 'drivers/block/mtip32xx',
  'drivers/block/zram', 'drivers/usb/storage',
  // dm-crypt's ciphers and the kernel crypto API (cryptsetup asks for algorithms by name)
  'crypto', 'arch/x86/crypto',
  // file systems a server uses
  'fs/ext4', 'fs/jbd2', 'fs/xfs', 'fs/btrfs', 'fs/fat', 'fs/exfat', 'fs/isofs', 'fs/udf', 'fs/fuse', 'fs/squashfs',
  'fs/overlayfs', 'fs/efivarfs', 'fs/quota',
  // server NICs (big vendors), their PHYs, bonding and VLANs
  'drivers/net/ethernet/intel', 'drivers/net/ethernet/broadcom', 'drivers/net/ethernet/mellanox/mlx4', 'drivers/net/ethernet/mellanox/mlx5',
  'drivers/net/ethernet/realtek', 'drivers/net/ethernet/amazon', 'drivers/net/ethernet/aquantia', 'drivers/net/ethernet/emulex',
  'drivers/net/ethernet/qlogic/qede', 'drivers/net/ethernet/chelsio/cxgb4', 'drivers/net/ethernet/cisco',
  'drivers/net/ethernet/google', 'drivers/net/ethernet/microsoft', 'drivers/net/ethernet/amd/xgbe', 'drivers/net/phy', 'drivers/net/bonding',
  'net/8021q',
  // USB host controllers, keyboards (USB HID)
  'drivers/usb/host', 'drivers/hid/usbhid',
  // IPMI, hardware random sources, error detection (EDAC), CPU registers (msr, cpuid) and performance counters
  'drivers/char/ipmi', 'drivers/char/hw_random', 'drivers/edac', 'arch/x86/kernel', 'arch/x86/events',
  // virtual machine guests: virtio, Xen, Hyper-V, VMware
  'drivers/virtio', 'drivers/xen', 'drivers/hv', 'drivers/net/hyperv', 'drivers/net/vmxnet3',
  // the rest of the kernel's own: block layer schedulers, PCI, ACPI
  'block', 'drivers/pci', 'drivers/acpi',
];

/** Modules kept wherever they are, by name (`-` and `_` alike), beside {@link keptModuleDirs} and the initrd's. */
export const keptModules: readonly string[] = [
  // SCSI core, disks, CD, generic, enclosures, SAS/RAID HBAs and virtual controllers
  'sd_mod', 'sr_mod', 'sg', 'ses', 'st', 'scsi_transport_sas', 'scsi_transport_spi', 'raid_class', 'megaraid', 'megaraid_sas', 'megaraid_mbox',
  'mpt3sas', 'mpi3mr', 'hpsa', 'smartpqi', 'aacraid', 'arcmsr', 'esas2r', 'hptiop', 'ipr', 'ips', 'isci', 'mvsas', 'mvumi', 'pm80xx',
  'myrb', 'myrs', 'pmcraid', 'stex', '3w-9xxx', '3w-sas', '3w-xxxx', 'sym53c8xx', 'virtio_scsi', 'vmw_pvscsi', 'hv_storvsc',
  'xen-scsifront', 'virtio_blk', 'xen-blkfront', 'loop', 'nbd', 'brd',
  // file system character sets (FAT, ISO 9660)
  'nls_utf8', 'nls_cp437', 'nls_cp850', 'nls_iso8859-1', 'nls_iso8859-15', 'nls_ascii',
  // NICs and network drivers outside the vendor directories
  'virtio_net', 'xen-netfront', 'pcnet32', 'mii', 'mdio',
  // keyboards, consoles of virtual machines
  'hid-generic', 'hid-hyperv', 'hyperv-keyboard', 'virtio_input', 'virtio_console', 'evdev',
  // sensors for hardware tests: CPU, chipset, Super I/O, DIMM and drive temperatures; the SMBus they sit on
  'coretemp', 'k10temp', 'fam15h_power', 'acpi_power_meter', 'nct6775', 'nct6683', 'it87', 'w83627ehf', 'w83627hf', 'w83793', 'w83795',
  'f71882fg', 'jc42', 'drivetemp', 'ibmaem', 'ibmpex', 'i2c-i801', 'i2c-piix4', 'i2c-ismt', 'i2c-dev', 'ee1004', 'at24',
];

/** Modules dropped even inside {@link keptModuleDirs} (tests, cluster RAID needing DLM), unless a kept module depends on them. */
export const droppedModules: readonly string[] = [
  'tcrypt', 'md-cluster', 'faulty', 'dm-flakey', 'dm-delay', 'dm-log-writes', 'dm-dust',
  // NVMe over fabrics (RDMA pulls InfiniBand), Xen backends (dom0 only), PCMCIA and laptop leftovers, NVDIMM
  'nvme-rdma', 'nvme-fc', 'xen-scsiback', 'xen-pciback', 'b44', 'sl811_cs', 'sl811-hcd', 'u132-hcd', 'nfit',
];

/**
 * Paths (relative to the root) removed after installation: caches, build-time leftovers and data only
 * udev or the installed system's boot would read. Host keys are generated at every boot instead.
 */
export const prunedPaths: readonly string[] = [
  'boot', 'var/cache/apt', 'var/lib/apt/lists', 'var/log', 'usr/lib/udev/hwdb.d', 'usr/lib/udev/hwdb.bin',
  'etc/ssh/ssh_host_rsa_key', 'etc/ssh/ssh_host_rsa_key.pub', 'etc/ssh/ssh_host_ecdsa_key', 'etc/ssh/ssh_host_ecdsa_key.pub',
  'etc/ssh/ssh_host_ed25519_key', 'etc/ssh/ssh_host_ed25519_key.pub', 'var/lib/dbus/machine-id',
  // programs that need the files of {@link prunedPackageFiles}: xfsprogs' online scrubber (ICU, Python), iproute2's routel (Python)
  'usr/sbin/xfs_scrub', 'usr/sbin/xfs_scrub_all', 'usr/lib/xfsprogs/xfs_scrub_all.cron', 'usr/bin/routel',
  // systemd's message catalog, built by its postinst: only `journalctl -x` reads it
  'var/lib/systemd/catalog',
];

/**
 * Packages whose files are deleted from the image while dpkg's database still lists them (so `apt` keeps
 * working, and `apt update && apt install --reinstall PACKAGE` brings them back). ICU and Python serve
 * only xfsprogs' online scrubber, `xfs_scrub` and `xfs_scrub_all`, which Debian 12's kernel cannot run
 * (it is built without CONFIG_XFS_ONLINE_SCRUB); `xfs_repair` is the rescue tool. Their programs go
 * too: {@link prunedPaths}.
 */
export const prunedPackageFiles: readonly string[] = [
  'libicu72', 'python3', 'python3-minimal', 'python3.11', 'python3.11-minimal', 'libpython3-stdlib', 'libpython3.11-minimal',
  'libpython3.11-stdlib',
];

/**
 * What the `windows` profile's dependencies bring that its programs never load, found by reading every ELF
 * file's `NEEDED` entries in the unpacked image (docs/rescue-image.md, "Size"): about 215 MB unpacked.
 * - Mesa's DRI drivers (libgl1-mesa-dri, pulled by the X server's libgl1) and the LLVM and Z3 they alone
 *   link (135 MB): Xtigervnc draws in memory and runs without GLX; Firefox renders in software.
 * - imlib2's HEIF, JPEG XL and PostScript loaders (openbox reads icons with imlib2) and what they alone
 *   link: libheif with its codecs (x265, AOM, dav1d, libde265), libjxl with Highway, libspectre with
 *   Ghostscript and its data (poppler-data, libgs10-common) and Ghostscript's own libraries.
 */
export const windowsPrunedPackageFiles: readonly string[] = [
  'libgl1-mesa-dri', 'libllvm15', 'libz3-4',
  'libheif1', 'libx265-199', 'libaom3', 'libdav1d6', 'libde265-0', 'libjxl0.7', 'libhwy1',
  'libspectre1', 'libgs10', 'libgs10-common', 'poppler-data', 'libjbig2dec0', 'libidn12', 'libijs-0.35', 'libpaper1',
];

/** The imlib2 loaders whose libraries {@link windowsPrunedPackageFiles} removes (dlopen would fail on them). */
const windowsPrunedPaths: readonly string[] = ['heif', 'jxl', 'ps'].map((loader) => `usr/lib/x86_64-linux-gnu/imlib2/loaders/${loader}.so`);

/**
 * {@link prunedPackageFiles} of a profile. The `windows` profile keeps ICU: libxml2 (ClamAV, the desktop's
 * libraries) links it, and drops {@link windowsPrunedPackageFiles}. Python goes in both (openbox's
 * `openbox-xdg-autostart` is its only user, and goes too).
 */
export function profilePrunedPackageFiles(profile: ImageProfile): readonly string[] {
  return profile === 'windows' ? [...prunedPackageFiles.filter((name) => name !== 'libicu72'), ...windowsPrunedPackageFiles] : prunedPackageFiles;
}

/** {@link prunedPaths} of a profile: the `windows` one also drops openbox's Python program and three imlib2 loaders. */
export function profilePrunedPaths(profile: ImageProfile): readonly string[] {
  return profile === 'windows' ? [...prunedPaths, 'usr/lib/x86_64-linux-gnu/openbox-xdg-autostart', ...windowsPrunedPaths] : prunedPaths;
}

/**
 * Packages whose files are deleted from the image except those named (dpkg's paths, `*` within one path
 * segment) and their copyright files, dpkg's database still listing the package. systemd (9.7 MB
 * unpacked) is there for `journalctl` alone: the image's init is a plain script, never systemd; of
 * libsystemd-shared, journalctl loads the shared library, not systemd's core (2 MB).
 */
export const packageFilesKept: Readonly<Record<string, readonly string[]>> = {
  systemd: ['/bin/journalctl'],
  'libsystemd-shared': ['/usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-*.so'],
};

/**
 * Directories named like this are removed wherever they are under /usr/lib: Python byte code compiled
 * at install time.
 */
export const prunedDirNames: readonly string[] = ['__pycache__'];

/** glibc's iconv modules kept (the rest, 8 MB of legacy code pages, go). */
export const keptGconvModules: readonly string[] = ['UTF-16.so', 'UTF-32.so', 'UTF-7.so', 'ISO8859-1.so', 'ISO8859-15.so', 'IBM850.so', 'IBM437.so'];

/** Modules without which the initrd cannot boot anything: a build fails without them. */
export const requiredInitrdModules: readonly string[] = ['loop', 'squashfs', 'overlay', 'virtio_pci', 'virtio_net'];

/**
 * Modules the small initrd carries: the boot NIC (whichever is present, loaded by alias), loop,
 * squashfs and overlay. Their dependencies come along.
 */
export const initrdModules: readonly string[] = [
  'loop', 'squashfs', 'overlay', 'virtio_rng',
  'virtio_pci', 'virtio_net', 'e1000', 'e1000e', 'igb', 'igc', 'ixgbe', 'i40e', 'ice', 'bnxt_en', 'tg3', 'bnx2', 'bnx2x',
  'r8169', 'vmxnet3', 'hv_netvsc', 'xen-netfront', 'ena', 'mlx4_en', 'mlx5_core', 'qede', 'be2net', 'ixgbevf', 'iavf',
  'sfc', 'cxgb4', 'enic', 'atlantic', 'ionic',
];
