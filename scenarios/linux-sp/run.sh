#!/usr/bin/env bash
# Boot our Linux (upstream 7.2.8 with the series in linux/, built by
# linux/build.sh 7.2) on every arm64 boot path with two file-backed
# sp-mem devices on nodes 1 and 2, and check that the guest owns each
# range as x86 guests own E820 soft-reserved memory: "Soft Reserved" in
# /proc/iomem, one /dev/daxX.Y whose numa_node and target_node are the
# device's node, a pattern each way through an mmap of it, and daxctl
# reconfigure-device --mode=system-ram bringing each range online as
# memory of its node.  Boots:
#   dt       -kernel, QEMU's device tree (of: special-purpose memory)
#   booti    U-Boot (Debian's u-boot-qemu) booti with QEMU's device tree
#   bootefi  U-Boot's UEFI (bootefi): the device tree, and a UEFI map in
#            which U-Boot made each range EfiReservedMemoryType
#   acpi     our EDK2 (edk2) with ACPI: EFI_MEMORY_SP ranges
#            (efi/arm64: published where dax_hmem looks for them on 7.x)
#   uefidt   our EDK2 handing over the device tree (acpi=off)
#   xen417, xen420  Xen 4.17 and 4.20 (Debian's) with our kernel as dom0
#   stock7   Debian's newest arm64 kernel (7.3.4, trixie-backports)
#            through our EDK2 with ACPI: Soft Reserved but no dax device,
#            the bug the series fixes, asserted with its evidence
#   baddt    -dtb with special-purpose nodes a kernel must survive: no
#            numa-node-id, an unknown node, a size that is not a whole
#            number of memory blocks, a range inside a memory node; each
#            gets its kernel message, none becomes System RAM, the boot
#            completes
# Needs build/qemu-system-aarch64 (scripts/build.sh); builds the kernel
# (linux/build.sh 7.2) and the firmware (edk2/build.sh), both
# cached.  Last line: "linux-sp: N passed, N failed".
#
# Choices:
#  - Devices as in uefi-sp (spmem_layout dax in lib/guest.sh): 256 MiB on
#    node 1 at 0x80000000 and 128 MiB on node 2 at 0xa0000000, whole
#    128 MiB memory blocks (kmem onlines whole blocks only) with a gap
#    (adjacent EFI_MEMORY_SP descriptors merge in EDK2).  Both become
#    system-ram.
#  - kmem is a module the guest loads only right before daxctl: since
#    Linux 6.3 dax_hmem offers its devices to kmem first, so a built-in
#    kmem would hot-add every range as System RAM at boot (config-7.2).
#  - Stock 7.x: linux-binary-7.3.4+deb13-cloud-arm64 (the Image) and
#    linux-modules-7.3.4+deb13-cloud-arm64 (device_dax, dax_hmem), through
#    the private apt state (common.sh).  SPMEM_STOCK7 names another ABI.
set -uo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/../../lib/common.sh"
# shellcheck source=lib/guest.sh
. "$TOP/lib/guest.sh"

OUT=$BUILD/guest/linux-sp
TIMEOUT=300
K72=$BUILD/guest/linux-7.2
STOCK7=${SPMEM_STOCK7:-7.3.4+deb13-cloud-arm64}

spmem_layout dax
ROFF=0x10000 WOFF=0x40000 PLEN=0x10000
APPEND="console=ttyAMA0 panic=-1 quiet nokaslr rdinit=/init"

# --- kernel, firmware, initramfs ----------------------------------------------
guest_begin
dax_tools
t0=$(date +%s%N)
if bash "$TOP/linux/build.sh" 7.2 && [ -s "$K72/Image" ] && [ -s "$K72/config" ]; then
    ok "Linux $(cat "$K72/release") ${K72#"$TOP"/}/Image ($(sed -e '/^#/d' -e '/^$/d' "$TOP/linux/series" | wc -l) patches of linux/series), linux/build.sh 7.2 took $(since "$t0")s"
else
    bad "linux/build.sh 7.2"
    finish
fi
edk2_firmware
# Ours: the modules directory of the build (kmem.ko and depmod's index).
INITRAMFS_ROOT=$K72/root initramfs_for 72

