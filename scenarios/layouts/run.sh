#!/usr/bin/env bash
# Three sp-mem devices that QEMU places back to back, on three memory-less
# NUMA nodes, booted with our Linux series (linux/) on every arm64 boot
# path: one dax device per sp-mem device, exactly its range, on the
# user's node, whatever merged the ranges on the way (EDK2 merges the
# three EFI_MEMORY_SP descriptors into one; linux/0002 splits it again at
# the nodes' boundaries).  Layouts (spmem_layout in lib/guest.sh), on
# MACHINE3 (node 0: the CPUs and 1 GiB of RAM; nodes 1, 2, 3: no memory),
# no addr=, so QEMU places the devices, which the checks verify:
#   b2b    256 MiB on node 1, 128 MiB on node 2, 128 MiB on node 3:
#          0x80000000, 0x90000000, 0x98000000
#   order  the same devices given node 3 first: 0x80000000 (node 3),
#          0x88000000 (node 1), 0x98000000 (node 2): addresses in another
#          order than nodes
# Boots of each layout, all with linux/build.sh 7.2 (EFI, ACPI and DT):
#   dt       -kernel, QEMU's device tree
#   booti    U-Boot (Debian's u-boot-qemu) booti, QEMU's device tree
#   bootefi  U-Boot's UEFI with QEMU's device tree
#   acpi     our EDK2 with ACPI, no HMAT
#   hmat     our EDK2 with ACPI, -M virt,hmat=on and HMAT latencies and
#            bandwidths from node 0 to every node (as uefi-sp's hmat boots)
#   uefidt   our EDK2 handing over the device tree (acpi=off)
# and the embedded kernel (linux/build.sh 7.2-dt: device tree only, no
# EFI, ACPI or PCI) with each layout: -kernel (dtemb) and U-Boot booti
# (bootiemb).
# Each boot: the guest's view of the placement (device tree or SRAT),
# exactly one dax device per sp-mem device, covering exactly its range,
# numa_node and target_node the user's node; /proc/iomem shows each range
# as its dax device, no Soft Reserved line and no System RAM over it; a
# 64 KiB pattern each way through an mmap of each dax device; then
# daxctl reconfigure-device --mode=system-ram of each device, one after
# the other: all its memory blocks online on its node, whose MemTotal
# grows by its size, and no other sp-mem node's MemTotal changes.  On
# ACPI boots, the kernel's "SRAT: Node N PXM N" line of each range.
# Each boot's SRAT lines, /proc/iomem from 0x80000000 up, dax devices and
# node sizes around daxctl are printed as "  record LABEL ..." lines.
# Last line: "layouts: N passed, N failed".
set -uo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/../../lib/common.sh"
# shellcheck source=lib/guest.sh
. "$TOP/lib/guest.sh"

OUT=$BUILD/guest/layouts
TIMEOUT=300
K72=$BUILD/guest/linux-7.2
K72DT=$BUILD/guest/linux-7.2-dt
ROFF=0x10000 WOFF=0x40000 PLEN=0x10000
# Our kernels set Soft Reserved ranges aside in soft_reserve_resource
# only: /proc/iomem shows the dax devices (check_sp in lib/guest.sh).
SP_IOMEM=dax
LAYOUTS=${LAYOUTS:-b2b order}

# --- kernels, firmware, initramfs ---------------------------------------------
guest_begin
dax_tools
for v in 7.2 7.2-dt; do
    k=$BUILD/guest/linux-$v
    t0=$(date +%s%N)
    if bash "$TOP/linux/build.sh" "$v" && [ -s "$k/Image" ] && [ -s "$k/config" ]; then
        ok "Linux $(cat "$k/release") ${k#"$TOP"/}/Image ($(grep -cE '^CONFIG_(EFI|ACPI|PCI)=y' "$k/config") of EFI, ACPI, PCI), linux/build.sh $v took $(since "$t0")s"
    else
        bad "linux/build.sh $v"
        finish
    fi
