/**
 * What goes into the rescue root file system: Debian 12 packages, the dpkg paths left out, and the
 * kernel modules kept. Changing anything here changes the image's input hash (a rebuild).
 */

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
  // a shell worth using
  'tmux', 'nano', 'less', 'procps', 'iputils-ping', 'iproute2', 'apt',
  // the image's init (busybox: udhcpc, init) and module loading
  'busybox', 'kmod',
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
 * Kernel module path prefixes (under `/lib/modules/VERSION/kernel/`) removed from the image: hardware
 * and protocols a server being repaired does not use. What a kept module depends on stays anyway,
 * and so do {@link keptModules}.
 */
export const droppedModuleDirs: readonly string[] = [
  'drivers/hwmon', 'drivers/platform', 'drivers/watchdog', 'drivers/thermal', 'drivers/hid/hid-', 'drivers/input/mouse',
  'drivers/usb/atm', 'drivers/usb/image', 'drivers/usb/class', 'drivers/usb/dwc2', 'drivers/usb/dwc3', 'drivers/usb/cdns3',
  'drivers/usb/chipidea', 'drivers/usb/mtu3', 'drivers/usb/renesas_usbhs', 'drivers/usb/isp1760', 'drivers/usb/usbip',
  'drivers/gnss', 'drivers/most', 'drivers/ipack', 'drivers/slimbus', 'drivers/firewire', 'drivers/virt', 'drivers/uio',
  'drivers/net/dsa', 'drivers/net/ipa', 'drivers/net/fjes', 'drivers/net/netdevsim', 'drivers/net/wan', 'drivers/net/hippi',
  'drivers/scsi/aic7xxx', 'drivers/scsi/aic94xx', 'drivers/scsi/qla4xxx', 'drivers/scsi/bnx2i', 'drivers/scsi/cxlflash',
  'drivers/scsi/snic', 'drivers/scsi/fnic', 'drivers/scsi/pcmcia',
  ...[
    '3com', '8390', 'adaptec', 'agere', 'alacritech', 'alteon', 'altera', 'brocade', 'cadence', 'chelsio/cxgb/', 'chelsio/cxgb3',
    'dec', 'dlink', 'engleder', 'fungible', 'jme', 'litex', 'marvell/prestera', 'micrel', 'microchip', 'mscc', 'myricom',
    'natsemi', 'neterion', 'ni', 'packetengines', 'qualcomm', 'rdc', 'rocker', 'samsung', 'sis', 'smsc', 'socionext',
    'stmicro', 'sun', 'synopsys', 'tehuti', 'ti', 'via', 'wiznet', 'xilinx', 'xircom', 'vertexcom', 'davicom', 'ethoc',
    'fealnx', 'dnet', 'cirrus',
  ].map((vendor) => `drivers/net/ethernet/${vendor}${vendor.endsWith('/') ? '' : '/'}`),
  'net/mpls', 'net/netrom', 'net/rose', 'net/ax25', 'net/appletalk', 'net/x25', 'net/lapb', 'net/phonet', 'net/caif',
  'net/dccp', 'net/kcm', 'net/qrtr', 'net/9p',
  ...['9p', 'ufs', 'minix', 'omfs', 'qnx4', 'qnx6', 'romfs', 'sysv', 'befs', 'bfs', 'efs', 'hpfs', 'adfs', 'affs', 'freevxfs',
    'zonefs', 'vboxsf', 'cramfs', 'nilfs2', 'erofs'].map((fs) => `fs/${fs}/`),
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
  'arch/x86/kvm', 'drivers/crypto/qat', 'drivers/crypto/ccp',
].map((p) => (p.endsWith('/') || p.endsWith('-') ? p : `${p}/`));

/** Modules kept even under a dropped prefix (keyboards on the console need hid-generic). */
export const keptModules: readonly string[] = ['hid-generic'];

/**
 * Paths (relative to the root) removed after installation: caches, build-time leftovers and data only
 * udev or the installed system's boot would read. Host keys are generated at every boot instead.
 */
export const prunedPaths: readonly string[] = [
  'boot', 'var/cache/apt', 'var/lib/apt/lists', 'var/log', 'usr/lib/udev/hwdb.d', 'usr/lib/udev/hwdb.bin',
  'etc/ssh/ssh_host_rsa_key', 'etc/ssh/ssh_host_rsa_key.pub', 'etc/ssh/ssh_host_ecdsa_key', 'etc/ssh/ssh_host_ecdsa_key.pub',
  'etc/ssh/ssh_host_ed25519_key', 'etc/ssh/ssh_host_ed25519_key.pub', 'var/lib/dbus/machine-id',
];

/**
 * Directories named like this are removed wherever they are under /usr/lib: Python byte code compiled
 * at install time (Python, needed by xfsprogs' xfs_scrub_all only, runs without it).
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
