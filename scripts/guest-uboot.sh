#!/usr/bin/env bash
# Boot Debian's arm64 Linux through U-Boot (-bios u-boot.bin) on the
# patched emulator with two file-backed sp-mem devices: U-Boot's distro
# boot finds our boot script on a virtio disk, the script loads the kernel
# and initramfs from that disk and runs booti with U-Boot's control device
# tree (the tree QEMU built, /reserved-memory included).  Checks what Linux
# reports: the /reserved-memory nodes, /proc/iomem, NUMA nodes and a word
# each way through /dev/mem, as scripts/guest-linux-dt.sh does, plus that
# the boot went through U-Boot and the script.  Needs
# build/qemu-system-aarch64 (scripts/build.sh); does not build QEMU.
# Last line: "guest-uboot: N passed, N failed".
#
# Choices:
#  - Firmware: Debian's u-boot-qemu (Architecture: all), its
#    usr/lib/u-boot/qemu_arm64/u-boot.bin.  The .deb is fetched with
#    "apt-get download" into the cache and unpacked with dpkg-deb into
#    build/guest/uboot/ (not installed).
#  - Kernel, busybox and initramfs: the same as guest-linux-dt.sh (the
#    kernel linux-image-cloud-arm64 depends on, busybox-static:arm64,
#    guest/linux/init packed by guest/linux/mkinitramfs.py), written
#    under build/guest/uboot/ so the two scenarios do not share files.
#  - How U-Boot gets the script: its default bootcmd is distro boot over
#    boot_targets "qfw usb0 scsi0 virtio0 ...".  No -kernel is given, so
#    qfw has nothing to load; virtio0 finds /boot.scr on partition 1 of a
#    virtio-mmio disk.  U-Boot wants a partition table for partition 1,
#    so the disk is an MBR (written here in Python) followed by an ext2
#    file system made with "mkfs.ext2 -d" (e2fsprogs): no root, no loop
#    device, no mtools.  boot.scr comes from guest/uboot/boot.cmd via
#    mkimage (u-boot-tools, installed by scripts/deps.sh).
#  - Addresses: U-Boot's own kernel_addr_r 0x40400000 and ramdisk_addr_r
#    0x44000000; the kernel Image (~27 MiB) ends well below the ramdisk.
#    U-Boot relocates itself and its device tree to the top of the 1 GiB
#    of RAM; sp-mem lies above RAM (0x80000000), outside U-Boot's DRAM.
set -uo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"
# shellcheck source=scripts/guest-linux-lib.sh
. "$(dirname "$0")/guest-linux-lib.sh"

LINUX_SRC=$TOP/guest/linux
UBOOT_SRC=$TOP/guest/uboot
OUT=$BUILD/guest/uboot
TIMEOUT=180

TEST_NAME=guest-uboot

# --- tools --------------------------------------------------------------------
guest_begin
command -v mkimage >/dev/null || { bad "no mkimage (package u-boot-tools)"; finish; }
MKFS=$(command -v mkfs.ext2 || echo /sbin/mkfs.ext2)
[ -x "$MKFS" ] || { bad "no mkfs.ext2 (package e2fsprogs)"; finish; }

# --- U-Boot ---------------------------------------------------------------------
UBOOT=$OUT/u-boot-qemu/usr/lib/u-boot/qemu_arm64/u-boot.bin
if guest_unpack u-boot-qemu "$OUT/u-boot-qemu" && [ -f "$UBOOT" ]; then
    ok "U-Boot from u-boot-qemu: ${UBOOT#"$TOP"/}"
else
    bad "fetch and unpack u-boot-qemu"
    finish
fi

# --- kernel, busybox, initramfs ------------------------------------------------
linux_kernel NUMA OF_NUMA
linux_busybox

# --- boot disk: MBR + ext2 with boot.scr, Image, initrd --------------------------
mkdir -p "$tmp/fs"
INITRD=$tmp/fs/initrd
linux_initramfs "$LINUX_SRC/init" "$INITRD"
if cp "$KERNEL" "$tmp/fs/Image" &&
   mkimage -A arm64 -O linux -T script -C none -n "sp-mem U-Boot guest" \
        -d "$UBOOT_SRC/boot.cmd" "$tmp/fs/boot.scr" >/dev/null; then
    :
else
    bad "copy the kernel and build boot.scr"
    finish
fi
cp "$tmp/fs/boot.scr" "$OUT/boot.scr"
# ext2 sized to its contents plus 8 MiB, starting at sector 2048.
fsmb=$(( $(du -sm "$tmp/fs" | cut -f1) + 8 ))
DISK=$OUT/disk.img
if "$MKFS" -q -F -L spmem-boot -d "$tmp/fs" "$tmp/fs.img" "${fsmb}M" >/dev/null &&
   python3 - "$tmp/mbr" "$((fsmb * 2048))" <<'PY' &&
import struct, sys
out, sectors = sys.argv[1], int(sys.argv[2])
# One bootable Linux partition at LBA 2048; CHS fields unused (0xfe 0xff 0xff).
ent = struct.pack("<B3sB3sII", 0x80, b"\xfe\xff\xff", 0x83, b"\xfe\xff\xff", 2048, sectors)
mbr = bytearray(1 << 20)
mbr[446:462] = ent
mbr[510:512] = b"\x55\xaa"
open(out, "wb").write(mbr)
PY
   cat "$tmp/mbr" "$tmp/fs.img" > "$DISK"; then
    ok "boot disk ${DISK#"$TOP"/}: MBR + ext2 with boot.scr, Image, initrd ($(stat -c %s "$DISK") bytes)"
else
    bad "build the boot disk"
    finish
fi

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
