/**
 * What goes into the rescue root file system: Debian 12 packages, the dpkg paths left out, and the
 * kernel modules kept. Changing anything here changes the image's input hash (a rebuild).
 */

/** Debian suite the image is built from. */
export const suite = 'bookworm';

/**
 * The rescue tool set (issue 5) plus what the image's own init and the agent need. No recommends:
 * each package here is one someone asked for.
 */
export const rescuePackages: readonly string[] = [
  // log in and copy data off
  'openssh-server', 'openssh-client', 'rsync', 'curl', 'ca-certificates',
  // disks, partitions, file systems
  'util-linux', 'fdisk', 'gdisk', 'parted', 'e2fsprogs', 'xfsprogs', 'btrfs-progs', 'dosfstools', 'ntfs-3g',
  'mdadm', 'lvm2', 'cryptsetup', 'smartmontools', 'nvme-cli', 'hdparm', 'testdisk',
  // hardware tests
  'memtester', 'stress-ng', 'pciutils', 'dmidecode',
  // a shell worth using
  'tmux', 'nano', 'less', 'procps', 'iputils-ping', 'iproute2', 'apt',
  // the image's init (busybox: udhcpc, init) and module loading
  'busybox', 'kmod',
  // the agent
  'nodejs',
  // the kernel: vmlinuz is taken out, its modules stay (pruned)
  'linux-image-amd64',
];

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
 * Kernel module directories (under `/lib/modules/VERSION/kernel/`) removed from the image: hardware
 * and protocols a server being repaired does not use. What a kept module depends on stays anyway.
 */
export const droppedModuleDirs: readonly string[] = [
  'sound', 'drivers/gpu', 'drivers/media', 'drivers/staging', 'drivers/iio', 'drivers/infiniband',
  'drivers/bluetooth', 'drivers/net/wireless', 'drivers/net/can', 'drivers/net/wwan', 'drivers/net/ieee802154',
  'drivers/net/hamradio', 'drivers/net/arcnet', 'drivers/net/fddi', 'drivers/net/plip', 'drivers/net/slip', 'drivers/net/ppp',
  'drivers/comedi', 'drivers/isdn', 'drivers/mtd', 'drivers/video', 'drivers/target', 'drivers/input/joystick',
  'drivers/input/touchscreen', 'drivers/input/tablet', 'drivers/input/misc', 'drivers/hwmon/pmbus', 'drivers/mmc', 'drivers/memstick',
  'drivers/leds', 'drivers/power', 'drivers/regulator', 'drivers/pinctrl', 'drivers/gpio', 'drivers/spi', 'drivers/mfd',
  'drivers/w1', 'drivers/ntb', 'drivers/parport', 'drivers/pcmcia', 'drivers/atm', 'drivers/nfc', 'drivers/uwb',
  'drivers/vfio', 'drivers/vhost', 'drivers/hwtracing', 'drivers/fpga', 'drivers/misc', 'drivers/usb/gadget',
  'drivers/usb/serial', 'drivers/usb/misc', 'drivers/usb/musb', 'drivers/usb/typec', 'drivers/net/usb', 'drivers/platform/chrome',
  'drivers/platform/surface', 'drivers/hid/intel-ish-hid', 'drivers/thunderbolt', 'drivers/char/tpm', 'drivers/accessibility',
  'drivers/i2c/busses', 'drivers/extcon', 'drivers/iio', 'drivers/rtc', 'drivers/ssb', 'drivers/bcma', 'drivers/mux', 'drivers/soundwire',
  'drivers/scsi/qla2xxx', 'drivers/scsi/lpfc', 'drivers/scsi/bnx2fc', 'drivers/scsi/qedf', 'drivers/scsi/qedi', 'drivers/scsi/fcoe',
  'drivers/scsi/bfa', 'drivers/scsi/csiostor', 'drivers/scsi/cxgbi', 'drivers/scsi/be2iscsi', 'drivers/scsi/elx',
  'drivers/net/ethernet/mellanox/mlxsw', 'drivers/net/ethernet/netronome', 'drivers/net/ethernet/chelsio/inline_crypto',
  'drivers/net/ethernet/cavium', 'drivers/net/ethernet/qlogic/qed', 'drivers/net/ethernet/pensando', 'drivers/net/ethernet/marvell/octeontx2',
  'drivers/net/ethernet/huawei', 'drivers/net/ethernet/sfc/falcon', 'drivers/net/ethernet/sfc/siena',
  'net/wireless', 'net/mac80211', 'net/bluetooth', 'net/netfilter', 'net/ipv4/netfilter', 'net/ipv6/netfilter', 'net/bridge/netfilter',
  'net/ceph', 'net/rxrpc', 'net/rds', 'net/sctp', 'net/tipc', 'net/nfc', 'net/ieee802154', 'net/mac802154', 'net/can', 'net/batman-adv',
  'net/6lowpan', 'net/atm', 'net/l2tp', 'net/openvswitch', 'net/sched', 'net/sunrpc/xprtrdma', 'net/smc',
  'fs/ocfs2', 'fs/ceph', 'fs/gfs2', 'fs/nfsd', 'fs/dlm', 'fs/ubifs', 'fs/orangefs', 'fs/coda', 'fs/afs', 'fs/jffs2', 'fs/smb/server',
  'arch/x86/kvm', 'drivers/crypto/qat', 'drivers/crypto/ccp', 'drivers/platform/x86/intel',
];

/**
 * Paths (relative to the root) removed after installation: caches, build-time leftovers and data only
 * udev or the installed system's boot would read. Host keys are generated at every boot instead.
 */
export const prunedPaths: readonly string[] = [
  'boot', 'var/cache/apt', 'var/lib/apt/lists', 'var/log', 'usr/lib/udev/hwdb.d', 'usr/lib/udev/hwdb.bin',
  'etc/ssh/ssh_host_rsa_key', 'etc/ssh/ssh_host_rsa_key.pub', 'etc/ssh/ssh_host_ecdsa_key', 'etc/ssh/ssh_host_ecdsa_key.pub',
  'etc/ssh/ssh_host_ed25519_key', 'etc/ssh/ssh_host_ed25519_key.pub', 'var/lib/dbus/machine-id',
];

/** Modules without which the initrd cannot boot anything: a build fails without them. */
export const requiredInitrdModules: readonly string[] = ['loop', 'squashfs', 'overlay', 'virtio_pci', 'virtio_net'];

/**
 * Modules the small initrd carries: the boot NIC (whichever is present, loaded by alias), loop,
 * squashfs and overlay. Their dependencies come along.
 */
export const initrdModules: readonly string[] = [
  'loop', 'squashfs', 'overlay',
  'virtio_pci', 'virtio_net', 'e1000', 'e1000e', 'igb', 'igc', 'ixgbe', 'i40e', 'ice', 'bnxt_en', 'tg3', 'bnx2', 'bnx2x',
  'r8169', 'vmxnet3', 'hv_netvsc', 'xen-netfront', 'ena', 'mlx4_en', 'mlx5_core', 'qede', 'be2net', 'ixgbevf', 'iavf',
  'sfc', 'cxgb4', 'enic', 'atlantic', 'ionic',
];
