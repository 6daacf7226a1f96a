#!/usr/bin/env bash
# Boot Debian's arm64 Linux through UEFI firmware (Debian's AAVMF build
# of EDK2) with ACPI on the patched emulator, with two file-backed sp-mem
# devices, and check what the guest sees: the SRAT (dumped by the guest,
# decoded here and by iasl), NUMA nodes, /proc/iomem, and a word each way
# through /dev/mem.  Needs build/qemu-system-aarch64 (scripts/build.sh);
# does not build QEMU.  Last line: "uefi-acpi: N passed, N failed".
#
# Debian's AAVMF makes Linux turn NUMA off (its variable-store flash, EFI
# MMIO with the WC attribute, lands in memblock without an SRAT node), with
# or without sp-mem; that one check is then reported as skipped, with the
# evidence, and every other check still runs.  See "NUMA nodes" below.
#
# Choices:
#  - Kernel and busybox as in linux-dt (the package
#    linux-image-cloud-arm64 depends on, if its config has NUMA and
#    ACPI_NUMA), unpacked into build/guest/uefi/ (not shared with the DT
#    scenario, so both may run at once).  -kernel goes to the firmware
#    through fw_cfg; EDK2 starts it as an EFI stub application and passes
#    -initrd through the LINUX_EFI_INITRD_MEDIA_GUID device path.
#  - Firmware: /usr/share/AAVMF/AAVMF_CODE.fd read-only, and a private copy
#    of AAVMF_VARS.fd per run (package qemu-efi-aarch64, scripts/deps.sh).
#  - Under ACPI the guest has no device tree, so the host passes the
#    devices on the kernel command line (spmem=ID:BASE:SIZE:NODE,...); the
#    guest's init (here) uses them only for /proc/iomem and /dev/mem,
#    every SRAT check is made against the table the guest dumped.
#  - The SRAT is dumped by the guest with "od -An -tx1 -v" on the serial
#    line, rebuilt here and decoded by srat.py (here; and iasl -d when
#    acpica-tools is installed, for the log).
#  - efi=debug makes the kernel log the UEFI memory map; its lines are
#    shown, so that the log tells whether the firmware map covers sp-mem.
#  - Devices and words as in linux-dt (spmem_layout words, host_word and
#    guest_word in lib/guest.sh).
set -uo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/../../lib/common.sh"
# shellcheck source=lib/guest.sh
. "$TOP/lib/guest.sh"

GUEST_SRC=$HERE
OUT=$BUILD/guest/uefi
TIMEOUT=180
FW_CODE=/usr/share/AAVMF/AAVMF_CODE.fd
FW_VARS=/usr/share/AAVMF/AAVMF_VARS.fd
spmem_layout words

# --- kernel, busybox, initramfs, firmware ------------------------------------
guest_begin
linux_guest "$GUEST_SRC/init" NUMA ACPI_NUMA EFI_STUB
if [ ! -r "$FW_CODE" ] || [ ! -r "$FW_VARS" ]; then
    bad "no $FW_CODE / $FW_VARS (package qemu-efi-aarch64)"
    finish
fi

# --- backends and host words ------------------------------------------------
spmem_backends "$tmp"
spmem_spec_arg

# --- boot ------------------------------------------------------------------
# acpi=force: the kernel must not fall back to the (empty) device tree
# the EFI stub generates.
# shellcheck disable=SC2054   # commas inside option values
uefi_args() {    # uefi_args VARS APPEND...: the machine, firmware and kernel
    uefi_pflash "$1"
    shift
    QARGS=(-M virt,acpi=on "${MACHINE[@]}" "${UEFI_PFLASH[@]}"
           -kernel "$KERNEL" -initrd "$INITRD"
           -append "console=ttyAMA0 acpi=force panic=-1 quiet nokaslr efi=debug rdinit=/init $*")
}
uefi_args "$tmp/vars.fd" "spmem=$spmem_arg"
QARGS+=("${SPMEM_ARGS[@]}")
boot_guest "$tmp/out" "${QARGS[@]}"
grep -E '^(UEFI firmware|EFI stub)' "$tmp/out" | sed 's/^/  firmware: /'
grep '^spmem-' "$tmp/out" | grep -vE '^spmem-(iomem-all|srat |cmdline)|efi:   0x' | sed 's/^/  guest: /'
echo "  guest: UEFI memory map (efi=debug):"
grep -E '^spmem-dmesg .*efi:   0x' "$tmp/out" | sed 's/^spmem-dmesg /    /'
echo "  guest: /proc/iomem lines at 0x80000000 and above:"
awk '/^spmem-iomem-all / {r = $2; sub(/-.*/, "", r); if (length(r) > 8 || r >= "80000000") print "    " substr($0, 17)}' "$tmp/out"

check_exit "$tmp/out"

if grep -qx 'spmem-efi yes' "$tmp/out" && grep -qx 'spmem-devicetree no' "$tmp/out" &&
   grep -q '^spmem-srat-size [0-9]' "$tmp/out" &&
   grep -q '^spmem-dmesg .*ACPI: SRAT 0x' "$tmp/out"; then
    ok "guest booted through UEFI with ACPI: /sys/firmware/efi, no /proc/device-tree, /sys/firmware/acpi/tables/SRAT ($(sed -n 's/^spmem-srat-size //p' "$tmp/out") bytes), dmesg: $(sed -n 's/^spmem-dmesg .*\(ACPI: SRAT 0x.*\)/\1/p' "$tmp/out" | head -1)"
