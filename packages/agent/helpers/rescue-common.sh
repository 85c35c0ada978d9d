# Shared by the rescue-* helpers (sourced, not run). Bash.
# State of what the helpers did, so that rescue-umount undoes exactly that: /run/lifeboat/rescue/
#   mounts      mount points, in the order they were mounted
#   arrays      md arrays rescue-mount/rescue-raid assembled
#   vgs         LVM volume groups rescue-mount activated
#   root        the device mounted at /mnt

# The agent's doctor mounts with its own state and target (RESCUE_STATE, RESCUE_TARGET) beside the customer's.
RESCUE_STATE=${RESCUE_STATE:-/run/lifeboat/rescue}
RESCUE_TARGET=${RESCUE_TARGET:-/mnt}
# While the agent's doctor has the installed system mounted in its own place, this file holds the
# agent's pid; the customer's rescue-mount waits for it to go (mounting the same file systems twice,
# one of them read-only without journal replay, would not be safe), and says "mounting" in its state
# meanwhile so that the doctor, seeing it, steps back and reads the customer's mount instead.
DOCTOR_BUSY=${DOCTOR_BUSY:-/run/lifeboat/doctor/busy}
# No udev in the rescue system: LVM must not wait for it nor ask it for devices.
LVM_CONFIG='devices{obtain_device_list_from_udev=0} activation{udev_sync=0 udev_rules=0}'

die() { # die CODE MESSAGE
  local code=$1
  shift
  echo "${0##*/}: $*" >&2
  exit "$code"
}
warn() { echo "${0##*/}: warning: $*" >&2; }
say() { echo "${0##*/}: $*"; }

require_root() {
  [ "$(id -u)" = 0 ] || die 1 "must run as root"
}

state_init() {
  mkdir -p "$RESCUE_STATE"
  touch "$RESCUE_STATE/mounts" "$RESCUE_STATE/arrays" "$RESCUE_STATE/vgs"
}

# The image's init loads the disk drivers in the background, and the agent reports the rescue ready
# (the customer may log in) before that ends: whatever looks at the disks waits for the marker init
# writes when it is done, at most $1 seconds (default 120). Outside the rescue image: no wait.
# Returns 1 when the drivers are still loading after the wait.
DRIVERS_MARKER=${DRIVERS_MARKER:-/run/lifeboat/drivers-loaded}
wait_for_drivers() {
  local limit=${1:-120} waited=0
  [ -e "$DRIVERS_MARKER" ] && return 0
  [ -x /usr/lib/lifeboat/rescue-rc ] || return 0
  echo "${0##*/}: waiting for the disk drivers to finish loading..." >&2
  while [ ! -e "$DRIVERS_MARKER" ]; do
    [ "$waited" -ge $((limit * 5)) ] && return 1
    sleep 0.2
    waited=$((waited + 1))
  done
  return 0
}

# Kernel modules the helpers need; built in or absent is fine.
load_modules() {
  local m
  for m in "$@"; do modprobe -q "$m" 2>/dev/null || true; done
}

lvm_cmd() { # lvm_cmd vgchange -ay ...
  local cmd=$1
  shift
  "$cmd" --config "$LVM_CONFIG" "$@"
}

# Active md arrays, one /dev/mdN per line.
active_arrays() {
  [ -r /proc/mdstat ] || return 0
  awk '/^md[0-9a-z_]* *:/ { print "/dev/" $1 }' /proc/mdstat
}