done
edk2_firmware
uboot_firmware
# The modules directories of the builds (kmem.ko and depmod's index).
INITRAMFS_ROOT=$K72/root initramfs_for 72
INITRAMFS_ROOT=$K72DT/root initramfs_for 72dt
hmat_machine "${MACHINE3[@]}"

# --- the boots ------------------------------------------------------------------
# is_boot LABEL WHAT WANT...: the guest of LABEL printed each line WANT
# (grep -x), which says how it was booted (WHAT).
is_boot() {
    local label=$1 what=$2 w missing=
    shift 2
    for w in "$@"; do
        grep -qx -- "$w" "$tmp/out-$label" || missing+=" '$w'"
    done
    if [ -z "$missing" ]; then
        ok "$label: $what ($(grep -E '^spmem-(kernel|efi|devicetree|acpi-tables) ' "$tmp/out-$label" | sed 's/^spmem-//' | paste -sd ';' -))"
    else
        bad "$label: not $what: missing$missing; got $(grep -E '^spmem-(kernel|efi|devicetree|acpi-tables) ' "$tmp/out-$label" | paste -sd ';' -)"
    fi
}

# said_sp LABEL: the kernel's line for each range it set aside from the
# device tree (linux/0005).
said_sp() {
    local d
    for d in "${DEVS[@]}"; do
        check_said "$1" "$d" "OF: reserved mem: sp-mem@${ADDR[$d]#0x}: $(printf '[mem 0x%08x-0x%08x]' "${ADDR[$d]}" $((ADDR[$d] + BYTES[$d] - 1))) Soft Reserved, node ${NODE[$d]}"
    done
}

# check_dt_boot LABEL: the checks of a boot with QEMU's device tree and
# no UEFI map: the nodes, the placement the tree shows, the dax devices,
# the kernel's line for each range, and the record lines.
check_dt_boot() {
    check_nodes_of "$1"
    check_dt_reg "$1"
    check_dax_boot "$1" nouefi
    said_sp "$1"
    boot_record "$1"
}

# check_acpi_boot LABEL: the checks of a boot through our EDK2 with ACPI:
# the nodes, the SRAT lines, the dax devices (EDK2 merges the adjacent
# EFI_MEMORY_SP descriptors: ADJACENT=1), and the record lines.
check_acpi_boot() {
    check_nodes_of "$1"
    check_srat "$1"
    ADJACENT=1 check_dax_boot "$1"
    boot_record "$1"
}

# acpi_tables LABEL: the guest's ACPI tables (/sys/firmware/acpi/tables).
acpi_tables() { sed -n 's/^spmem-acpi-tables //p' "$tmp/out-$1"; }

