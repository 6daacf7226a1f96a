#!/usr/bin/env bash
# Set up, build, and show sp-mem on arm virt: two devices on two NUMA
# nodes, what the monitor reports, what the guest reads at the device's
# address, and the device-tree nodes a DT-booted guest receives.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"

bash "$TOP/scripts/build.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A file-backed device whose first bytes the host writes before boot.
truncate -s 256M "$work/hbm1"
printf 'sp-mem node 2 data from the host' | dd of="$work/hbm1" conv=notrunc status=none

ARGS=(-M virt -cpu max -smp 2 -m 1G,maxmem=4G -display none -nodefaults
      -object memory-backend-ram,id=ram0,size=1G
      -numa node,nodeid=0,memdev=ram0,cpus=0-1
      -numa node,nodeid=1 -numa node,nodeid=2
      -object memory-backend-ram,id=hbm0,size=512M
      -object memory-backend-file,id=hbm1,size=256M,mem-path="$work/hbm1",share=on
      -device sp-mem,id=spm0,memdev=hbm0,node=1
      -device sp-mem,id=spm1,memdev=hbm1,node=2)

echo "== $QEMU ${ARGS[*]}"
echo
echo "== monitor: info memory-devices, info numa, and the guest's view of spm1"
# Find spm1's address from the monitor, then read guest-physical memory there.
printf 'info memory-devices\ninfo numa\nquit\n' |
    "$QEMU" "${ARGS[@]}" -S -monitor stdio -serial none 2>&1 |
    tr -d '\r' | sed -e '/\x1b/d' -e '/^QEMU .* monitor/d' |
    tee "$work/monitor.txt"
addr=$(awk '/"spm1"/ {f = 1} f && /addr:/ {print $2; exit}' "$work/monitor.txt")
printf 'xp /32cb %s\nquit\n' "$addr" |
    "$QEMU" "${ARGS[@]}" -S -monitor stdio -serial none 2>&1 |
    tr -d '\r' | grep "^0000"

echo
echo "== device tree handed to the guest (-machine dumpdtb), sp-mem related nodes"
"$QEMU" "${ARGS[@]}" -machine dumpdtb="$work/virt.dtb" >/dev/null 2>&1
dtc -q -I dtb -O dts "$work/virt.dtb" |
    awk '/^\t(reserved-memory|distance-map) \{/ {p = 1} p {print} p && /^\t\};/ {p = 0}'
