#!/bin/sh
# ipmi_sim's chassis_control program for one lab server (see lanserv/bmc_chassis.c in OpenIPMI):
#   chassis-control.sh SERVER_DIR get power|boot ...        prints "power:1", "boot:pxe", ...
#   chassis-control.sh SERVER_DIR set power 0|1 reset 1 shutdown 1 boot none|pxe|default ...
# Power on runs the server's start-vm.sh (QEMU daemonizes, so ipmi_sim's popen returns); off, reset and
# soft-off go to QEMU through QMP. The boot device is stored in SERVER_DIR/boot-device for the next
# power-on and, on a running VM, applied to the devices' bootindex for the next reset.
# ipmi_sim reads stdout: errors go there too, and a non-zero exit fails the IPMI command.
dir=$1
op=$2
[ -n "$dir" ] && [ -n "$op" ] || { echo "usage: $0 SERVER_DIR get|set PARM [VALUE] ..."; exit 1; }
shift 2
. "$dir/chassis-control.conf" # node=..., qmp=..., disks=N

pidfile="$dir/qemu.pid"
running() {
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  state=$(sed 's/.*) \(.\).*/\1/' "/proc/$pid/stat" 2>/dev/null)
  [ "$state" != Z ] && grep -qa qemu-system "/proc/$pid/cmdline" 2>/dev/null
}
qmp() {
  "$node" "$qmp" "$dir/qmp.sock" "$@" >/dev/null || { echo "QMP $1 failed"; exit 1; }
}
set_bootindex() {
  qmp qom-set "{\"path\":\"/machine/peripheral/$1\",\"property\":\"bootindex\",\"value\":$2}"
}
apply_boot_device() {
  running || return 0
  if [ "$1" = disk ]; then net=9; first=1; else net=1; first=2; fi
  # No two devices may hold the same index at any moment: park them all first.
  set_bootindex nic0 30
  i=0; while [ "$i" -lt "$disks" ]; do set_bootindex "disk$i" $((20 + i)); i=$((i + 1)); done
  set_bootindex nic0 "$net"
  i=0; while [ "$i" -lt "$disks" ]; do set_bootindex "disk$i" $((first + i)); i=$((i + 1)); done
}
power_off() {
  running || return 0
  "$node" "$qmp" "$dir/qmp.sock" quit >/dev/null 2>&1
  n=0
  while running; do
    n=$((n + 1))
    if [ "$n" -eq 100 ]; then kill -9 "$pid" 2>/dev/null; fi
    if [ "$n" -gt 150 ]; then echo "QEMU $pid did not stop"; exit 1; fi
    sleep 0.1
  done
}

case $op in
  get)
    for parm in "$@"; do
      case $parm in
        power) if running; then echo "power:1"; else echo "power:0"; fi ;;
        boot) if [ "$(cat "$dir/boot-device" 2>/dev/null)" = disk ]; then echo "boot:default"; else echo "boot:pxe"; fi ;;
        *) echo "Invalid parameter: $parm"; exit 1 ;;
      esac
    done
    ;;
  set)
    while [ $# -gt 0 ]; do
      parm=$1
      [ $# -ge 2 ] || { echo "No value for $parm"; exit 1; }
      val=$2
      shift 2
      case $parm in
        power)
          if [ "$val" = 1 ]; then
            running || /bin/sh "$dir/start-vm.sh" >/dev/null 2>&1 || { echo "QEMU did not start, see $dir/qemu.log"; exit 1; }
          else
            power_off
          fi
          ;;
        reset) [ "$val" = 1 ] && { running || { echo "power is off"; exit 1; }; qmp system_reset; } ;;
        shutdown) [ "$val" = 1 ] && { running || exit 0; qmp system_powerdown; } ;;
        boot)
          case $val in
            pxe) echo network > "$dir/boot-device"; apply_boot_device network ;;
            default) echo disk > "$dir/boot-device"; apply_boot_device disk ;;
            none) ;;
            *) echo "Unsupported boot device: $val"; exit 1 ;;
          esac
          ;;
        identify) shift ;; # identify takes "interval force"; there is no light to blink
        *) echo "Invalid parameter: $parm"; exit 1 ;;
      esac
    done
    ;;
  check) exit 1 ;;
  *) echo "Unknown operation: $op"; exit 1 ;;
esac