# Debian's stock 7.x: Image and the dax modules (no dependencies among
# them: platform-facts), decompressed into the initramfs.
stock_dir=$OUT/stock7
if guest_unpack "linux-binary-$STOCK7" "$stock_dir/binary" &&
   guest_unpack "linux-modules-$STOCK7" "$stock_dir/modules" &&
   KERNEL_STOCK7=$(compgen -G "$stock_dir/binary/usr/lib/modules/*/vmlinuz" | head -1) &&
   [ -s "$KERNEL_STOCK7" ]; then
    ok "Debian's stock kernel linux-binary-$STOCK7: ${KERNEL_STOCK7#"$TOP"/}"
else
    bad "fetch and unpack linux-binary-$STOCK7 and linux-modules-$STOCK7"
    finish
fi
kver=$(basename "$(dirname "$KERNEL_STOCK7")")
mkdir -p "$stock_dir/root/lib/modules/$kver"
for m in device_dax dax_hmem kmem; do
    f=$(find "$stock_dir/modules" -name "$m.ko*" | head -1)
    case $f in
        *.xz) xz -dc "$f" > "$stock_dir/root/lib/modules/$kver/$m.ko" ;;
        ?*) cp "$f" "$stock_dir/root/lib/modules/$kver/$m.ko" ;;
        *) false ;;
    esac || { bad "module $m of linux-modules-$STOCK7"; finish; }
done
INITRAMFS_ROOT=$stock_dir/root initramfs_for stock7
MODS_stock7=device_dax,dax_hmem

spmem_spec_arg
guest_args="spmem=$spmem_arg spmem-pat=$ROFF:$WOFF:$PLEN spmem-ram=$(IFS=,; echo "${DEVS[*]}")"

# --- boots ----------------------------------------------------------------------
# boot_with LABEL [QEMU-ARG...]: one boot (fresh backends holding the host
# pattern); output in $tmp/out-LABEL.
boot_with() {
    local label=$1
    shift
    spmem_backends "$tmp" put_host_pattern
    echo "--- boot $label"
    boot_guest "$tmp/out-$label" "$@" "${SPMEM_ARGS[@]}"
    check_exit "$tmp/out-$label"
    boot_summary "$label"
}

# check_all LABEL [nouefi]: check_sp, then every device system-ram on its node.
check_all() {
    local d
    check_sp "$@"
    for d in "${DEVS[@]}"; do
        check_ram "$1" "$d"
    done
}

# check_said LABEL WHAT LINE: the kernel log of boot LABEL has LINE.
check_said() {
    if grep -qF -- "$3" "$tmp/out-$1"; then
        ok "$1 $2: the kernel says: $3"
    else
        bad "$1 $2: no kernel line '$3'; reserved mem lines: $(grep 'reserved mem' "$tmp/out-$1" | tr '\n' ';')"
    fi
}

# -- dt: -kernel, QEMU's device tree.
boot_with dt -M virt "${MACHINE[@]}" -kernel "$K72/Image" \
    -initrd "$OUT/initrd-72.cpio.gz" -append "$APPEND $guest_args spmem-mods=$MODS_72"
if grep -qx 'spmem-efi no' "$tmp/out-dt" && grep -qx 'spmem-devicetree yes' "$tmp/out-dt"; then
    ok "dt: booted with the device tree, no UEFI"
else
    bad "dt: not a device-tree boot without UEFI: $(grep -E '^spmem-(efi|devicetree) ' "$tmp/out-dt" | tr '\n' ' ')"
fi
check_nodes_of dt
check_all dt nouefi
for d in "${DEVS[@]}"; do
    check_said dt "$d" "OF: reserved mem: /reserved-memory/sp-mem@${ADDR[$d]#0x}: [mem $(printf '0x%08x-0x%08x' "${ADDR[$d]}" $((ADDR[$d] + BYTES[$d] - 1)))] Soft Reserved, node ${NODE[$d]}"
done

# -- booti and bootefi: U-Boot from a virtio disk with our script.
uboot_firmware
mkdir -p "$tmp/fs"
cp "$K72/Image" "$tmp/fs/Image" && cp "$OUT/initrd-72.cpio.gz" "$tmp/fs/initrd" ||
    { bad "copy the kernel and initramfs to the boot file system"; finish; }
