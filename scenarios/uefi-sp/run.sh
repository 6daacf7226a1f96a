#!/usr/bin/env bash
# Boot Debian's arm64 Linux through our UEFI firmware (EDK2 ArmVirtQemu +
# edk2, edk2/build.sh) on the patched emulator with
# two file-backed sp-mem devices, and check that the guest gets them as
# specific-purpose memory: EFI_MEMORY_SP in the UEFI memory map, "Soft
# Reserved" in /proc/iomem, one /dev/daxX.Y per range on the device's
# node (dax_hmem), a pattern each way through an mmap of the dax device,
# and daxctl turning one device into system-ram that comes online on its
# node.  Boots (each about 6-15 s under TCG):
#   acpi    Linux 6.12 (bookworm-backports) with ACPI: node from the SRAT
#   dt      the same kernel with acpi=off: the firmware hands over QEMU's
#           device tree, plus a memory node with numa-node-id per range
#           (edk2 0002: Linux reads a node only from memory
#           nodes; under UEFI it takes the memory type from the UEFI map)
#   nospdt  the same without sp-mem: the firmware adds no memory node
#   hmat61  Debian's Linux 6.1 (bookworm) with ACPI, -machine hmat=on and
#           HMAT entries for the sp-mem nodes: the unmodified kernel sees
#           the SP ranges as Soft Reserved, the HMAT and the nodes, but
#           creates no dax device (Debian's CONFIG_DAX=m turns
#           DEV_DAX_HMEM_DEVICES off), which is checked with the evidence
#   hmat61dax the same machine with our build of 6.1 (DAX=y, everything
#           built in; linux/build.sh 6.1): one dax device per range
#           at the node of its HMAT target (6.1 takes the node from the
#           HMAT), the patterns through it, daxctl to system-ram
#   hmat612 the same with 6.12 and the two devices adjacent (as QEMU
#           places them by default): EDK2 merges adjacent descriptors of
#           the same type and attributes, so the UEFI map and /proc/iomem
#           have one range over both; HMAT splits it into a dax device per
#           node (without HMAT, Linux would make one device of it)
#   nosp    6.12 with ACPI and no sp-mem: no SP descriptor, no Soft
#           Reserved, NUMA on, MemTotal as with sp-mem
# Needs build/qemu-system-aarch64 (scripts/build.sh); builds the firmware
# and the 6.1 kernel of hmat61dax (both cached; cold, the kernel is a
# download of 138 MB and some minutes of compiling).  Last line:
# "guest-uefi-sp: N passed, N failed[, N skipped]".
#
# Choices:
#  - Kernels: the package linux-image-cloud-arm64 depends on, in
#    bookworm-backports (6.12) and in bookworm (6.1), each with its own
#    dax modules (device_dax, dax_hmem, kmem and what they depend on:
#    decompressed from its .deb into the initramfs, loaded with insmod;
#    kmem only right before daxctl).  SPMEM_KERNEL_612 and SPMEM_KERNEL_61
#    name other linux-image-* packages.  hmat61dax boots upstream 6.1.176
#    from Debian's source package with our linux/config-6.1
#    (linux/build.sh 6.1): no modules, an initramfs without any.
#  - Device mode: from Linux 6.3 on, dax_hmem offers its devices to kmem
#    first; the guest puts each unclaimed one in device mode with
#    "daxctl reconfigure-device --mode=devdax" before mapping it.
#  - Devices sized for daxctl (spmem_layout dax in lib/guest.sh): s0 is
#    256 MiB on node 1 and s1 is 128 MiB on node 2, whole 128 MiB memory
#    blocks at explicit addresses with a gap (adjacent ranges merge, see
#    hmat612); s1 becomes system-ram.
#  - Patterns, not single words: 64 KiB of 64-bit words, word i =
#    SEED + i * 0x9e3779b97f4a7c15; the host writes seed
#    H = 0x484f535400000000 ^ BASE ^ NODE at 0x10000 of each backend file,
#    the guest checks it through mmap(/dev/daxX.Y) and writes seed
#    G = 0x4c494e5800000000 ^ BASE ^ NODE at 0x40000 (lib/guest/dax/daxmap.c,
#    static, built with aarch64-linux-gnu-gcc), which the host checks in
#    the file after power-off.
#  - daxctl: Debian's arm64 daxctl with the shared libraries it needs and
#    the arm64 dynamic loader, from the .debs (linux_userland).
#  - NUMA: Debian's AAVMF 2022.11 makes Linux fake one node (its flash at
#    0x04000000 is EFI MMIO with the WC attribute, which arm64 Linux puts
#    in memblock without a node; uefi-acpi).  EDK2 2025.02
#    reports that flash as MMIO|RUN|UC only, so nothing is needed: the
#    checks of nodes 1 and 2 and of each dax node are made, not skipped.
#  - The firmware's SMBIOS version string ("...+sp-mem") shows that the
#    boot used our build; efi=debug makes the kernel log the UEFI map.
set -uo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/../../lib/common.sh"
# shellcheck source=lib/guest.sh
. "$TOP/lib/guest.sh"

