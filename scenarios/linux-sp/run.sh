#!/usr/bin/env bash
# Boot our Linux (upstream 7.2.8 with the series in linux/, built by
# linux/build.sh 7.2) on every arm64 boot path with two file-backed
# sp-mem devices on nodes 1 and 2, and check that the guest owns each
# range as x86 7.x guests own E820 soft-reserved memory: set aside in
# the kernel's soft_reserve_resource tree, so no "Soft Reserved" line in
# /proc/iomem, where the range shows up as its dax device
# ("80000000-8fffffff : dax0.0", SP_IOMEM=dax in lib/guest.sh); one
# /dev/daxX.Y, exactly the range, whose numa_node and target_node are
# the device's node, a pattern each way through an mmap of it, and
# daxctl reconfigure-device --mode=system-ram bringing each range online
# as memory of its node and of no other.  Boots:
#   dt       -kernel, QEMU's device tree (of: special-purpose memory)
#   booti    U-Boot (Debian's u-boot-qemu) booti with QEMU's device tree
#   bootefi  U-Boot's UEFI (bootefi): the device tree, and a UEFI map in
#            which U-Boot made each range EfiReservedMemoryType
#   acpi     our EDK2 (edk2) with ACPI: EFI_MEMORY_SP ranges
#            (efi/arm64: set aside where dax_hmem looks for them on 7.x)
#   uefidt   our EDK2 handing over the device tree (acpi=off)
#   xen417, xen420  Xen 4.17 and 4.20 (Debian's) with our kernel as dom0
#   stock7   Debian's newest arm64 kernel (7.3.4, trixie-backports)
#            through our EDK2 with ACPI: the old way, a top-level Soft
#            Reserved line (SP_IOMEM=soft), and no dax device, the bug the
#            series fixes, asserted with its evidence
#   baddt    -dtb with special-purpose nodes a kernel must survive: no
#            numa-node-id, an unknown node, a size that is not a whole
#            number of memory blocks, a range inside a memory node, two
#            ranges that touch and two that overlap; each gets its kernel
#            message, each range set aside becomes one dax device, exactly
#            the range, at the node the kernel names (the second of the
#            overlapping pair is not set aside), none becomes System RAM,
#            the boot completes
# The boot helpers (dax_boot, dax_uboot, dax_uefi) and the checks
# (check_dax_boot: check_sp, check_dax_count, check_kmem) are in
# lib/guest.sh, shared with the layouts scenario; the U-Boot script is
# lib/guest/dax/uboot.cmd.
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

SP_IOMEM=dax
dax_guest_args
APPEND="$DAX_APPEND $DAX_ARGS spmem-mods=$MODS_72"

# -- dt: -kernel, QEMU's device tree.
dax_boot dt -M virt "${MACHINE[@]}" -kernel "$K72/Image" \
    -initrd "$OUT/initrd-72.cpio.gz" -append "$APPEND"
if grep -qx 'spmem-efi no' "$tmp/out-dt" && grep -qx 'spmem-devicetree yes' "$tmp/out-dt"; then
    ok "dt: booted with the device tree, no UEFI"
else
    bad "dt: not a device-tree boot without UEFI: $(grep -E '^spmem-(efi|devicetree) ' "$tmp/out-dt" | tr '\n' ' ')"
fi
check_nodes_of dt
check_dax_boot dt nouefi
for d in "${DEVS[@]}"; do
    check_said dt "$d" "OF: reserved mem: sp-mem@${ADDR[$d]#0x}: [mem $(printf '0x%08x-0x%08x' "${ADDR[$d]}" $((ADDR[$d] + BYTES[$d] - 1)))] Soft Reserved, node ${NODE[$d]}"
done
boot_record dt

# -- booti and bootefi: U-Boot from a virtio disk with our script.
uboot_firmware
dax_uboot booti booti "$K72/Image" "$OUT/initrd-72.cpio.gz" "$APPEND" -M virt "${MACHINE[@]}"
check_nodes_of booti
check_dax_boot booti nouefi
boot_record booti
dax_uboot bootefi bootefi "$K72/Image" "$OUT/initrd-72.cpio.gz" "$APPEND" -M virt "${MACHINE[@]}"
if grep -qx 'spmem-efi yes' "$tmp/out-bootefi"; then
    ok "bootefi: Linux was started through UEFI (U-Boot's)"
else
    bad "bootefi: no /sys/firmware/efi"
fi
check_nodes_of bootefi
check_dax_boot bootefi nouefi
boot_record bootefi

