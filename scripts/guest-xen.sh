#!/usr/bin/env bash
# Boot Debian's Xen 4.17 for arm64 with a Linux dom0 on the patched
# emulator with two file-backed sp-mem devices, and check what Xen and
# dom0 report: Xen's memory banks and reserved ranges (from its console
# ring), dom0's /reserved-memory nodes, /proc/iomem, MemTotal, and a word
# each way through /dev/mem in dom0.  Needs build/qemu-system-aarch64
# (scripts/build.sh); does not build QEMU.
# Last line: "guest-xen: N passed, N failed".
#
# Choices:
#  - Xen: boot/xen-4.17-arm64 of xen-hypervisor-4.17-arm64:arm64, started
#    with -kernel (QEMU loads it like a Linux Image and passes the DTB).
#    dom0: the same kernel and /init as scripts/guest-linux-dt.sh (the
#    cloud kernel has XEN_DOM0 and HVC_XEN), loaded with two
#    -device guest-loader (kernel with its bootargs, initrd), which Xen
#    finds as multiboot modules under /chosen.
#  - dom0_mem=256M: Xen maps dom0 1:1 and needs that much contiguous
#    free RAM; with 1 GiB of RAM, 512M fails ("Failed to allocate
#    requested dom0 memory").
#  - Xen/arm has no NUMA: it ignores numa-node-id and runs one node, so
#    dom0 has only node0.  A dom0 driver learns the node from the
#    reserved-memory node's numa-node-id, which Xen copies to dom0; that
#    is what is checked.
#  - Xen's "RAM:" and "RESVD[n]:" lines are printed before its serial
#    console starts, so they are only in its console ring.  Our /init
#    prints "spmem-xen-wait" under Xen and waits; the host then types
#    Ctrl-a three times (serial input to Xen), 'w' (dump the console ring),
#    Ctrl-a three times (back to dom0) and "go".  QEMU's serial is stdio;
#    its stdin is a FIFO this script writes to.
set -uo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source=scripts/guest-linux-lib.sh
. "$(dirname "$0")/guest-linux-lib.sh"

GUEST_SRC=$TOP/guest/linux
OUT=$BUILD/guest/xen
TIMEOUT=120
XEN_PKG=xen-hypervisor-4.17-arm64

TEST_NAME=guest-xen

# --- Xen, kernel, busybox, initramfs --------------------------------------
guest_begin
if guest_unpack "$XEN_PKG" "$OUT/xen" &&
        XEN=$(compgen -G "$OUT/xen/boot/xen-*-arm64" | head -1) &&
        [ -f "$XEN" ]; then
    ok "Xen ${XEN#"$TOP"/} ($XEN_PKG)"
else
    bad "fetch and unpack $XEN_PKG:arm64"
    finish
fi
linux_guest "$GUEST_SRC/init" NUMA OF_NUMA XEN_DOM0 HVC_XEN

# --- backends and host words ------------------------------------------------
spmem_backends "$tmp"

# --- boot ------------------------------------------------------------------
# RAM is 0x40000000-0x7fffffff; QEMU puts Xen at 0x40200000 and the DTB
# at 0x48000000.  dom0's kernel goes to 0x50000000, its initrd to the
# next 16 MiB boundary after it.
KADDR=0x50000000
IADDR=$(printf '0x%x' $(( (KADDR + $(stat -c %s "$KERNEL") + 0xffffff) & ~0xffffff )))
# shellcheck disable=SC2054   # commas inside option values
BASEARGS=(-M virt,virtualization=on,gic-version=3 "${MACHINE[@]}"
          -kernel "$XEN"
          -append "console=dtuart dtuart=serial0 dom0_mem=256M loglvl=all guest_loglvl=all"
          -device "guest-loader,addr=$KADDR,kernel=$KERNEL,bootargs=console=hvc0 panic=-1 quiet rdinit=/init"
          -device "guest-loader,addr=$IADDR,initrd=$INITRD")

# xen_typist PID RAW (boot_guest's BOOT_TYPIST): when dom0 asks, dump
# Xen's console ring and let dom0 go on.
xen_typist() {
    local i
    for ((i = 0; i < TIMEOUT * 10; i++)); do
        kill -0 "$1" 2>/dev/null || return
        if grep -q '^spmem-xen-wait' "$2"; then
            printf '\001\001\001w' >&3
            sleep 1
            printf '\001\001\001go\n' >&3
            return
        fi
        sleep 0.1
    done
}
BOOT_TYPIST=xen_typist

boot_guest "$tmp/out" "${BASEARGS[@]}" "${SPMEM_ARGS[@]}"
grep -E '^\(XEN\) (Xen version|RAM:|MODULE|  *RESVD|BANK|Hardware Dom0)' "$tmp/out" |
    sed 's/^/  xen: /'