# uboot_boot MODE: boot through U-Boot's MODE (booti or bootefi).
uboot_boot() {
    local mode=$1 args="$APPEND $guest_args spmem-mods=$MODS_72"
    [ "$mode" = bootefi ] && args+=" initrd=/initrd"
    printf 'spmem_boot=%s\nbootargs=%s\n' "$mode" "$args" > "$tmp/fs/boot.env"
    boot_disk "$tmp/fs" "$HERE/dax.cmd" "$tmp/disk-$mode.img"
    boot_with "$mode" -M virt "${MACHINE[@]}" -bios "$UBOOT" \
        -drive "if=none,file=$tmp/disk-$mode.img,format=raw,id=d0,snapshot=on" \
        -device virtio-blk-device,drive=d0
    if grep -q "^spmem-uboot-script $mode " "$tmp/out-$mode" &&
       ! grep -q "^spmem-uboot-script $mode failed" "$tmp/out-$mode"; then
        ok "$mode: U-Boot ran our script's $mode: $(grep -m1 "^spmem-uboot-script $mode " "$tmp/out-$mode")"
    else
        bad "$mode: U-Boot did not run $mode: $(grep '^spmem-uboot-script' "$tmp/out-$mode" | tr '\n' ';')"
    fi
}
uboot_boot booti
check_nodes_of booti
check_all booti nouefi
uboot_boot bootefi
if grep -qx 'spmem-efi yes' "$tmp/out-bootefi"; then
    ok "bootefi: Linux was started through UEFI (U-Boot's)"
else
    bad "bootefi: no /sys/firmware/efi"
fi
check_nodes_of bootefi
check_all bootefi nouefi

# -- acpi and uefidt: our EDK2.
# uefi_boot LABEL KERNEL INITRD MODS ACPI APPEND...: a boot of our EDK2.
uefi_boot() {
    local label=$1 kernel=$2 initrd=$3 mods=$4 acpi=$5
    shift 5
    uefi_pflash "$tmp/vars-$label.fd"
    boot_with "$label" -M "virt,acpi=$acpi" "${MACHINE[@]}" "${UEFI_PFLASH[@]}" \
        -kernel "$kernel" -initrd "$initrd" \
        -append "$APPEND efi=debug $guest_args spmem-mods=$mods $*"
}
uefi_boot acpi "$K72/Image" "$OUT/initrd-72.cpio.gz" "$MODS_72" on acpi=force
check_nodes_of acpi
check_all acpi
uefi_boot uefidt "$K72/Image" "$OUT/initrd-72.cpio.gz" "$MODS_72" off acpi=off
check_nodes_of uefidt
check_all uefidt

# -- stock7: Debian's 7.x, the same machine as acpi.
uefi_boot stock7 "$KERNEL_STOCK7" "$OUT/initrd-stock7.cpio.gz" "$MODS_stock7" on acpi=force
check_sp stock7 nodax
if grep -qx 'spmem-insmod device_dax ok' "$tmp/out-stock7" &&
   grep -qx 'spmem-insmod dax_hmem ok' "$tmp/out-stock7" &&
   ! grep -q '^spmem-dax ' "$tmp/out-stock7"; then
    ok "stock7: Linux $(sed -n 's/^spmem-kernel //p' "$tmp/out-stock7") loaded device_dax and dax_hmem and has no dax device over its Soft Reserved ranges (the bug of linux/0001)"
else
    bad "stock7: want device_dax and dax_hmem loaded and no dax device; got $(grep -E '^spmem-(insmod|dax) ' "$tmp/out-stock7" | tr '\n' ';')"
fi

# -- xen417, xen420: Debian's Xen 4.17 and 4.20 with our kernel as dom0.  Xen copies
# /reserved-memory into dom0's tree with numa-node-id and maps each range
# 1:1 cacheable, but regenerates /memory and /cpus without numa-node-id,
# so dom0's of_numa finds no node and Linux runs one node (Xen/arm has no
# NUMA): each range is Soft Reserved and a dax device with no target
# node (-1), the kernel says why, and kmem, which needs a node, refuses
# to hot-add it (daxctl is asked for s1).  The Xen boot, dom0_mem
# included, is the xen scenario's (xen_args in lib/guest.sh).
for xv in $XEN_VERSIONS; do
    label=xen${xv/./}
    xen_hypervisor "$xv" "$OUT/xen-$xv" || continue
    xen_args "$K72/Image" "$OUT/initrd-72.cpio.gz" \
        "spmem=$spmem_arg spmem-pat=$ROFF:$WOFF:$PLEN spmem-ram=s1 spmem-mods="
    boot_with "$label" "${XEN_ARGS[@]}"
    if grep -q "^(XEN) Xen version $xv" "$tmp/out-$label" &&
       grep -q '^(XEN) Hardware Dom0 halted' "$tmp/out-$label"; then
        ok "$label: $(sed -n 's/^(XEN) \(Xen version [^ ]*\).*/\1/p' "$tmp/out-$label" | head -1) booted our kernel as dom0, which halted it"
    else
        bad "$label: no Xen $xv version line or no dom0 halt: $(grep -E '^\(XEN\) (Xen version|Hardware Dom0)' "$tmp/out-$label" | tr '\n' ';')"
    fi
    DAX_NODE=-1 check_sp "$label" nouefi
    for d in "${DEVS[@]}"; do
        # Why the dax device has no node.
        check_said "$label" "$d" "/reserved-memory/sp-mem@${ADDR[$d]#0x}: numa-node-id ${NODE[$d]} is not a known node"
    done
    if ! grep -qx 'spmem-daxctl-rc s1 0' "$tmp/out-$label" &&
       grep -q '^spmem-daxctl-rc s1 ' "$tmp/out-$label" &&
       grep -q '^spmem-dmesg .*kmem .*rejecting DAX region with invalid node: -1' "$tmp/out-$label"; then
        ok "$label s1: kmem refuses to hot-add a range without a node: $(grep -m1 'rejecting DAX region' "$tmp/out-$label" | sed 's/^spmem-dmesg \[[ 0-9.]*\] //')"
    else
        bad "$label s1: want daxctl refused by kmem (invalid node -1): $(grep -E '^spmem-daxctl|rejecting' "$tmp/out-$label" | tr '\n' ';')"
    fi