OUT=$BUILD/guest/uefi-sp
TIMEOUT=300
K61=$BUILD/guest/linux-6.1

# The devices and the patterns (see Choices).
spmem_layout dax
RAM_DEV=s1
ROFF=0x10000 WOFF=0x40000 PLEN=0x10000


# --- firmware, kernels, initramfs ---------------------------------------------

guest_begin
dax_tools
edk2_firmware
# Our Linux 6.1 with the dax core built in (hmat61dax).
t0=$(date +%s%N)
if bash "$TOP/linux/build.sh" 6.1 && [ -s "$K61/Image" ] && [ -s "$K61/config" ]; then
    ok "Linux $(cat "$K61/release") ${K61#"$TOP"/}/Image ($(grep -E '^CONFIG_(DAX|DEV_DAX_HMEM_DEVICES)=|^# CONFIG_MODULES ' "$K61/config" | paste -sd ' ')), linux/build.sh 6.1 took $(since "$t0")s"
else
    bad "linux/build.sh 6.1"
    finish
fi

k612=${SPMEM_KERNEL_612:-$(kernel_of linux-image-cloud-arm64 bookworm-backports)}
LINUX_KERNEL_PKG=$k612 linux_kernel NUMA ACPI_NUMA EFI_STUB EFI_SOFT_RESERVE ACPI_HMAT DEV_DAX_HMEM_DEVICES
KERNEL_612=$KERNEL
initramfs_for 612 device_dax dax_hmem kmem
# Debian's 6.1 kernels build the dax core as a module, which turns
# DEV_DAX_HMEM_DEVICES off; see the hmat61 boot.
LINUX_KERNEL_PKG=${SPMEM_KERNEL_61:-} linux_kernel NUMA ACPI_NUMA EFI_STUB EFI_SOFT_RESERVE ACPI_HMAT
KERNEL_61=$KERNEL
initramfs_for 61 device_dax dax_hmem kmem
# Our 6.1 (linux/build.sh 6.1): no modules, the guest loads none;
# its /lib/modules has the index of the built-in drivers (for daxctl).
INITRAMFS_ROOT=$K61/root initramfs_for 61dax
spmem_spec_arg

# boot LABEL KERNEL INITRD MACHINE-OPTS APPEND [QEMU-ARG...]: one boot of
# our firmware; output in $tmp/out-LABEL.
boot() {
    local label=$1 kernel=$2 initrd=$3 mopts=$4 append=$5
    shift 5
    uefi_pflash "$tmp/vars-$label.fd"
    echo "--- boot $label: $(basename "$kernel"), -M virt,$mopts, append: $append"
    boot_guest "$tmp/out-$label" -M "virt,$mopts" "${MACHINE[@]}" "${UEFI_PFLASH[@]}" \
        -kernel "$kernel" -initrd "$initrd" \
        -append "console=ttyAMA0 panic=-1 quiet nokaslr efi=debug rdinit=/init $append" "$@"
    check_exit "$tmp/out-$label"
    boot_summary "$label"
}

# --- acpi: 6.12, ACPI ----------------------------------------------------------
spmem_backends "$tmp" put_host_pattern
boot acpi "$KERNEL_612" "$OUT/initrd-612.cpio.gz" acpi=on \
    "acpi=force spmem=$spmem_arg spmem-pat=$ROFF:$WOFF:$PLEN spmem-ram=$RAM_DEV spmem-mods=$MODS_612" \
    "${SPMEM_ARGS[@]}"