# -- acpi and uefidt: our EDK2.
dax_uefi acpi "$K72/Image" "$OUT/initrd-72.cpio.gz" acpi=on "$APPEND acpi=force" "${MACHINE[@]}"
check_nodes_of acpi
check_dax_boot acpi
boot_record acpi
dax_uefi uefidt "$K72/Image" "$OUT/initrd-72.cpio.gz" acpi=off "$APPEND acpi=off" "${MACHINE[@]}"
check_nodes_of uefidt
check_dax_boot uefidt
boot_record uefidt

# -- stock7: Debian's 7.x, the same machine as acpi: the old way, a
# top-level Soft Reserved line.
dax_uefi stock7 "$KERNEL_STOCK7" "$OUT/initrd-stock7.cpio.gz" acpi=on \
    "$DAX_APPEND $DAX_ARGS spmem-mods=$MODS_stock7 acpi=force" "${MACHINE[@]}"
SP_IOMEM=soft check_sp stock7 nodax
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
    dax_boot "$label" "${XEN_ARGS[@]}"
    if grep -q "^(XEN) Xen version $xv" "$tmp/out-$label" &&
       grep -q '^(XEN) Hardware Dom0 halted' "$tmp/out-$label"; then
        ok "$label: $(sed -n 's/^(XEN) \(Xen version [^ ]*\).*/\1/p' "$tmp/out-$label" | head -1) booted our kernel as dom0, which halted it"
    else
        bad "$label: no Xen $xv version line or no dom0 halt: $(grep -E '^\(XEN\) (Xen version|Hardware Dom0)' "$tmp/out-$label" | tr '\n' ';')"
    fi
    DAX_NODE=-1 check_sp "$label" nouefi
    for d in "${DEVS[@]}"; do
        # Why the dax device has no node.
        check_said "$label" "$d" "OF: reserved mem: sp-mem@${ADDR[$d]#0x}: numa-node-id ${NODE[$d]} is not a known node, $(printf '0x%016x..0x%016x' "${ADDR[$d]}" $((ADDR[$d] + BYTES[$d] - 1))) has no NUMA node"
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
# distance names it), a numa-node-id beyond any node (0xffffffff), 64 MiB
# (half a memory block), 128 MiB inside RAM
# (the memory node 0x40000000+1G), two ranges that touch (nodes 1 and 2,
# back to back) and two that overlap (nodes 1 and 2, the second starting
# in the middle of the first).  Each range the kernel sets aside (all but
# the second of the overlapping pair) becomes a dax device of its own,
# exactly its range, at the node the kernel names for it; the ranges
# above RAM are not backed, so the guest only looks at them (no spmem-pat,
# no daxctl).
DEVS=(nonode badnode hugenode half inram touch1 touch2 over1)
ADDR=([nonode]=0x80000000 [badnode]=0x88000000 [hugenode]=0xc0000000 [half]=0x90000000 [inram]=0x78000000
      [touch1]=0xa0000000 [touch2]=0xa8000000 [over1]=0xb0000000 [over2]=0xb4000000)
BYTES=([nonode]=0x8000000 [badnode]=0x8000000 [hugenode]=0x8000000 [half]=0x4000000 [inram]=0x8000000
       [touch1]=0x8000000 [touch2]=0x8000000 [over1]=0x8000000 [over2]=0x8000000)
# numa-node-id in the tree (none: no property).
declare -A DTNODE=([nonode]=none [badnode]=3 [hugenode]=0xffffffff [half]=1 [inram]=2 [touch1]=1 [touch2]=2
                   [over1]=1 [over2]=2)
# The node the kernel gives the range (-1: none).
NODE=([nonode]=-1 [badnode]=-1 [hugenode]=-1 [half]=1 [inram]=2 [touch1]=1 [touch2]=2 [over1]=1)
# mem D: "[mem 0x...-0x...]" of the range of D, as %pR writes it.
mem() { printf '[mem 0x%08x-0x%08x]' "${ADDR[$1]}" $((ADDR[$1] + BYTES[$1] - 1)); }
# pa D: "0x...0..0x...f" of the range of D, as %pa..%pa writes it.
pa() { printf '0x%016x..0x%016x' "${ADDR[$1]}" $((ADDR[$1] + BYTES[$1] - 1)); }
declare -A WARN=(
    [nonode]="OF: reserved mem: nonode@80000000: no numa-node-id, $(pa nonode) has no NUMA node"
    [badnode]="OF: reserved mem: badnode@88000000: numa-node-id 3 is not a known node, $(pa badnode) has no NUMA node"
    [hugenode]="OF: reserved mem: hugenode@c0000000: numa-node-id 4294967295 is not a valid node, $(pa hugenode) has no NUMA node"
    [half]="OF: reserved mem: half@90000000: $(pa half) is not aligned to the memory block size (0x8000000), only whole blocks in it can be hot-added"
    [inram]="OF: reserved mem: inram@78000000: specific-purpose memory $(pa inram) overlaps memory, taking it out"
    [over2]="OF: reserved mem: over2@b4000000: overlaps specific-purpose memory over1@b0000000, left as reserved memory")
