#!/bin/bash
# Run inside the rescue VM (bash -s): lays out blank virtio disks the test attached as small
# "installed systems" (os-release, fstab, passwd/shadow, a static busybox as /bin/sh) and data
# volumes, with the image's own parted/mdadm/lvm/mkfs. Then stops the RAID array and deactivates
# LVM, so that rescue-mount has to find and start them itself.
#   make-layouts.sh                        the five layouts below on vda..vdf
#   make-layouts.sh NAME=DISK[,DISK] ...   only the named ones, on the given disks (plain=vda vfat=vdc)
# Layouts (default disks):
#   plain=vda        ext4 root (UUID=) + swap + a missing nofail entry; alice's home holds a data set
#   split=vdb        ext4 root (LABEL=), /var by PARTUUID=, /home by /dev name
#   raid1=vdc,vdd    md0 (metadata 1.2) over vdc1+vdd1, ext4 root (UUID=)
#   lvm=vde          VG labvg: LV root ext4 (/dev/mapper name), LV var xfs (UUID=)
#   xfs=vdf          /boot ext4 (UUID=), xfs root (UUID=)
#   btrfs=DISK       (not in the default set) the whole disk one btrfs (label lab-btrfs, metadata
#                    single, so one copy of each tree block) holding the data set
#   vfat=DISK        (not in the default set) one MBR partition, FAT16 (label LABVFAT), the data set
set -euo pipefail
# "ready" comes before the disk drivers are loaded: wait for the image's marker (at most 2 min).
waited=0
while [ ! -e /run/lifeboat/drivers-loaded ]; do
  [ "$waited" -ge 600 ] && { echo "make-layouts: the disk drivers did not finish loading within 2 min" >&2; exit 1; }
  sleep 0.2
  waited=$((waited + 1))
done
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

# data_set DIR [posix]: files of known content (a random blob among them); with posix also a
# symlink, a hard link, a 0600 file and alice as owner, which only a POSIX file system keeps.
data_set() {
  local d=$1
  mkdir -p "$d/docs" "$d/nested/deep"
  printf 'notes of %s\n' "$d" >"$d/docs/readme.txt"
  printf 'a name with spaces\n' >"$d/docs/notes with spaces.txt"
  head -c 2097152 /dev/urandom >"$d/blob.bin"
  seq 1 20000 >"$d/nested/deep/numbers.txt"
  if [ "${2:-}" = posix ]; then
    ln -s docs/readme.txt "$d/readme-link"
    ln "$d/blob.bin" "$d/blob-hardlink.bin"
    printf 'secret of alice\n' >"$d/private.txt"
    chmod 600 "$d/private.txt"
    chown -R 1000:1000 "$d"
  fi
}
m=/run/make-layouts
mkdir -p $m
made_raid=0
made_lvm=0

layout_plain() {
  local d=/dev/$1
  q parted -s "$d" mklabel msdos mkpart primary ext4 1MiB 400MiB mkpart primary linux-swap 400MiB 100%
  q mkfs.ext4 -q -F -L plain-root "${d}1"
  q mkswap "${d}2"
  mount "${d}1" $m
  populate $m plain "UUID=$(uuid "${d}1") / ext4 errors=remount-ro 0 1
${d}2 none swap sw 0 0
UUID=0b5e55ed-0000-4000-8000-000000000000 /data ext4 defaults,nofail 0 2"
  data_set $m/home/alice posix
  umount $m
}

layout_split() { # root, /var, /home
  local d=/dev/$1
  q parted -s "$d" mklabel gpt mkpart root ext4 1MiB 200MiB mkpart var ext4 200MiB 350MiB mkpart home ext4 350MiB 100%
  q mkfs.ext4 -q -F -L split-root "${d}1"
  q mkfs.ext4 -q -F -L split-var "${d}2"
  q mkfs.ext4 -q -F -L split-home "${d}3"
  mount "${d}1" $m
  populate $m split "LABEL=split-root / ext4 defaults 0 1
PARTUUID=$(partuuid "${d}2") /var ext4 defaults 0 2
${d}3 /home ext4 defaults,nodev 0 2"
  mkdir -p $m/var $m/home
  umount $m
  mount "${d}2" $m && mkdir -p $m/log && echo split-var >$m/log/marker && umount $m
  mount "${d}3" $m && mkdir -p $m/alice && echo split-home >$m/alice/marker && umount $m
}

