#!/usr/bin/env bash
# Boot Debian's arm64 Linux directly (-kernel, device tree, no firmware)
# on the patched emulator with two file-backed sp-mem devices, and check
# what Linux reports: the /reserved-memory nodes, NUMA nodes, /proc/iomem,
# MemTotal, and a word each way through /dev/mem.  Needs
# build/qemu-system-aarch64 (scripts/build.sh); does not build QEMU.
# Last line: "linux-dt: N passed, N failed".
#
# Choices:
#  - Kernel: the package linux-image-cloud-arm64 depends on (resolved
#    with apt-cache), if its /boot/config-* has NUMA and OF_NUMA; else
#    the one linux-image-arm64 depends on.  The cloud flavour boots
#    faster (fewer drivers) and is enough for virt.  Its /boot/vmlinuz-*
#    is an uncompressed arm64 Image.
#  - busybox-static:arm64 for the userland.  Both .debs are fetched with
#    "apt-get download" into the cache and unpacked with dpkg-deb into
#    build/guest/linux/ (not installed).
#  - The initramfs (newc, gzip) is written by lib/guest/mkinitramfs.py:
#    busybox, lib/guest/init with the preamble it sources
#    (lib/guest/preamble.sh) and a /dev/console node; no cpio tool.
#  - /dev/mem is used through "busybox devmem" (mmap of /dev/mem): read()
#    of /dev/mem only covers mapped RAM on arm64, and STRICT_DEVMEM allows
#    mmap of a range that is neither RAM nor claimed by a driver.
#  - Devices and words: spmem_layout words (lib/guest.sh): 64-bit
#    little-endian words, the host's H at file offset 0x1000 and the
#    guest's G at 0x2000 (host_word, guest_word).
set -uo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/../../lib/common.sh"
# shellcheck source=lib/guest.sh
. "$TOP/lib/guest.sh"

GUEST_SRC=$TOP/lib/guest
OUT=$BUILD/guest/linux
TIMEOUT=120
spmem_layout words

# --- kernel, busybox, initramfs -------------------------------------------
guest_begin
linux_guest "$GUEST_SRC/init" NUMA OF_NUMA

# --- backends and host words ------------------------------------------------
spmem_backends "$tmp"

# --- boot ------------------------------------------------------------------
# nokaslr: the kernel's random placement changes the memory its page
# tables take by a page now and then, which would blur the MemTotal
# comparison below.
BASEARGS=(-M virt "${MACHINE[@]}"
          -kernel "$KERNEL" -initrd "$INITRD"
          -append "console=ttyAMA0 panic=-1 quiet nokaslr rdinit=/init")
boot_guest "$tmp/out" "${BASEARGS[@]}" "${SPMEM_ARGS[@]}"
grep '^spmem-' "$tmp/out" | grep -v '^spmem-iomem-all' | sed 's/^/  guest: /'

check_exit "$tmp/out"

check_dt_nodes "$tmp/out"
for d in "${DEVS[@]}"; do
    check_data "$tmp/out" "$d" "sp-mem@${ADDR[$d]#0x}" "$tmp/$d"
done

# The same machine without sp-mem (and the same nodes).
timeout "$TIMEOUT" "$QEMU" "${BASEARGS[@]}" "${NO_SPMEM_DIST[@]}" < /dev/null 2>&1 |
    tr -d '\r' > "$tmp/out0"
check_memtotal "$tmp/out" "$tmp/out0"
if grep -qx 'spmem-dt-count 0' "$tmp/out0"; then
    ok "without sp-mem: no sp-mem node under /proc/device-tree/reserved-memory"
else
    bad "without sp-mem: $(grep '^spmem-dt-count' "$tmp/out0" || echo 'no count line')"
fi

check_nodes "$tmp/out" node0 node1 node2

finish