# Whether a path is a mount point (by /proc/self/mountinfo, which needs no extra tool).
is_mounted_at() {
  local want
  want=$(readlink -f "$1" 2>/dev/null || echo "$1")
  awk -v p="$want" '$5 == p { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# The device behind a file system spec (UUID=, LABEL=, PARTUUID=, PARTLABEL=, /dev/...); empty if none.
# blkid is asked directly (no cache): without udev there is no /dev/disk/by-*.
resolve_spec() {
  local spec=$1 dev=""
  spec=${spec//\"/}
  case $spec in
    UUID=* | LABEL=* | PARTUUID=* | PARTLABEL=*)
      dev=$(blkid -c /dev/null -o device -t "$spec" 2>/dev/null | head -n 1)
      ;;
    /dev/disk/by-uuid/*) dev=$(resolve_spec "UUID=${spec#/dev/disk/by-uuid/}") ;;
    /dev/disk/by-label/*) dev=$(resolve_spec "LABEL=${spec#/dev/disk/by-label/}") ;;
    /dev/disk/by-partuuid/*) dev=$(resolve_spec "PARTUUID=${spec#/dev/disk/by-partuuid/}") ;;
    /dev/*)
      if [ -b "$spec" ]; then dev=$(readlink -f "$spec"); fi
      ;;
  esac
  echo "$dev"
}

# File system type of a block device, from its superblock.
fs_type() {
  blkid -c /dev/null -o value -s TYPE "$1" 2>/dev/null || true
}

# Mount options that look at a file system without writing anything to it (no journal replay).
probe_options() {
  case $1 in
    ext3 | ext4) echo ro,noload ;;
    xfs) echo ro,norecovery ;;
    btrfs) echo ro,nologreplay ;;
    *) echo ro ;;
  esac
}

# Prints the PRETTY_NAME of the installed system on a device when it has /etc/os-release and
# /etc/fstab (a root file system); prints nothing otherwise. Writes nothing to the device.
probe_installed_system() {
  local dev=$1 type dir mp name=""
  type=$(fs_type "$dev")
  case $type in ext2 | ext3 | ext4 | xfs | btrfs) ;; *) return 0 ;; esac
  mp=$(awk -v d="$dev" '$1 == d { print $2; exit }' /proc/mounts)
  if [ -n "$mp" ]; then
    dir=$mp
  else
    dir=$(mktemp -d /run/lifeboat-probe.XXXXXX)
    if ! mount -t "$type" -o "$(probe_options "$type")" "$dev" "$dir" 2>/dev/null; then
      rmdir "$dir"
      return 0
    fi
  fi
  if [ -f "$dir/etc/fstab" ] && [ -e "$dir/etc/os-release" ]; then
    # Read, never sourced: the file belongs to the installed system, not to us.
    name=$(sed -n 's/^PRETTY_NAME=["'\'']\{0,1\}\([^"'\'']*\).*/\1/p' "$dir/etc/os-release" 2>/dev/null | head -n 1)
    echo "${name:-Linux}"
  fi
  if [ -z "$mp" ]; then
    umount "$dir"
    rmdir "$dir"
  fi
}

# Block devices that may hold a file system: partitions, whole disks without partitions, md, dm.
candidate_devices() {
  # Floppies are skipped: probing an empty drive costs seconds and holds no installed system.
  lsblk -rnpo NAME,TYPE 2>/dev/null | awk '$2 != "rom" && $2 != "loop" && $1 !~ /^\/dev\/fd[0-9]/ { print $1 }'
}

# A file system check run by the agent (a hardware test, `rescue-tests run fsck`) holds its device
# open with O_EXCL (the kernel then refuses any mount with EBUSY) and records the hold in
# $HOLDS_DIR/<kernel name>.json. check_hold DEVICE: prints who holds it and returns 0 when held.
HOLDS_DIR=${HOLDS_DIR:-/run/lifeboat/holds}
check_hold() {
  local name f id
  name=$(basename "$(readlink -f "$1")")
  f=$HOLDS_DIR/$name.json
  [ -f "$f" ] || return 1
  id=$(sed -n 's/.*"testId":"\([^"]*\)".*/\1/p' "$f")
  echo "a file system check of $name is running (test ${id:-?})"
}

# The customer's helpers only (the default state): announce the mount, then wait (at most $1
# seconds, default 300) while the doctor holds the installed system. Exit 5 if it still does.
wait_for_doctor() {
  [ "$RESCUE_STATE" = /run/lifeboat/rescue ] || return 0
  echo $$ >"$RESCUE_STATE/mounting"
  local waited=0 pid
  while [ -e "$DOCTOR_BUSY" ]; do
    pid=$(cat "$DOCTOR_BUSY" 2>/dev/null)
    { [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; } || break
    [ "$waited" = 0 ] && say "waiting for the rescue doctor to finish reading the installed system (rescue-doctor shows what it finds)..."
    [ "$waited" -ge "${1:-300}" ] && die 5 "the rescue doctor still has the installed system mounted after ${1:-300} s: try again in a moment"
    sleep 1
    waited=$((waited + 1))
  done
  return 0
}

# Windows volumes. Windows does not care about case, so neither do these lookups.
# windows_sam_path DIR: prints the SAM hive of the Windows tree at DIR (Windows/System32/config/SAM,
# any case), nothing when there is none.
windows_sam_path() {
  find "$1" -maxdepth 4 -ipath "$1/windows/system32/config/sam" -type f 2>/dev/null | head -n 1
}

# windows_hibernated DIR: prints "hibernated" when the volume at DIR holds a hiberfil.sys whose
# header says hibernated ("hibr"/"HIBR": hibernation or fast startup), the check ntfs-3g makes.
windows_hibernated() {
  local f
  f=$(find "$1" -maxdepth 1 -iname hiberfil.sys -type f 2>/dev/null | head -n 1)
  [ -n "$f" ] || return 0
  case $(head -c 4 "$f" 2>/dev/null | tr '[:upper:]' '[:lower:]') in hibr) echo hibernated ;; esac
}

# GPT partition types of a Windows disk (lower case, as blkid prints PART_ENTRY_TYPE).
GPT_ESP=c12a7328-f81f-11d2-ba4b-00a0c93ec93b
GPT_MSR=e3c9e316-0b5c-4db8-817d-f92df00215ae
GPT_WINDOWS_RECOVERY=de94bba4-06d1-4d40-a16a-bfd50179d6ac
# Where rescue-mount mounts a Windows system's EFI system partition (systemd's name for it).
RESCUE_ESP=${RESCUE_ESP:-/efi}

# Whether the file system mounted at DIR is mounted read-only.
mount_is_read_only() {
  awk -v m="$1" '$2 == m { split($4, o, ","); r = 0; for (i in o) if (o[i] == "ro") r = 1 } END { exit !r }' /proc/mounts
}

# Prints "windows" when DEV is an NTFS file system holding Windows/System32 (looked at read-only);
# nothing otherwise. The MSR has no file system and the recovery partition no Windows/System32.
probe_windows_system() {
  local dev=$1 dir mp found=""
  [ "$(fs_type "$dev")" = ntfs ] || return 0
  command -v ntfs-3g >/dev/null || return 0
  mp=$(awk -v d="$dev" '$1 == d { print $2; exit }' /proc/mounts)
  if [ -n "$mp" ]; then
    dir=$mp
  else
    dir=$(mktemp -d /run/lifeboat-probe.XXXXXX)
    if ! ntfs-3g -o ro "$dev" "$dir" 2>/dev/null; then
      rmdir "$dir"
      return 0
    fi
  fi
  [ -n "$(find "$dir" -maxdepth 2 -ipath "$dir/windows/system32" -type d 2>/dev/null | head -n 1)" ] && found=windows
  if [ -z "$mp" ]; then
    umount "$dir"
    rmdir "$dir"
  fi
  echo "$found"
}

# The product name of the Windows tree at DIR (SOFTWARE hive), when hivexget is here.
windows_product_name() {
  local hive
  command -v hivexget >/dev/null || return 0
  hive=$(find "$1" -maxdepth 4 -ipath "$1/windows/system32/config/software" -type f 2>/dev/null | head -n 1)
  [ -n "$hive" ] || return 0
  hivexget "$hive" 'Microsoft\Windows NT\CurrentVersion' ProductName 2>/dev/null | head -n 1
}
