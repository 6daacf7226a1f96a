# The dax checks of the guests that get sp-mem as specific-purpose memory
# (guest-uefi-sp.sh: our EDK2 with Debian's and our kernels;
# guest-linux-sp.sh: our Linux series on every boot path).  Sourced after
# common.sh and guest-linux-lib.sh; the sourcing script sets DEVS, SIZE,
# NODE, ADDR, BYTES (its devices), RAM_DEV, ROFF, WOFF, PLEN (see
# guest-uefi-sp.sh's Choices) and $tmp.  The guest runs guest/dax/init.
# shellcheck shell=bash

# pattern MODE FILE OFF SEED: write (MODE put) or check (MODE check: prints
# "ok" or the first mismatch) PLEN bytes of the pattern of SEED at OFF.
pattern() {
    python3 - "$@" "$PLEN" <<'EOF'
import struct, sys
mode, path, off, seed, n = sys.argv[1], sys.argv[2], *(int(x, 0) for x in sys.argv[3:6])
words = [(seed + i * 0x9e3779b97f4a7c15) & (2**64 - 1) for i in range(n // 8)]
with open(path, "r+b") as f:
    f.seek(off)
    if mode == "put":
        f.write(struct.pack("<%dQ" % len(words), *words))
    else:
        got = struct.unpack("<%dQ" % len(words), f.read(n))
        bad = [i for i in range(len(words)) if got[i] != words[i]]
        print("ok" if not bad else "mismatch at +0x%x: 0x%016x, want 0x%016x"
              % (bad[0] * 8, got[bad[0]], words[bad[0]]))
EOF
}
seed() { word "$1" "${ADDR[$2]}" "${NODE[$2]}"; }   # seed PREFIX DEV

# backends: fresh backend files holding the host pattern; sets SPMEM_ARGS.
backends() {
    local d
    SPMEM_ARGS=()
    for d in "${DEVS[@]}"; do
        rm -f "$tmp/$d"
        truncate -s "${SIZE[$d]}" "$tmp/$d"
        pattern put "$tmp/$d" "$ROFF" "$(seed 0x484f535400000000 "$d")"
        SPMEM_ARGS+=(-object "memory-backend-file,id=h$d,size=${SIZE[$d]},mem-path=$tmp/$d,share=on"
                     -device "sp-mem,id=$d,memdev=h$d,node=${NODE[$d]},addr=${ADDR[$d]}")
    done
}

# since T0: seconds since T0 (date +%s%N), two decimals.
since() { awk -v t="$(( $(date +%s%N) - $1 ))" 'BEGIN {printf "%.2f", t / 1e9}'; }

# dax_tools: guest/dax/daxmap.c built static for arm64 into $OUT, and
# busybox (linux_busybox).
dax_tools() {
    mkdir -p "$OUT"
    if aarch64-linux-gnu-gcc -static -O2 -Wall -Wextra -Werror \
            -o "$OUT/daxmap" "$TOP/lib/guest/dax/daxmap.c"; then
        ok "guest/dax/daxmap.c built (static arm64)"
    else
        bad "build guest/dax/daxmap.c"
        finish
    fi
    linux_busybox
}

# initramfs_for NAME [MODULE...]: the initramfs $OUT/initrd-NAME.cpio.gz,
# with the MODULEs of the kernel linux_kernel chose and the modules they
# depend on (none for a kernel with all built in), and every file under
# the directory INITRAMFS_ROOT, if set, at the same path.  Sets MODS_NAME
# to the modules, in load order.
initramfs_for() {
    local name=$1 f
    shift
    INITRAMFS_EXTRA=("bin/daxmap=$OUT/daxmap")
    if [ -n "${INITRAMFS_ROOT:-}" ]; then
        while read -r f; do
            INITRAMFS_EXTRA+=("$f=$INITRAMFS_ROOT/$f")
        done < <(cd "$INITRAMFS_ROOT" && find . -type f | sed 's|^\./||' | sort)
    fi
    LINUX_MODULES=
    [ $# = 0 ] || linux_modules "$@"
    # kmem is loaded later, by the guest, right before daxctl.
    printf -v "MODS_$name" %s "${LINUX_MODULES//,kmem/}"
    linux_userland daxctl usr/bin/daxctl
    linux_initramfs_extra "$TOP/lib/guest/dax/init" "$OUT/initrd-$name.cpio.gz"
}

# dax_spec_arg: spmem_arg, the guest's spmem= argument for DEVS.
dax_spec_arg() {
    local d specs=()
    for d in "${DEVS[@]}"; do
        specs+=("$d:${ADDR[$d]}:${BYTES[$d]}:${NODE[$d]}")
    done
    spmem_arg=$(IFS=,; echo "${specs[*]}")
}

# boot_summary LABEL: what the guest of $tmp/out-LABEL printed, its UEFI
# map (if any) and /proc/iomem from 0x80000000 on, and the NUMA, SRAT,
# HMAT, dax and reserved-memory lines of its kernel log.
boot_summary() {
    local label=$1
    grep '^spmem-' "$tmp/out-$label" |
        grep -vE '^spmem-(iomem-all|cmdline|dmesg)' | sed 's/^/  guest: /'
    echo "  guest: UEFI memory map at 0x80000000 and above, and what /proc/iomem shows there:"
    grep -E '^spmem-dmesg .*efi:   0x0000[0-9a-f]*-' "$tmp/out-$label" |
        awk '{for (i = 1; i <= NF; i++) if ($i ~ /^0x0000[0-9a-f]+-/) {s = substr($i, 3, 12); if (s >= "000080000000") print "    " substr($0, index($0, "efi:"))}}'
    awk '/^spmem-iomem-all / {r = $2; sub(/-.*/, "", r); if (length(r) > 8 || r >= "80000000") print "    " substr($0, 17)}' "$tmp/out-$label"
    echo "  guest: NUMA/SRAT/HMAT/dax lines of dmesg:"
    grep -E '^spmem-dmesg .*(NUMA|SRAT|HMAT|hmem|dax|kmem|Faking|memblk|node|reserved mem)' "$tmp/out-$label" |
        grep -v 'efi:   0x' | sed 's/^spmem-dmesg /    /' | head -40
}

# hexrange BASE BYTES: "80000000-8fffffff" as /proc/iomem writes it.
hexrange() { printf '%x-%x' "$1" $(($1 + $2 - 1)); }

# covering OUT KIND BASE BYTES: the line of OUT that covers BASE+BYTES,
# KIND efi (a Conventional descriptor with EFI_MEMORY_SP) or iomem (a
# top-level "Soft Reserved" resource, or one right under an hmem.N
# resource of the same range: Linux 6.1's hmem_register_device adds its
# platform device's resource above the Soft Reserved one).
covering() {
    local out=$1 kind=$2 a=$3 b=$4 s e line
    while read -r s e line; do
        if (( 0x$s <= a && 0x$e >= a + b - 1 )); then
            echo "$line"
            return 0
        fi
    done < <(if [ "$kind" = efi ]; then
                 sed -n 's/^spmem-dmesg .*efi:   0x\([0-9a-f]*\)-0x\([0-9a-f]*\) \(\[Conventional *|.*|SP|.*\)$/\1 \2 \1-\2 \3/p' "$out"
             else
                 awk '/^spmem-iomem-all / {
                          l = substr($0, 17); depth = match(l, /[^ ]/) - 1; sub(/^ +/, "", l)
                          r = l; sub(/ : .*/, "", r); name = substr(l, length(r) + 4)
                          if (depth == 0) { top = l; topr = r; topname = name }
                          if (name != "Soft Reserved") next
                          split(r, se, "-")
                          if (depth == 0)
                              print se[1], se[2], l
                          else if (depth == 2 && r == topr && topname ~ /^hmem\.[0-9]+$/)
                              print se[1], se[2], l " (under " top ")"
                      }' "$out"
             fi)
    return 1
}

# check_sp LABEL [nodax] [nouefi]: every sp-mem range is EFI_MEMORY_SP
# memory in the UEFI map (unless nouefi is given: a boot whose firmware
# has no such map, or does not mark the range) and Soft Reserved in
# /proc/iomem (exactly, or, with ADJACENT=1, within a merged range), not
# System RAM; and, unless nodax is given (a kernel that cannot have dax
# devices, checked by the caller), a dax device whose numa_node and
# target_node are the device's node (or DAX_NODE, if set: a guest that
# cannot know the node; -1, no node, has no target_node attribute),
# through which the patterns crossed.
check_sp() {
    local label=$1 out=$tmp/out-$1 mode=" ${*:2} " d a b line dax node tnode want got s e
    local want_node want_tnode
    for d in "${DEVS[@]}"; do
        a=${ADDR[$d]} b=${BYTES[$d]}
        want=$(printf '%012x-%012x' "$a" $((a + b - 1)))
        if [[ $mode = *" nouefi "* ]]; then
            :
        elif line=$(covering "$out" efi "$a" "$b") &&
           { [ "${ADJACENT:-0}" = 1 ] || [ "${line%% *}" = "$want" ]; }; then
            ok "$label $d: UEFI memory map: $line"
        else
            bad "$label $d: no Conventional+SP descriptor for $([ "${ADJACENT:-0}" = 1 ] && echo over || echo exactly) $a+$b in the UEFI map: '$line'"
        fi
        want=$(hexrange "$a" "$b")
        if line=$(covering "$out" iomem "$a" "$b") &&
           { [ "${ADJACENT:-0}" = 1 ] || [ "${line%% *}" = "$want" ]; }; then
            ok "$label $d: /proc/iomem: $line"
        else
            bad "$label $d: no top-level '$want : Soft Reserved' in /proc/iomem: $(grep -iE '^spmem-iomem-all .*Soft' "$out" | sed 's/^spmem-iomem-all //' | tr '\n' ';')"
        fi
        while read -r s e; do
            if (( 0x$s <= a + b - 1 && 0x$e >= a )); then
                bad "$label $d: System RAM $s-$e in /proc/iomem overlaps it"
            fi
        done < <(sed -n 's/^spmem-iomem-all *\([0-9a-f]*\)-\([0-9a-f]*\) : System RAM$/\1 \2/p' "$out")
        [[ $mode = *" nodax "* ]] && continue
        # A dax device without a node (-1) has no target_node attribute.
        want_node=${DAX_NODE:-${NODE[$d]}} want_tnode=${DAX_NODE:-${NODE[$d]}}
        [ "$want_node" = -1 ] && want_tnode=
        dax=$(sed -n "s/^spmem-daxof $d //p" "$out")
        line=$(grep "^spmem-dax $dax " "$out")
        node=$(sed -n 's/.* numa_node=\([-0-9]*\) .*/\1/p' <<< "$line")
        tnode=$(sed -n 's/.* target_node=\([-0-9]*\) .*/\1/p' <<< "$line")
        if [ -z "$dax" ]; then
            bad "$label $d: no dax device starts at $a; dax devices: $(grep '^spmem-dax ' "$out" | tr '\n' ';') insmod: $(grep '^spmem-insmod' "$out" | tr '\n' ' ')"
        elif [ "$node" = "$want_node" ] && [ "$tnode" = "$want_tnode" ] &&
             grep -q 'chardev=yes' <<< "$line"; then
            ok "$label $d: /dev/$dax, numa_node $node and target_node '$tnode' = ${DAX_NODE:+DAX_NODE, not }the device's node (${line#spmem-dax "$dax" })"
        else
            bad "$label $d: /dev/$dax numa_node '$node', target_node '$tnode', want '$want_node' and '$want_tnode' (${line#spmem-dax })"
        fi
        want="spmem-daxmap $d daxmap /dev/$dax read $ROFF $PLEN ok first $(seed 0x484f535400000000 "$d")"
        if [ -n "$dax" ] && grep -qFx -- "$want" "$out"; then
            ok "$label $d: the guest read the host's $PLEN-byte pattern at $ROFF through mmap(/dev/$dax)"
        else
            bad "$label $d: want '$want'; got: $(grep "^spmem-daxmap $d " "$out" | tr '\n' ';')"
        fi
        got=$(pattern check "$tmp/$d" "$WOFF" "$(seed 0x4c494e5800000000 "$d")")
        if [ "$got" = ok ] && grep -q "^spmem-daxmap $d daxmap /dev/$dax write $WOFF $PLEN ok" "$out"; then
            ok "$label $d: the backend file holds the guest's $PLEN-byte pattern at $WOFF (written through mmap(/dev/$dax))"
        else
            bad "$label $d: backend file at $WOFF: $got; guest: $(grep "^spmem-daxmap $d .* write" "$out")"
        fi
        if [ -n "$dax" ] && ! grep -q "^spmem-daxmap $d daxmap /dev/$dax \(error\|.* mismatch\)" "$out"; then
            ok "$label $d: daxmap reported no error on /dev/$dax"
        else
            bad "$label $d: daxmap: $(grep "^spmem-daxmap $d " "$out" | tr '\n' ';')"
        fi
    done
}

# check_ram LABEL [DEV]: daxctl made DEV (default RAM_DEV) system-ram,
# online on its node.
check_ram() {
    local label=$1 out=$tmp/out-$1 d=${2:-$RAM_DEV} before after blocks on total bs
    before=$(sed -n "s/^spmem-ram-before $d node[0-9]* MemTotal \([0-9]*\) kB/\1/p" "$out")
    after=$(sed -n "s/^spmem-ram-after $d node[0-9]* MemTotal \([0-9]*\) kB/\1/p" "$out")
    blocks=$(grep "^spmem-ram-blocks $d node${NODE[$d]} " "$out")
    on=$(sed -n 's/.* online=\([0-9]*\) .*/\1/p' <<< "$blocks")
    total=$(sed -n 's/.* total=\([0-9]*\) .*/\1/p' <<< "$blocks")
    bs=$(sed -n 's/.* block_size=\(0x[0-9a-f]*\)/\1/p' <<< "$blocks")
    if grep -qx "spmem-daxctl-rc $d 0" "$out" &&
       grep "^spmem-daxctl $d " "$out" | grep -q '"mode":"system-ram"'; then
        ok "$label $d: daxctl reconfigure-device --mode=system-ram: $(grep "^spmem-daxctl $d " "$out" | sed "s/^spmem-daxctl $d //" | tr -d ' \n' | cut -c1-200)"
    else
        bad "$label $d: daxctl: $(grep -E "^spmem-daxctl(-rc)? $d " "$out" | tr '\n' ' ')"
    fi
    if [ -n "$total" ] && [ "$total" -gt 0 ] && [ "$on" = "$total" ] &&
       [ $((total * bs)) = $((BYTES[$d])) ] &&
       [ -n "$before" ] && [ -n "$after" ] && [ $((after - before)) = $((BYTES[$d] / 1024)) ]; then
        ok "$label $d: all $total memory blocks of ${ADDR[$d]}+${BYTES[$d]} online on node${NODE[$d]}, whose MemTotal went from $before to $after kB"
    else
        bad "$label $d: memory blocks on node${NODE[$d]}: '$blocks', node MemTotal $before -> $after kB"
    fi
}

# check_nodes_of LABEL: Linux brought up nodes 1 and 2 (not one fake node).
check_nodes_of() {
    local out=$tmp/out-$1
    if grep -q '^spmem-dmesg .*Faking a node' "$out"; then
        bad "$1: Linux faked one NUMA node: $(grep -E '^spmem-dmesg .*(invalid memblk|Faking)' "$out" | sed 's/^spmem-dmesg \[[ 0-9.]*\] //' | tr '\n' ';')"
    elif grep -qw node1 <<< "$(sed -n 's/^spmem-nodes //p' "$out")" &&
         grep -qw node2 <<< "$(sed -n 's/^spmem-nodes //p' "$out")"; then
        ok "$1: Linux has NUMA nodes 1 and 2 ($(sed -n 's/^spmem-nodes //p' "$out"); online $(sed -n 's/^spmem-node-online //p' "$out"))"
    else
        bad "$1: /sys/devices/system/node has '$(sed -n 's/^spmem-nodes //p' "$out")', not node1 and node2"
    fi
}