layout_raid1() {
  local a=/dev/$1 b=/dev/$2 d
  for d in "$a" "$b"; do q parted -s "$d" mklabel msdos mkpart primary 1MiB 100% set 1 raid on; done
  mdadm --create /dev/md0 --level=1 --raid-devices=2 --metadata=1.2 --bitmap=internal --run "${a}1" "${b}1" >/dev/null 2>&1
  made_raid=1
  q mkfs.ext4 -q -F -L raid-root /dev/md0
  mount /dev/md0 $m
  populate $m raid1 "UUID=$(uuid /dev/md0) / ext4 defaults 0 1"
  umount $m
}

layout_lvm() {
  local d=/dev/$1
  q parted -s "$d" mklabel msdos mkpart primary 1MiB 100% set 1 lvm on
  q pvcreate --config "$LVM" -ff -y "${d}1"
  q vgcreate --config "$LVM" labvg "${d}1"
  made_lvm=1
  q lvcreate --config "$LVM" -y -n root -L 160M labvg
  q lvcreate --config "$LVM" -y -n var -L 320M labvg
  q mkfs.ext4 -q -F -L lvm-root /dev/mapper/labvg-root
  q mkfs.xfs -q -f -L lvm-var /dev/mapper/labvg-var
  mount /dev/mapper/labvg-root $m
  populate $m lvm "/dev/mapper/labvg-root / ext4 defaults 0 1
UUID=$(uuid /dev/mapper/labvg-var) /var xfs defaults 0 0"
  umount $m
  mount /dev/mapper/labvg-var $m && echo lvm-var >$m/marker && umount $m
}

layout_xfs() { # xfs root with /boot
  local d=/dev/$1
  q parted -s "$d" mklabel msdos mkpart primary ext4 1MiB 64MiB mkpart primary xfs 64MiB 100%
  q mkfs.ext4 -q -F -L xfs-boot "${d}1"
  q mkfs.xfs -q -f -L xfs-root "${d}2"
  mount "${d}2" $m
  populate $m xfs "UUID=$(uuid "${d}2") / xfs defaults 0 0
UUID=$(uuid "${d}1") /boot ext4 defaults 0 2"
  umount $m
  mount "${d}1" $m && echo xfs-boot >$m/marker && umount $m
}

layout_btrfs() {
  local d=/dev/$1
  modprobe -q btrfs 2>/dev/null || true
  q mkfs.btrfs -q -f -m single -d single -L lab-btrfs "$d"
  mount "$d" $m
  data_set $m posix
  umount $m
}

layout_vfat() {
  local d=/dev/$1
  modprobe -q vfat 2>/dev/null || true
  q parted -s "$d" mklabel msdos mkpart primary fat16 1MiB 100%
  q mkfs.vfat -F 16 -n LABVFAT "${d}1"
  mount "${d}1" $m
  data_set $m
  umount $m
}

if [ $# -eq 0 ]; then
  set -- plain=vda split=vdb raid1=vdc,vdd lvm=vde xfs=vdf
fi
for spec in "$@"; do
  name=${spec%%=*}
  disks=${spec#*=}
  case $name in
    plain | split | raid1 | lvm | xfs | btrfs | vfat) ;;
    *) echo "make-layouts: unknown layout $name" >&2; exit 2 ;;
  esac
  [ "$disks" != "$spec" ] && [ -n "$disks" ] || { echo "make-layouts: $name needs =DISK" >&2; exit 2; }
  # shellcheck disable=SC2086 # a comma-separated disk list becomes the function's arguments
  "layout_$name" ${disks//,/ }
done

# Leave them as a server's disks look after a reboot: nothing assembled, nothing active.
[ $made_lvm = 1 ] && q vgchange --config "$LVM" -an labvg
[ $made_raid = 1 ] && mdadm --stop /dev/md0 >/dev/null 2>&1
sync
echo layouts-ready
