#!/bin/sh
# Lifeboat's initramfs: bring up the network, fetch the rescue root file system named by
# lifeboat.rootfs= over HTTP into RAM, mount it under an overlay and switch into it.
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
log() {
  read -r uptime _ < /proc/uptime
  echo "lifeboat-initrd: $* ($uptime s since boot)" > /dev/console
}
fail() {
  log "$*"
  log "cannot continue; a shell follows (the rescue system did not start)"
  exec setsid cttyhack sh
}

# /proc is moved into the new root below: read the command line now.
rootfs_url=
for word in $(cat /proc/cmdline); do
  case "$word" in lifeboat.rootfs=*) rootfs_url="${word#lifeboat.rootfs=}" ;; esac
done
[ -n "$rootfs_url" ] || fail "no lifeboat.rootfs=URL on the kernel command line"
log "starting (rootfs $rootfs_url)"

# Drivers for the hardware present (the NIC above all), then what the root file system needs.
# A bus driver (virtio_pci) brings new devices (virtio NICs) with aliases of their own: repeat
# until no new alias shows up.
# One process a pass (each start costs tens of milliseconds under emulation): the list is counted
# by the shell, duplicates go to modprobe as they are.
seen=-1
pass=0
while [ "$pass" -lt 4 ]; do
  pass=$((pass + 1))
  aliases=$(cat /sys/bus/*/devices/*/modalias 2>/dev/null)
  set -f; set -- $aliases; set +f
  [ "$#" -ne "$seen" ] || break
  seen=$#
  modprobe -a -q "$@" 2>/dev/null
done
modprobe -a -q loop squashfs overlay || fail "cannot load the modules loop, squashfs and overlay"
log "drivers loaded"

ip link set lo up
nics=
tries=0
while [ -z "$nics" ] && [ "$tries" -lt 50 ]; do
  for path in /sys/class/net/*; do
    nic="${path##*/}"
    [ "$nic" = lo ] || nics="$nics $nic"
  done
  [ -n "$nics" ] || { tries=$((tries + 1)); sleep 0.1; }
done
[ -n "$nics" ] || fail "no network interface found"

mkdir -p /media
mount -t tmpfs -o mode=0700 tmpfs /media
attempt=0
booted_nic=
while [ -z "$booted_nic" ]; do
  attempt=$((attempt + 1))
  for nic in $nics; do
    ip link set "$nic" up
    udhcpc -i "$nic" -n -q -t 4 -T 1 -A 1 -s /lib/lifeboat/udhcpc.script > /dev/null 2>&1 || continue
    log "fetching the root file system through $nic"
    if wget -q -O /media/rootfs.squashfs "$rootfs_url"; then
      booted_nic="$nic"
      break
    fi
    log "could not fetch $rootfs_url through $nic"
  done
  [ -n "$booted_nic" ] && break
  [ "$attempt" -lt 5 ] || fail "no DHCP lease or no root file system on any of:$nics"
  sleep 2
done

mkdir -p /newroot /overlay
mount -t tmpfs -o mode=0755 tmpfs /overlay
mkdir -p /overlay/lower /overlay/upper /overlay/work
log "fetched"
mount -t squashfs -o loop,ro /media/rootfs.squashfs /overlay/lower || fail "cannot mount the root file system (corrupt download?)"
mount -t overlay overlay -o lowerdir=/overlay/lower,upperdir=/overlay/upper,workdir=/overlay/work /newroot || fail "cannot mount the overlay"

# Lifeboat's own files (init, agent, helpers) live in this initrd, not in the cached squashfs.
cp -a /lib/lifeboat/root/. /newroot/
cp /bin/busybox /newroot/usr/lib/lifeboat/busybox
[ -f /etc/resolv.conf ] && cp /etc/resolv.conf /newroot/etc/resolv.conf
echo "$booted_nic" > /newroot/etc/lifeboat-boot-nic

mkdir -p /newroot/run/lifeboat
mount -t tmpfs -o mode=0755 tmpfs /newroot/run
mkdir -p /newroot/run/lifeboat/media /newroot/run/lifeboat/overlay
mount --move /media /newroot/run/lifeboat/media 2>/dev/null
mount --move /overlay /newroot/run/lifeboat/overlay
mount --move /dev /newroot/dev
mount --move /sys /newroot/sys
log "switching to the rescue system"
mount --move /proc /newroot/proc
exec switch_root /newroot /usr/lib/lifeboat/busybox init
