#!/usr/bin/env bash
# Boot Debian's Xen for arm64 (4.17 and 4.20, XEN_VERSIONS) with a Linux
# dom0 on the patched emulator with two file-backed sp-mem devices, and
# check, for each release, what Xen and dom0 report: Xen's memory banks
# and reserved ranges (from its console ring), dom0's /reserved-memory
# nodes, /proc/iomem, MemTotal, and a word each way through /dev/mem in
# dom0.  Needs build/qemu-system-aarch64 (scripts/build.sh); does not
# build QEMU.  XEN_DOM0_KERNEL=IMAGE boots another arm64 Image as dom0
# with the same initramfs and checks.
# Last line: "xen: N passed, N failed".
#
# Choices:
#  - Xen: boot/xen-V-arm64 of xen-hypervisor-V-arm64:arm64 (4.17 from
#    bookworm, 4.20 from trixie), started with -kernel (QEMU loads it like
#    a Linux Image and passes the DTB).
#    dom0: the same kernel and /init as linux-dt (the cloud kernel has
#    XEN_DOM0 and HVC_XEN), loaded with two -device guest-loader (kernel
#    with its bootargs, initrd), which Xen finds as multiboot modules
#    under /chosen.  Xen's command line, dom0_mem and its reason
#    included, and the addresses: xen_args in lib/guest.sh.
#  - Xen/arm has no NUMA: it ignores numa-node-id and runs one node, so
#    dom0 has only node0.  A dom0 driver learns the node from the
#    reserved-memory node's numa-node-id, which Xen copies to dom0; that
#    is what is checked.
#  - Xen's "RAM:" and "RESVD[n]:" lines are printed before its serial
#    console starts, so they are only in its console ring.  Our /init
#    waits for "start" under Xen (after a dom0less domain finished), then
#    prints "spmem-xen-wait" and waits again; the host then types
#    Ctrl-a three times until Xen says serial input goes to Xen, 'w'
#    (dump the console ring), Ctrl-a until input goes to DOM0 and "go"
#    (xen_typist in lib/guest.sh).  QEMU's serial is stdio; its stdin is
#    a FIFO this script writes to.
set -uo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/../../lib/common.sh"
# shellcheck source=lib/guest.sh
. "$TOP/lib/guest.sh"

GUEST_SRC=$TOP/lib/guest
OUT=$BUILD/guest/xen
TIMEOUT=120
spmem_layout words

# --- kernel, busybox, initramfs -------------------------------------------
guest_begin
xen_dom0_guest "$GUEST_SRC/init" NUMA OF_NUMA XEN_DOM0 HVC_XEN

# --- boot ------------------------------------------------------------------
BOOT_TYPIST=xen_typist

# xen_release V: boot Xen V with and without sp-mem and check.
xen_release() {
    local v=$1 xen_out=$BUILD/guest/xen/xen-$1
    echo
    echo "--- Xen $v ---"
    xen_hypervisor "$v" "$xen_out" || return
    OUT=$BUILD/guest/xen/$v
    xen_args "$KERNEL" "$INITRD"
    spmem_backends "$tmp"

    boot_guest "$tmp/out" "${XEN_ARGS[@]}" "${SPMEM_ARGS[@]}"
    xen_print "$tmp/out"
    grep '^spmem-' "$tmp/out" | grep -v '^spmem-iomem-all' | sed 's/^/  dom0: /'

    check_exit "$tmp/out"
    if grep -q "^(XEN) Xen version $v" "$tmp/out" &&
            grep -q '^spmem-xen-hypervisor xen,xen' "$tmp/out" &&
            grep -qx 'spmem-xen-reply go' "$tmp/out" &&
            grep -q '^(XEN) Hardware Dom0 halted' "$tmp/out"; then
        ok "Xen booted dom0 ($(sed -n 's/^(XEN) \(Xen version [^ ]*\).*/\1/p' "$tmp/out" | head -1)), dom0 saw /hypervisor, answered after the ring dump, and Xen halted when dom0 powered off"
    else
        bad "Xen $v/dom0 markers missing: $(grep -E '^\(XEN\) (Xen version|Hardware Dom0)|^spmem-xen' "$tmp/out" | tr '\n' ';')"
    fi

    # Xen's memory map, from its console ring.
    xen_check_banks "$tmp/out" "${DEVS[@]}"

    # dom0.
    check_dt_nodes "$tmp/out"
    for d in "${DEVS[@]}"; do
        check_data "$tmp/out" "$d" "sp-mem@${ADDR[$d]#0x}" "$tmp/$d"
    done

    # The same machine without sp-mem (and the same nodes).  Xen hands
    # dom0 the reserved banks inside an extra /memory node; dom0 keeps
    # them out of its allocator (no-map) but builds struct pages for
    # them, so its MemTotal is lower with sp-mem by about that memmap (64
    # bytes per 4 KiB page of the 128 MiB sparse section that holds the
    # ranges: 2 MiB), never higher.
    boot_guest "$tmp/out0" "${XEN_ARGS[@]}" "${NO_SPMEM_DIST[@]}"
    check_memtotal "$tmp/out" "$tmp/out0" 0 "lower by dom0's memmap for the reserved banks Xen adds to its /memory"
    if grep -qx 'spmem-dt-count 0' "$tmp/out0"; then
        ok "without sp-mem: dom0 sees no sp-mem node"
    else
        bad "without sp-mem: $(grep '^spmem-dt-count' "$tmp/out0" || echo 'no count line')"
    fi
    echo "  dom0 NUMA nodes: $(sed -n 's/^spmem-nodes //p' "$tmp/out") (Xen/arm has no NUMA; the node is the numa-node-id above)"
}

for v in $XEN_VERSIONS; do
    xen_release "$v"
done

finish
