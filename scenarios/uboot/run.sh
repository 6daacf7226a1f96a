#!/usr/bin/env bash
# Boot Debian's arm64 Linux through U-Boot (-bios u-boot.bin) on the
# patched emulator with two file-backed sp-mem devices: U-Boot's distro
# boot finds our boot script on a virtio disk, the script loads the kernel
# and initramfs from that disk and runs booti with U-Boot's control device
# tree (the tree QEMU built, /reserved-memory included).  Checks what Linux
# reports: the /reserved-memory nodes, /proc/iomem, NUMA nodes and a word
# each way through /dev/mem, as linux-dt does, plus that
# the boot went through U-Boot and the script.  Needs
# build/qemu-system-aarch64 (scripts/build.sh); does not build QEMU.
# Last line: "uboot: N passed, N failed".
#
# Choices:
#  - Firmware: Debian's u-boot-qemu (Architecture: all), its
#    usr/lib/u-boot/qemu_arm64/u-boot.bin.  The .deb is fetched with
#    "apt-get download" into the cache and unpacked with dpkg-deb into
#    build/guest/uboot/ (not installed).
#  - Kernel, busybox, initramfs and devices: the same as linux-dt (the
#    kernel linux-image-cloud-arm64 depends on, busybox-static:arm64,
#    lib/guest/init packed by lib/guest/mkinitramfs.py, spmem_layout
#    words), written under build/guest/uboot/ so the two scenarios do
#    not share files.
#  - How U-Boot gets the script: its default bootcmd is distro boot over
#    boot_targets "qfw usb0 scsi0 virtio0 ...".  No -kernel is given, so
#    qfw has nothing to load; virtio0 finds /boot.scr on partition 1 of a
#    virtio-mmio disk.  U-Boot wants a partition table for partition 1,
#    so the disk is an MBR (written here in Python) followed by an ext2
#    file system made with "mkfs.ext2 -d" (e2fsprogs): no root, no loop
#    device, no mtools.  boot.scr comes from boot.cmd (here) via
#    mkimage (u-boot-tools, installed by scripts/deps.sh).
#  - Addresses: U-Boot's own kernel_addr_r 0x40400000 and ramdisk_addr_r
#    0x44000000; the kernel Image (~27 MiB) ends well below the ramdisk.
#    U-Boot relocates itself and its device tree to the top of the 1 GiB
#    of RAM; sp-mem lies above RAM (0x80000000), outside U-Boot's DRAM.
set -uo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/../../lib/common.sh"
# shellcheck source=lib/guest.sh
. "$TOP/lib/guest.sh"

LINUX_SRC=$TOP/lib/guest
UBOOT_SRC=$HERE
OUT=$BUILD/guest/uboot
TIMEOUT=180
spmem_layout words

# --- tools --------------------------------------------------------------------
guest_begin

# --- U-Boot ---------------------------------------------------------------------
uboot_firmware

# --- kernel, busybox, initramfs ------------------------------------------------
linux_kernel NUMA OF_NUMA
linux_busybox

# --- boot disk: MBR + ext2 with boot.scr, Image, initrd --------------------------
mkdir -p "$tmp/fs"
INITRD=$tmp/fs/initrd
linux_initramfs "$LINUX_SRC/init" "$INITRD"
cp "$KERNEL" "$tmp/fs/Image" || { bad "copy the kernel"; finish; }
DISK=$OUT/disk.img
boot_disk "$tmp/fs" "$UBOOT_SRC/boot.cmd" "$DISK"
cp "$tmp/fs/boot.scr" "$OUT/boot.scr"

# --- backends and host words ------------------------------------------------
spmem_backends "$tmp"

# --- boot ------------------------------------------------------------------
# The shared machine, with -bios instead of -kernel.  The
# disk is read-only to QEMU (snapshot=on): U-Boot and Linux never write it.
# shellcheck disable=SC2054   # commas inside option values
QARGS=(-M virt "${MACHINE[@]}"
       -bios "$UBOOT"
       -drive "if=none,file=$DISK,format=raw,id=d0,snapshot=on"
       -device virtio-blk-device,drive=d0)
boot_guest "$tmp/out" "${QARGS[@]}" "${SPMEM_ARGS[@]}"
grep -E '^(spmem-|U-Boot 20|Found U-Boot script)' "$tmp/out" |
    grep -v '^spmem-iomem-all' | sed 's/^/  guest: /'

check_exit "$tmp/out"

# Through U-Boot and our script, in that order, before Linux ran /init.
ub=$(grep -n -m1 '^U-Boot 20' "$tmp/out" | cut -d: -f1)
found=$(grep -n -m1 -x 'Found U-Boot script /boot.scr' "$tmp/out" | cut -d: -f1)
sc=$(grep -n -m1 '^spmem-uboot-script booti ' "$tmp/out" | cut -d: -f1)
kl=$(grep -n -m1 '^spmem-kernel ' "$tmp/out" | cut -d: -f1)
if [ -n "$ub" ] && [ -n "$found" ] && [ -n "$sc" ] && [ -n "$kl" ] &&
   [ "$ub" -lt "$found" ] && [ "$found" -lt "$sc" ] && [ "$sc" -lt "$kl" ] &&
   ! grep -q '^spmem-uboot-script booti failed' "$tmp/out"; then
    ok "booted through $(sed -n "${ub}p" "$tmp/out" | cut -d' ' -f1-2), distro boot found /boot.scr, the script ran booti: $(sed -n "${sc}p" "$tmp/out" | cut -d' ' -f3-)"
else
    bad "no U-Boot -> boot.scr -> booti -> Linux sequence (U-Boot line ${ub:-none}, script found ${found:-none}, booti ${sc:-none}, Linux /init ${kl:-none})"
fi

check_dt_nodes "$tmp/out"
for d in "${DEVS[@]}"; do
    check_data "$tmp/out" "$d" "sp-mem@${ADDR[$d]#0x}" "$tmp/$d"
done

check_nodes "$tmp/out" node0 node1 node2

# The same machine without sp-mem (and the same nodes).  Through U-Boot,
# MemTotal is not exactly repeatable: the same machine without sp-mem
# measured 1005532 kB in one run and 1005536 kB in others (nokaslr), so a
# page either way is allowed; a counted sp-mem device would add 32 MiB
# or more.
boot_guest "$tmp/out0" "${QARGS[@]}" "${NO_SPMEM_DIST[@]}"
check_memtotal "$tmp/out" "$tmp/out0" 4 "a 4 kB difference also occurs between runs without sp-mem"

finish