for layout in $LAYOUTS; do
    echo "=== layout $layout"
    spmem_layout "$layout"
    spmem_backends "$tmp"
    check_placement "${MACHINE3[@]}"
    dax_guest_args
    rel=$(cat "$K72/release") reldt=$(cat "$K72DT/release")
    APPEND="$DAX_APPEND $DAX_ARGS spmem-mods=$MODS_72"
    APPENDDT="$DAX_APPEND $DAX_ARGS spmem-mods=$MODS_72dt"

    # dt: -kernel, QEMU's device tree.
    l=$layout-dt
    dax_boot "$l" -M virt "${MACHINE3[@]}" -kernel "$K72/Image" \
        -initrd "$OUT/initrd-72.cpio.gz" -append "$APPEND"
    is_boot "$l" "Linux $rel with QEMU's device tree, no UEFI" "spmem-kernel $rel" \
        'spmem-efi no' 'spmem-devicetree yes'
    check_dt_boot "$l"

    # booti and bootefi: U-Boot with QEMU's device tree.
    for mode in booti bootefi; do
        l=$layout-$mode
        dax_uboot "$mode" "$l" "$K72/Image" "$OUT/initrd-72.cpio.gz" "$APPEND" \
            -M virt "${MACHINE3[@]}"
        is_boot "$l" "Linux $rel from U-Boot's $mode with U-Boot's device tree (QEMU's), $([ $mode = booti ] && echo 'no UEFI' || echo 'UEFI')" \
            "spmem-kernel $rel" "spmem-efi $([ $mode = booti ] && echo no || echo yes)" 'spmem-devicetree yes'
        check_dt_boot "$l"
    done

    # acpi and hmat: our EDK2 with ACPI, without and with an HMAT.  EDK2
    # merges the three adjacent EFI_MEMORY_SP descriptors (ADJACENT=1).
    l=$layout-acpi
    dax_uefi "$l" "$K72/Image" "$OUT/initrd-72.cpio.gz" acpi=on "$APPEND acpi=force" "${MACHINE3[@]}"
    if [ "$(grep -c '^spmem-dt ' "$tmp/out-$l")" = 0 ] && grep -qw SRAT <<< "$(acpi_tables "$l")" &&
       ! grep -qw HMAT <<< "$(acpi_tables "$l")"; then
        ok "$l: ACPI without HMAT, no device tree (tables: $(acpi_tables "$l"))"
    else
        bad "$l: want ACPI with an SRAT, no HMAT, no device tree: tables '$(acpi_tables "$l")', $(grep '^spmem-devicetree' "$tmp/out-$l")"
    fi
    is_boot "$l" "Linux $rel through our EDK2 with ACPI" "spmem-kernel $rel" 'spmem-efi yes' 'spmem-devicetree no'
    check_acpi_boot "$l"

    l=$layout-hmat
    dax_uefi "$l" "$K72/Image" "$OUT/initrd-72.cpio.gz" acpi=on,hmat=on "$APPEND acpi=force" "${HMAT_MACHINE[@]}"
    if grep -qw HMAT <<< "$(acpi_tables "$l")" && grep -q '^spmem-dmesg .*ACPI: HMAT 0x' "$tmp/out-$l"; then
        ok "$l: the kernel read an HMAT: $(sed -n 's/^spmem-dmesg .*\(ACPI: HMAT 0x.*\)/\1/p' "$tmp/out-$l" | head -1)"
    else
        bad "$l: no HMAT: tables '$(acpi_tables "$l")'"
    fi
    is_boot "$l" "Linux $rel through our EDK2 with ACPI" "spmem-kernel $rel" 'spmem-efi yes' 'spmem-devicetree no'
    check_acpi_boot "$l"

    # uefidt: our EDK2 handing over the device tree.
    l=$layout-uefidt
    dax_uefi "$l" "$K72/Image" "$OUT/initrd-72.cpio.gz" acpi=off "$APPEND acpi=off" "${MACHINE3[@]}"
    is_boot "$l" "Linux $rel through our EDK2 with its device tree" "spmem-kernel $rel" \
        'spmem-efi yes' 'spmem-devicetree yes' 'spmem-acpi-tables '
    check_nodes_of "$l"
    check_dt_reg "$l"
    ADJACENT=1 check_dax_boot "$l"
    boot_record "$l"

    # dtemb and bootiemb: the embedded kernel, -kernel and U-Boot booti.
    l=$layout-dtemb
    dax_boot "$l" -M virt "${MACHINE3[@]}" -kernel "$K72DT/Image" \
        -initrd "$OUT/initrd-72dt.cpio.gz" -append "$APPENDDT"
    is_boot "$l" "the embedded Linux $reldt with QEMU's device tree" "spmem-kernel $reldt" \
        'spmem-efi no' 'spmem-devicetree yes' 'spmem-acpi-tables '
    check_dt_boot "$l"

    l=$layout-bootiemb
    dax_uboot booti "$l" "$K72DT/Image" "$OUT/initrd-72dt.cpio.gz" "$APPENDDT" -M virt "${MACHINE3[@]}"
    is_boot "$l" "the embedded Linux $reldt from U-Boot's booti" "spmem-kernel $reldt" \
        'spmem-efi no' 'spmem-devicetree yes' 'spmem-acpi-tables '
    check_dt_boot "$l"
done

finish