done

# -- baddt: special-purpose nodes a kernel must survive, in a -dtb made
# from QEMU's own tree of the same machine without sp-mem (nodes 0-2 and
# their distance map): no numa-node-id, node 3 (no CPU, memory or
# distance names it), 64 MiB (half a memory block), and 128 MiB inside
# RAM (the memory node 0x40000000+1G).  The ranges above RAM are not
# backed: the guest does not touch them.
DEVS=(nonode badnode half inram)
ADDR=([nonode]=0x80000000 [badnode]=0x88000000 [half]=0x90000000 [inram]=0x78000000)
BYTES=([nonode]=0x8000000 [badnode]=0x8000000 [half]=0x4000000 [inram]=0x8000000)
declare -A PROPS=([nonode]="" [badnode]="numa-node-id = <3>;" [half]="numa-node-id = <1>;"
                  [inram]="numa-node-id = <2>;")
declare -A WARN=(
    [nonode]="/reserved-memory/nonode@80000000: no numa-node-id, [mem 0x80000000-0x87ffffff] has no NUMA node"
    [badnode]="/reserved-memory/badnode@88000000: numa-node-id 3 is not a known node, [mem 0x88000000-0x8fffffff] has no NUMA node"
    [half]="/reserved-memory/half@90000000: [mem 0x90000000-0x93ffffff] is not aligned to the memory block size (0x8000000), only whole blocks in it can be hot-added"
    [inram]="inram@78000000: specific-purpose memory 0x0000000078000000..0x000000007fffffff overlaps memory, taking it out")
"$QEMU" -M "virt,dumpdtb=$tmp/base.dtb" "${MACHINE[@]}" "${NO_SPMEM_DIST[@]}" >/dev/null 2>&1
{
    dtc -q -I dtb -O dts "$tmp/base.dtb"
    echo "/ { reserved-memory { #address-cells = <2>; #size-cells = <2>; ranges;"
    for d in "${DEVS[@]}"; do
        printf '%s@%x { compatible = "special-purpose"; reg = <0x0 %s 0x0 %s>; no-map; %s };\n' \
            "$d" "${ADDR[$d]}" "${ADDR[$d]}" "${BYTES[$d]}" "${PROPS[$d]}"
    done
    echo "}; };"
} > "$tmp/bad.dts"
if dtc -q -I dts -O dtb -o "$tmp/bad.dtb" "$tmp/bad.dts"; then
    ok "baddt: -dtb with $(grep -c 'compatible = "special-purpose"' "$tmp/bad.dts") special-purpose nodes: ${DEVS[*]}"
else
    bad "baddt: build the -dtb"
    finish
fi
cp "$tmp/bad.dts" "$OUT/baddt.dts"
echo "--- boot baddt"
boot_guest "$tmp/out-baddt" -M virt "${MACHINE[@]}" "${NO_SPMEM_DIST[@]}" -dtb "$tmp/bad.dtb" \
    -kernel "$K72/Image" -initrd "$OUT/initrd-72.cpio.gz" -append "$APPEND spmem-mods="
check_exit "$tmp/out-baddt"
boot_summary baddt
check_sp baddt nodax nouefi
for d in "${DEVS[@]}"; do
    check_said baddt "$d" "${WARN[$d]}"
done

finish