grep '^spmem-' "$tmp/out" | grep -v '^spmem-iomem-all' | sed 's/^/  dom0: /'

check_exit "$tmp/out"
if grep -q '^(XEN) Xen version 4' "$tmp/out" &&
        grep -q '^spmem-xen-hypervisor xen,xen' "$tmp/out" &&
        grep -qx 'spmem-xen-reply go' "$tmp/out" &&
        grep -q '^(XEN) Hardware Dom0 halted' "$tmp/out"; then
    ok "Xen booted dom0 ($(sed -n 's/^(XEN) \(Xen version [^ ]*\).*/\1/p' "$tmp/out" | head -1)), dom0 saw /hypervisor, answered after the ring dump, and Xen halted when dom0 powered off"
else
    bad "Xen/dom0 markers missing: $(grep -E '^\(XEN\) (Xen version|Hardware Dom0)|^spmem-xen' "$tmp/out" | tr '\n' ';')"
fi

# --- Xen's memory map, from its console ring ----------------------------
# ring_ranges NAME: "START END" (inclusive, hex) of each "(XEN) NAME: S - E"
# line of the ring dump.
ring_ranges() {
    sed -n "s/^(XEN) *$1[^:]*: *\([0-9a-f]*\) - \([0-9a-f]*\).*/\1 \2/p" "$tmp/out" | sort -u
}
ram=$(ring_ranges 'RAM')
resvd=$(ring_ranges 'RESVD\[[0-9]*\]')
banks=$(sed -n 's/^(XEN) BANK\[[0-9]*\] 0x\([0-9a-f]*\)-0x\([0-9a-f]*\) .*/\1 \2/p' "$tmp/out" |
        while read -r s e; do printf '%s %x\n' "$s" $((0x$e - 1)); done)
if [ -z "$ram" ]; then
    bad "no '(XEN) RAM:' line from Xen's console ring; ring dump: $(grep -A3 "'w' pressed" "$tmp/out" | tr '\n' ';')"
fi
# overlaps LIST A SIZE: the ranges of LIST that overlap [A, A + SIZE).
overlaps() {
    local s e
    while read -r s e; do
        [ -n "$s" ] || continue
        if (( 0x$s < $2 + $3 && 0x$e >= $2 )); then
            echo "0x$s-0x$e"
        fi
    done <<< "$1"
}
for d in "${DEVS[@]}"; do
    a=${ADDR[$d]} n=${BYTES[$d]}
    want=$(printf '%016x %016x' "$a" $((a + n - 1)))
    o_ram=$(overlaps "$ram" "$a" "$n")
    o_bank=$(overlaps "$banks" "$a" "$n")
    if grep -qx "$want" <<< "$resvd" && [ -z "$o_ram" ] && [ -z "$o_bank" ]; then
        ok "$d: Xen lists $a+$n as a reserved bank (RESVD $want), no Xen RAM bank (heap) and no dom0 RAM bank overlaps it"
    else
        bad "$d: want RESVD '$want' and no overlap; RESVD: $(tr '\n' ';' <<< "$resvd") RAM overlapping: '$o_ram' dom0 banks overlapping: '$o_bank'"
    fi
done

# --- dom0 -----------------------------------------------------------------
check_dt_nodes "$tmp/out"
for d in "${DEVS[@]}"; do
    check_data "$tmp/out" "$d" "sp-mem@${ADDR[$d]#0x}" "$tmp/$d"
done

# The same machine without sp-mem (and the same nodes).  Xen hands dom0
# the reserved banks inside an extra /memory node; dom0 keeps them out of
# its allocator (no-map) but builds struct pages for them, so its MemTotal
# is lower with sp-mem by about that memmap (64 bytes per 4 KiB page of
# the 128 MiB sparse section that holds the ranges: 2 MiB), never higher.
boot_guest "$tmp/out0" "${BASEARGS[@]}" "${NO_SPMEM_DIST[@]}"
check_memtotal "$tmp/out" "$tmp/out0" 0 "lower by dom0's memmap for the reserved banks Xen adds to its /memory"
if grep -qx 'spmem-dt-count 0' "$tmp/out0"; then
    ok "without sp-mem: dom0 sees no sp-mem node"
else
    bad "without sp-mem: $(grep '^spmem-dt-count' "$tmp/out0" || echo 'no count line')"
fi
echo "  dom0 NUMA nodes: $(sed -n 's/^spmem-nodes //p' "$tmp/out") (Xen/arm has no NUMA; the node is the numa-node-id above)"

finish