# Our build's version string ends in "+sp-mem" (edk2/build.sh).
if grep -q '^spmem-bios .* / .*+sp-mem / ' "$tmp/out-acpi"; then
    ok "acpi: the firmware is ours (SMBIOS: $(sed -n 's/^spmem-bios //p' "$tmp/out-acpi"))"
else
    bad "acpi: not our firmware build: '$(sed -n 's/^spmem-bios //p' "$tmp/out-acpi")'"
fi
if grep -qx 'spmem-devicetree no' "$tmp/out-acpi" && grep -q '^spmem-dmesg .*ACPI: SRAT 0x' "$tmp/out-acpi"; then
    ok "acpi: booted through UEFI with ACPI (SRAT), no device tree"
else
    bad "acpi: not an ACPI boot: $(grep -E '^spmem-(efi|devicetree|acpi-tables)' "$tmp/out-acpi" | tr '\n' ' ')"
fi
check_nodes_of acpi
check_sp acpi
check_ram acpi

# --- dt: 6.12, acpi=off ---------------------------------------------------------
spmem_backends "$tmp" put_host_pattern
boot dt "$KERNEL_612" "$OUT/initrd-612.cpio.gz" acpi=off \
    "acpi=off spmem=$spmem_arg spmem-pat=$ROFF:$WOFF:$PLEN spmem-ram=$RAM_DEV spmem-mods=$MODS_612" \
    "${SPMEM_ARGS[@]}"
if grep -qx 'spmem-devicetree yes' "$tmp/out-dt" && grep -qx 'spmem-efi yes' "$tmp/out-dt"; then
    ok "dt: booted through UEFI with the firmware's device tree: $(grep '^spmem-dt ' "$tmp/out-dt" | sed 's/^spmem-dt //' | tr '\n' ';')"
else
    bad "dt: not a UEFI + device-tree boot: $(grep -E '^spmem-(efi|devicetree|acpi-tables)' "$tmp/out-dt" | tr '\n' ' ')"
fi
# Our firmware (edk2 0002) gives each range a memory node with
# its numa-node-id in the tree it hands over; QEMU's tree has none.
for d in "${DEVS[@]}"; do
    want="spmem-dt-memory memory@${ADDR[$d]#0x} reg=$(printf '%016x%016x' "${ADDR[$d]}" "${BYTES[$d]}") numa-node-id=${NODE[$d]}"
    if grep -qFx -- "$want" "$tmp/out-dt"; then
        ok "dt $d: the firmware's device tree has /memory@${ADDR[$d]#0x} with reg <${ADDR[$d]} ${BYTES[$d]}> and numa-node-id ${NODE[$d]}"
    else
        bad "dt $d: no '$want'; memory nodes: $(grep '^spmem-dt-memory ' "$tmp/out-dt" | tr '\n' ';')"
    fi
done
check_nodes_of dt
check_sp dt
check_ram dt

# --- nospdt: 6.12, acpi=off, no sp-mem --------------------------------------------
# Without sp-mem the firmware adds no memory node: the guest sees QEMU's
# (memory@40000000 only), and the same nodes as above minus the sp-mem ones.
boot nospdt "$KERNEL_612" "$OUT/initrd-612.cpio.gz" acpi=off \
    "acpi=off spmem-mods=$MODS_612" "${NO_SPMEM_DIST[@]}"
