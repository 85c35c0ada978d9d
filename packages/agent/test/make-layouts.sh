#!/bin/bash
# Run inside the rescue VM (bash -s): lays out the blank virtio disks the test attached as small
# "installed systems" (os-release, fstab, passwd/shadow, a static busybox as /bin/sh) in the five
# layouts the helpers must handle, with the image's own parted/mdadm/lvm/mkfs. Then stops the RAID
# array and deactivates LVM, so that rescue-mount has to find and start them itself.
#   vda        plain: ext4 root (UUID=) + swap + a missing nofail entry
#   vdb        split: ext4 root (LABEL=), /var by PARTUUID=, /home by /dev name
#   vdc + vdd  raid1: md0 (metadata 1.2) over vdc1+vdd1, ext4 root (UUID=)
#   vde        lvm:   VG labvg: LV root ext4 (/dev/mapper name), LV var xfs (UUID=)
#   vdf        xfs:   /boot ext4 (UUID=), xfs root (UUID=)
set -euo pipefail
LVM='devices{obtain_device_list_from_udev=0} activation{udev_sync=0 udev_rules=0}'
modprobe -a raid1 dm_mod ext4 crc32c_generic xfs 2>/dev/null || true
uuid() { blkid -c /dev/null -o value -s UUID "$1"; }
partuuid() { blkid -c /dev/null -o value -s PARTUUID "$1"; }
q() { "$@" >/dev/null 2>&1; }

# populate MOUNTPOINT NAME FSTAB: a minimal installed system on a mounted root.
populate() {
  local root=$1 name=$2 fstab=$3
  mkdir -p "$root"/{etc,bin,var,home,boot,dev,proc,sys,run,tmp,root,usr/lib,data}
  printf 'PRETTY_NAME="Lab Linux %s"\nNAME="Lab Linux"\nID=lab\n' "$name" >"$root/usr/lib/os-release"
  ln -sf ../usr/lib/os-release "$root/etc/os-release"
  printf '%s\n' "$fstab" >"$root/etc/fstab"
  printf 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:*:20000:0:99999:7:::\nalice:!:20000:0:99999:7:::\n' >"$root/etc/shadow"
  chmod 640 "$root/etc/shadow"
  printf 'root:x:0:\nalice:x:1000:\n' >"$root/etc/group"
  cp /usr/lib/lifeboat/busybox "$root/bin/busybox"
  ln -sf busybox "$root/bin/sh"
  ln -sf busybox "$root/bin/cat"
  echo "$name" >"$root/etc/layout"
}
m=/run/make-layouts
mkdir -p $m

# plain
q parted -s /dev/vda mklabel msdos mkpart primary ext4 1MiB 400MiB mkpart primary linux-swap 400MiB 100%
q mkfs.ext4 -q -F -L plain-root /dev/vda1
q mkswap /dev/vda2
mount /dev/vda1 $m
populate $m plain "UUID=$(uuid /dev/vda1) / ext4 errors=remount-ro 0 1
/dev/vda2 none swap sw 0 0
UUID=0b5e55ed-0000-4000-8000-000000000000 /data ext4 defaults,nofail 0 2"
umount $m

# split: root, /var, /home
q parted -s /dev/vdb mklabel gpt mkpart root ext4 1MiB 200MiB mkpart var ext4 200MiB 350MiB mkpart home ext4 350MiB 100%
q mkfs.ext4 -q -F -L split-root /dev/vdb1
q mkfs.ext4 -q -F -L split-var /dev/vdb2
q mkfs.ext4 -q -F -L split-home /dev/vdb3
mount /dev/vdb1 $m
populate $m split "LABEL=split-root / ext4 defaults 0 1
PARTUUID=$(partuuid /dev/vdb2) /var ext4 defaults 0 2
/dev/vdb3 /home ext4 defaults,nodev 0 2"
mkdir -p $m/var $m/home
umount $m
mount /dev/vdb2 $m && mkdir -p $m/log && echo split-var >$m/log/marker && umount $m
mount /dev/vdb3 $m && mkdir -p $m/alice && echo split-home >$m/alice/marker && umount $m

# raid1
for d in vdc vdd; do q parted -s /dev/$d mklabel msdos mkpart primary 1MiB 100% set 1 raid on; done
mdadm --create /dev/md0 --level=1 --raid-devices=2 --metadata=1.2 --bitmap=internal --run /dev/vdc1 /dev/vdd1 >/dev/null 2>&1
q mkfs.ext4 -q -F -L raid-root /dev/md0
mount /dev/md0 $m
populate $m raid1 "UUID=$(uuid /dev/md0) / ext4 defaults 0 1"
umount $m

# lvm
q parted -s /dev/vde mklabel msdos mkpart primary 1MiB 100% set 1 lvm on
q pvcreate --config "$LVM" -ff -y /dev/vde1
q vgcreate --config "$LVM" labvg /dev/vde1
q lvcreate --config "$LVM" -y -n root -L 160M labvg
q lvcreate --config "$LVM" -y -n var -L 320M labvg
q mkfs.ext4 -q -F -L lvm-root /dev/mapper/labvg-root
q mkfs.xfs -q -f -L lvm-var /dev/mapper/labvg-var
mount /dev/mapper/labvg-root $m
populate $m lvm "/dev/mapper/labvg-root / ext4 defaults 0 1
UUID=$(uuid /dev/mapper/labvg-var) /var xfs defaults 0 0"
umount $m
mount /dev/mapper/labvg-var $m && echo lvm-var >$m/marker && umount $m

# xfs root with /boot
q parted -s /dev/vdf mklabel msdos mkpart primary ext4 1MiB 64MiB mkpart primary xfs 64MiB 100%
q mkfs.ext4 -q -F -L xfs-boot /dev/vdf1
q mkfs.xfs -q -f -L xfs-root /dev/vdf2
mount /dev/vdf2 $m
populate $m xfs "UUID=$(uuid /dev/vdf2) / xfs defaults 0 0
UUID=$(uuid /dev/vdf1) /boot ext4 defaults 0 2"
umount $m
mount /dev/vdf1 $m && echo xfs-boot >$m/marker && umount $m

# Leave them as a server's disks look after a reboot: nothing assembled, nothing active.
q vgchange --config "$LVM" -an labvg
mdadm --stop /dev/md0 >/dev/null 2>&1
sync
echo layouts-ready