"$QEMU" -M "virt,dumpdtb=$tmp/base.dtb" "${MACHINE[@]}" "${NO_SPMEM_DIST[@]}" >/dev/null 2>&1
{
    dtc -q -I dtb -O dts "$tmp/base.dtb"
    echo "/ { reserved-memory { #address-cells = <2>; #size-cells = <2>; ranges;"
    for d in "${DEVS[@]}" over2; do
        prop=
        [ "${DTNODE[$d]}" = none ] || prop="numa-node-id = <${DTNODE[$d]}>;"
        printf '%s@%x { compatible = "special-purpose"; reg = <0x0 %s 0x0 %s>; no-map; %s };\n' \
            "$d" "${ADDR[$d]}" "${ADDR[$d]}" "${BYTES[$d]}" "$prop"
    done
    echo "}; };"
} > "$tmp/bad.dts"
if dtc -q -I dts -O dtb -o "$tmp/bad.dtb" "$tmp/bad.dts"; then
    ok "baddt: -dtb with $(grep -c 'compatible = "special-purpose"' "$tmp/bad.dts") special-purpose nodes: ${DEVS[*]} over2"
else
    bad "baddt: build the -dtb"
    finish
fi
cp "$tmp/bad.dts" "$OUT/baddt.dts"
spmem_spec_arg
echo "--- boot baddt"
boot_guest "$tmp/out-baddt" -M virt "${MACHINE[@]}" "${NO_SPMEM_DIST[@]}" -dtb "$tmp/bad.dtb" \
    -kernel "$K72/Image" -initrd "$OUT/initrd-72.cpio.gz" \
    -append "$DAX_APPEND spmem=$spmem_arg,over2:${ADDR[over2]}:${BYTES[over2]}:2 spmem-mods="
check_exit "$tmp/out-baddt"
boot_summary baddt
# Each range set aside: its own dax device, exactly the range, at its node.
check_sp baddt nouefi nodata
check_dax_count baddt
for d in nonode badnode hugenode half inram over2; do
    check_said baddt "$d" "${WARN[$d]}"
done
# The reserved-memory core's own report of the overlap (two lines).
core=$(printf '%s@%x (0x%016x--0x%016x) overlaps with %s@%x (0x%016x--0x%016x)' \
    over1 "${ADDR[over1]}" "${ADDR[over1]}" $((ADDR[over1] + BYTES[over1])) \
    over2 "${ADDR[over2]}" "${ADDR[over2]}" $((ADDR[over2] + BYTES[over2])))
if grep -A1 'OF: reserved mem: OVERLAP DETECTED!' "$tmp/out-baddt" | grep -qF -- "] $core"; then
    ok "baddt over2: the reserved-memory core says: OVERLAP DETECTED! $core"
else
    bad "baddt over2: no 'OVERLAP DETECTED!' followed by '$core': $(grep -A1 'OVERLAP' "$tmp/out-baddt" | tr '\n' ';')"
fi
for d in "${DEVS[@]}"; do
    check_said baddt "$d" "OF: reserved mem: $d@${ADDR[$d]#0x}: $(mem "$d") Soft Reserved, node ${NODE[$d]}"
done
# over2, not set aside: no dax device of its own, nothing of it System
# RAM, and its second half (past over1) in no resource at all.
a=${ADDR[over2]} b=${BYTES[over2]}
ram=$(iomem_lines "$tmp/out-baddt" 'spmem-iomem-(all|dax)' "$a" "$b" | grep 'System RAM')
past=$(iomem_lines "$tmp/out-baddt" 'spmem-iomem-(all|dax)' $((ADDR[over1] + BYTES[over1])) $((a + b - ADDR[over1] - BYTES[over1])))
if grep -qx 'spmem-daxmap over2 none' "$tmp/out-baddt" && [ -z "$ram" ] && [ -z "$past" ] &&
   ! grep -q "^spmem-dmesg .*over2@b4000000: .* Soft Reserved, node" "$tmp/out-baddt"; then
    ok "baddt over2: not set aside: no dax device starts at $a, no System RAM over it, $(hexrange $((ADDR[over1] + BYTES[over1])) $((a + b - ADDR[over1] - BYTES[over1]))) in no /proc/iomem resource"
else
    bad "baddt over2: want no dax device starting at $a, no System RAM, nothing past over1; dax device: '$(sed -n 's/^spmem-daxof over2 //p' "$tmp/out-baddt")', System RAM: '$ram', past over1: '$past'"
fi
boot_record baddt

finish