else
    bad "guest not booted through UEFI + ACPI with an SRAT: $(grep -E '^spmem-(efi|devicetree|srat-size|acpi-tables)' "$tmp/out" | tr '\n' ' ')"
fi

# --- SRAT, decoded here --------------------------------------------------------
sed -n 's/^spmem-srat //p' "$tmp/out" |
    python3 -c 'import sys; sys.stdout.buffer.write(bytes(int(x, 16) for x in sys.stdin.read().split()))' \
    > "$tmp/srat.dat"
cp "$tmp/srat.dat" "$OUT/srat.dat"
python3 "$GUEST_SRC/srat.py" "$tmp/srat.dat" "${specs[@]}" > "$tmp/srat.txt" 2>&1
grep -vE '^(ok|bad) ' "$tmp/srat.txt" | sed 's/^/  srat: /'
if command -v iasl >/dev/null && [ -s "$tmp/srat.dat" ]; then
    if (cd "$tmp" && iasl -d srat.dat > iasl.log 2>&1) && [ -f "$tmp/srat.dsl" ]; then
        cp "$tmp/srat.dsl" "$OUT/srat.dsl"
        echo "  iasl -d: Memory Affinity entries (full table: ${OUT#"$TOP"/}/srat.dsl):"
        awk '/Subtable Type :/ {on = / 01 /} /Raw Table Data/ {on = 0} on && NF' "$tmp/srat.dsl" |
            sed 's/^/    /'
        echo "  (this iasl decodes flag bits 0..2 only; bit 3, Specific-Purpose, shows in the Flags value)"
    else
        echo "  iasl -d failed: $(tail -3 "$tmp/iasl.log")"
    fi
else
    echo "  iasl not installed or no table: not disassembled"
fi
for d in "${DEVS[@]}"; do
    line=$(grep -E "^(ok|bad) $d: " "$tmp/srat.txt")
    case $line in
        ok\ *) ok "SRAT $d: ${line#ok "$d": }" ;;
        bad\ *) bad "SRAT $d: ${line#bad "$d": }" ;;
        *) bad "SRAT $d: no result from srat.py: $(tail -3 "$tmp/srat.txt")" ;;
    esac
done

# --- the same machine without sp-mem ------------------------------------------
# Same nodes (memory-less 1 and 2 get no SRAT memory entry then) and the
# same firmware: MemTotal must not change, and neither may the kernel's
# NUMA outcome.
uefi_args "$tmp/vars0.fd"
boot_guest "$tmp/out0" "${QARGS[@]}"
check_memtotal "$tmp/out" "$tmp/out0"

# --- NUMA nodes --------------------------------------------------------------
# The node of each range is in the SRAT the guest read (checked above).
# Whether the kernel brings nodes 1 and 2 up is the firmware's business
# too: Linux (drivers/base/arch_numa.c, mm/numa_memblks.c) gives up on
# NUMA when a memblock range has no SRAT node, and Debian's AAVMF reports
# its variable-store flash as EFI MMIO with the WC attribute, which the
# arm64 EFI code adds to memblock.  That case, when it is the only cause
# and it happens without sp-mem too, is reported as skipped with the
# evidence; any other cause fails.
invalid() { sed -n 's/^spmem-dmesg .*NUMA: Warning: invalid memblk node [0-9]* \[mem 0x\([0-9a-f]*\)-0x\([0-9a-f]*\)\]/\1 \2/p' "$1"; }
nodes=$(sed -n 's/^spmem-nodes //p' "$tmp/out")
if grep -qw node1 <<< "$nodes" && grep -qw node2 <<< "$nodes"; then
    check_nodes "$tmp/out" node1 node2
else
    why= cause=firmware
    while read -r s e; do
        [ -n "$s" ] || continue
        efi=$(grep -E "^spmem-dmesg .*efi:   0x$(printf '%012x' $((0x$s)))-" "$tmp/out" |
              sed 's/^spmem-dmesg \[[ 0-9.]*\] efi: *//')
        why+="0x$s-0x$e is UEFI map entry '$efi'; "
        grep -q '\[MMIO *|RUN|.*|WC|' <<< "$efi" || cause=other
        for d in "${DEVS[@]}"; do
            (( 0x$s < ${ADDR[$d]} + ${BYTES[$d]} && 0x$e >= ${ADDR[$d]} )) && cause=other
        done
    done <<< "$(invalid "$tmp/out")"
    if [ -n "$why" ] && [ "$cause" = firmware ] &&
            [ "$(invalid "$tmp/out")" = "$(invalid "$tmp/out0")" ]; then
        skip "kernel NUMA nodes 1, 2 (has: $nodes): Linux turned NUMA off because a range has no SRAT node: ${why}the firmware's flash, not sp-mem, and the same without sp-mem (Debian's AAVMF; see scenarios/uefi-acpi/run.sh)"
    else
        check_nodes "$tmp/out" node1 node2
        echo "  ranges without a node: ${why:-none}; without sp-mem: $(invalid "$tmp/out0" | tr '\n' ';')"
    fi
fi

# --- iomem and /dev/mem --------------------------------------------------------
for d in "${DEVS[@]}"; do
    check_data "$tmp/out" "$d" "$d" "$tmp/$d"
done

finish