mem0=$(sed -n 's/^spmem-dt-memory //p' "$tmp/out-nospdt" | tr '\n' ';')
mem=$(sed -n 's/^spmem-dt-memory //p' "$tmp/out-dt" | grep -vE "^memory@($(IFS='|'; echo "${ADDR[*]#0x}" | sed 's/0x//g')) " | tr '\n' ';')
if [ -n "$mem0" ] && [ "$mem0" = "$mem" ] && ! grep -q '^spmem-iomem-all .*Soft Reserved' "$tmp/out-nospdt"; then
    ok "nospdt: without sp-mem the firmware's device tree has QEMU's memory nodes only ($mem0), the same as with sp-mem minus the sp-mem ones; no Soft Reserved"
else
    bad "nospdt: memory nodes without sp-mem '$mem0', with sp-mem (others) '$mem'"
fi
# The added memory nodes gave Linux no RAM: the same MemTotal (both boots
# have nodes 0, 1 and 2, from /distance-map).
kb=$(awk '/^spmem-start-MemTotal:/ {print $2}' "$tmp/out-dt")
kb0=$(awk '/^spmem-start-MemTotal:/ {print $2}' "$tmp/out-nospdt")
if [ -n "$kb" ] && [ "$kb" = "$kb0" ]; then
    ok "dt: MemTotal $kb kB at the start of /init, the same as without sp-mem: the memory nodes the firmware added are not RAM to Linux"
else
    bad "dt: MemTotal '$kb' kB with sp-mem, '$kb0' kB without"
fi

# --- hmat61 and hmat612: ACPI with HMAT ----------------------------------------
# Node 0 is the initiator of the memory-only nodes 1 and 2 (HMAT's
# Memory Proximity Domain Attributes), with latency and bandwidth for each.
# shellcheck disable=SC2054
HMAT=(-numa hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-latency,latency=10
      -numa hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-bandwidth,bandwidth=10G
      -numa hmat-lb,initiator=0,target=1,hierarchy=memory,data-type=access-latency,latency=40
      -numa hmat-lb,initiator=0,target=1,hierarchy=memory,data-type=access-bandwidth,bandwidth=40G
      -numa hmat-lb,initiator=0,target=2,hierarchy=memory,data-type=access-latency,latency=50
      -numa hmat-lb,initiator=0,target=2,hierarchy=memory,data-type=access-bandwidth,bandwidth=20G)
# hmat_boot LABEL KERNEL INITRD MODS [APPEND]: boot with -machine hmat=on.
hmat_boot() {
    local saved=("${MACHINE[@]}")
    spmem_backends "$tmp" put_host_pattern
    MACHINE=("${MACHINE[@]/#node,nodeid=1/node,nodeid=1,initiator=0}")
    MACHINE=("${MACHINE[@]/#node,nodeid=2/node,nodeid=2,initiator=0}")
    boot "$1" "$2" "$3" acpi=on,hmat=on \
        "acpi=force spmem=$spmem_arg spmem-pat=$ROFF:$WOFF:$PLEN spmem-mods=$4${5:+ $5}" \
        "${SPMEM_ARGS[@]}" "${HMAT[@]}"
    MACHINE=("${saved[@]}")
    if grep -q '^spmem-dmesg .*ACPI: HMAT 0x' "$tmp/out-$1"; then
        ok "$1: Linux $(sed -n 's/^spmem-kernel //p' "$tmp/out-$1") read an HMAT: $(sed -n 's/^spmem-dmesg .*\(ACPI: HMAT 0x.*\)/\1/p' "$tmp/out-$1" | head -1)"
    else
        bad "$1: no HMAT: $(grep -E '^spmem-(kernel|acpi-tables)' "$tmp/out-$1" | tr '\n' ' ')"
    fi
    check_nodes_of "$1"
}

# Linux 6.1: the node of an hmem device comes from the HMAT target
# (drivers/acpi/numa/hmat.c), but only with CONFIG_DEV_DAX_HMEM_DEVICES,
# which needs the dax core built in.  Debian's 6.1 builds it as a module:
# its boot shows what the unmodified kernel sees, and that it creates no
# dax device; hmat61dax makes the dax checks on our build of 6.1.
hmat_boot hmat61 "$KERNEL_61" "$OUT/initrd-61.cpio.gz" "$MODS_61"
cfg61=$(compgen -G "$(dirname "$KERNEL_61")/config-*")
if grep -qx 'CONFIG_DEV_DAX_HMEM_DEVICES=y' "$cfg61"; then
    # A 6.1 kernel that has it (SPMEM_KERNEL_61): every check.
    check_sp hmat61
else
    check_sp hmat61 nodax
    if grep -qx 'spmem-hmem-devices no' "$tmp/out-hmat61" &&
       ! grep -q '^spmem-dax ' "$tmp/out-hmat61"; then
        ok "hmat61: no dax device, as expected: $(basename "$cfg61") has $(grep -E '^CONFIG_DAX=' "$cfg61") and no CONFIG_DEV_DAX_HMEM_DEVICES=y (it depends on DAX=y), no hmem_register_device in the guest's /proc/kallsyms, no dax device after insmod $MODS_61 (the dax checks of 6.1: hmat61dax)"
    else
        bad "hmat61: $(basename "$cfg61") has no CONFIG_DEV_DAX_HMEM_DEVICES=y, yet the guest says: $(grep -E '^spmem-(hmem-devices|dax) ' "$tmp/out-hmat61" | tr '\n' ';')"
    fi
fi

# The same machine with our 6.1 (DAX=y, DEV_DAX_HMEM_DEVICES=y, all built
# in): the HMAT parser registers one hmem device per Soft Reserved range
# at the node of its target; then daxctl makes RAM_DEV system-ram.
hmat_boot hmat61dax "$K61/Image" "$OUT/initrd-61dax.cpio.gz" "" "spmem-ram=$RAM_DEV"
rel=$(cat "$K61/release")
if grep -qx "spmem-kernel $rel" "$tmp/out-hmat61dax" &&
   grep -qx 'spmem-hmem-devices yes' "$tmp/out-hmat61dax" &&
   [ "$(grep '^spmem-insmod ' "$tmp/out-hmat61dax")" = "spmem-insmod kmem built-in" ]; then
    ok "hmat61dax: the guest runs our $rel: hmem_register_device in /proc/kallsyms, the dax drivers and kmem built in, no module loaded"
else
    bad "hmat61dax: not our $rel with the dax drivers built in: $(grep -E '^spmem-(kernel|hmem-devices|insmod) ' "$tmp/out-hmat61dax" | tr '\n' ';')"
fi
check_sp hmat61dax
check_ram hmat61dax

# Linux 6.12 with the same HMAT, and the two devices adjacent (as QEMU
# places them by default): the UEFI map and /proc/iomem then have one
# merged range (EDK2 merges adjacent descriptors of the same type and
# attributes), and HMAT is what splits it into one dax device per node.
ADDR[s1]=0x90000000
spmem_spec_arg
hmat_boot hmat612 "$KERNEL_612" "$OUT/initrd-612.cpio.gz" "$MODS_612"
ADJACENT=1 check_sp hmat612
spmem_layout dax

# --- nosp: 6.12, ACPI, no sp-mem ---------------------------------------------------
boot nosp "$KERNEL_612" "$OUT/initrd-612.cpio.gz" acpi=on \
    "acpi=force spmem-mods=$MODS_612" "${NO_SPMEM_DIST[@]}"
if grep -q '^spmem-dmesg .*efi:.*|SP|' "$tmp/out-nosp" ||
   grep -q '^spmem-iomem-all .*Soft Reserved' "$tmp/out-nosp" ||
   grep -q '^spmem-dax ' "$tmp/out-nosp"; then
    bad "nosp: SP memory, Soft Reserved or a dax device without sp-mem"
else
    ok "nosp: without sp-mem: no EFI_MEMORY_SP descriptor, no Soft Reserved, no dax device"
fi
if grep -q '^spmem-dmesg .*Faking a node' "$tmp/out-nosp"; then
    bad "nosp: Linux faked one NUMA node without sp-mem: $(grep -E '^spmem-dmesg .*(invalid memblk|Faking)' "$tmp/out-nosp" | sed 's/^spmem-dmesg \[[ 0-9.]*\] //' | tr '\n' ';')"
else
    ok "nosp: NUMA on without sp-mem too ($(sed -n 's/^spmem-nodes //p' "$tmp/out-nosp"); the SRAT then has PXM 0 and the hot-plug PXM 2 only)"
fi
# MemTotal at the start of /init (before any dax work): at most one more
# memory-less node's NODE_DATA lower with sp-mem (3 nodes under ACPI, 2
# without: a node without memory has no SRAT entry), never higher.
kb=$(awk '/^spmem-start-MemTotal:/ {print $2}' "$tmp/out-acpi")
kb0=$(awk '/^spmem-start-MemTotal:/ {print $2}' "$tmp/out-nosp")
if [ -n "$kb" ] && [ -n "$kb0" ] && [ "$kb" -le "$kb0" ] && [ $((kb0 - kb)) -le 64 ]; then
    ok "MemTotal ${kb} kB with sp-mem, ${kb0} kB without: not one sp-mem page counted as RAM (the $((kb0 - kb)) kB: NODE_DATA of the third node, $(grep -o 'NODE_DATA(2) on node 0' "$tmp/out-acpi" | head -1))"
else
    bad "MemTotal '$kb' kB with sp-mem, '$kb0' kB without"
fi

finish
