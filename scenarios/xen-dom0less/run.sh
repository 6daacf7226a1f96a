#!/usr/bin/env bash
# Boot Debian's Xen 4.20 for arm64 with a dom0 and one dom0less domain on
# the patched emulator with two file-backed sp-mem devices: s0 stays with
# dom0, s1 goes to the domain through its partial device tree
# (/passthrough, xen,reg), at guest address 0x100000000.  The host device
# tree and the QEMU options come from xen-dom0less.py (here).  Checks:
# Xen's reserved banks; dom0 sees both /reserved-memory nodes, uses s0
# (a word each way) and cannot reach s1; the domain sees s1 under
# /passthrough with its numa-node-id, reads the host's word and writes
# its own, which the host finds in s1's backend file.  Then what keeps
# dom0 out (the host node's status "disabled" and "xen,passthrough"
# together; with neither, or with the status alone, dom0 reaches the
# range), and the refused or survivable
# configurations: a boot module inside an sp-mem range, two ranges for
# one domain, a guest address in the domain's RAM window.
# XEN_DOM0LESS_VERSIONS (default 4.20) names the Xen releases to boot,
# XEN_DOM0_KERNEL=IMAGE another dom0 kernel (lib/guest.sh).
# Needs build/qemu-system-aarch64 (scripts/build.sh).
# Last line: "xen-dom0less: N passed, N failed".
set -uo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/../../lib/common.sh"
# shellcheck source=lib/guest.sh
. "$TOP/lib/guest.sh"

GUEST_SRC=$TOP/lib/guest
OUT=$BUILD/guest/xen-dom0less
TIMEOUT=180
XEN_DOM0LESS_VERSIONS=${XEN_DOM0LESS_VERSIONS:-4.20}
spmem_layout words

# The domain's guest address of s1: between Xen's guest RAM banks
# (GUEST_RAM0 ends at 4 GiB, GUEST_RAM1 starts at 8 GiB).
GUEST_BASE=0x100000000
GUEST_BASE2=0x108000000
# Inside the domain's RAM (128 MiB from 0x40000000).
GUEST_RAMWIN=0x44000000
# A boot module at this host address is inside s1.
KADDR_IN=0x84000000
DOMU_ARGS="console=ttyAMA0 panic=-1 quiet rdinit=/init"

guest_begin
xen_dom0_guest "$GUEST_SRC/init" NUMA OF_NUMA XEN_DOM0 HVC_XEN
spmem_backends "$tmp"

# domu_lines LOG: the "spmem-" lines of domain 1.  Xen prints its vpl011
# output as "(XEN) DOM1: " lines and flushes its 128-byte buffer when
# full: a 126-character piece goes on in the next line.
domu_lines() {
    awk 'substr($0, 1, 12) == "(XEN) DOM1: " {
             s = substr($0, 13); buf = cont ? buf s : s
             cont = length(s) == 126
             if (!cont) print buf
         }' "$1" | grep '^spmem-'
}

# dom0less NAME KEEP-OUT RANGE... : build the host tree with
# xen-dom0less.py (domain domU1, 128 MiB, one vCPU; RANGE is
# HOST_ADDR,GUEST_ADDR) into $tmp/NAME, boot it; $tmp/out-NAME is the
# serial output (kept as $OUT/boot-NAME.log), $tmp/out-NAME.domu the
# domain's lines.  Sets gen_rc and
# gen_err (xen-dom0less.py's status and stderr).
dom0less() {
    local name=$1 keep=$2 r ranges=()
    shift 2
    for r in "$@"; do
        ranges+=(--range "domU1,$r")
    done
    # Xen and its command line as in the xen scenario; dom0 is placed by
    # xen-dom0less.py.
    # shellcheck disable=SC2119   # no arguments: no dom0 here
    xen_args
    BASE=("${XEN_ARGS[@]}" "${SPMEM_ARGS[@]}")
    gen_err=$(python3 "$HERE/xen-dom0less.py" --out "$tmp/$name" \
                  --keep-out "$keep" ${GEN_EXTRA:+"$GEN_EXTRA"} \
                  --dom0 "$KERNEL,$INITRD,$XEN_DOM0_APPEND" \
                  --domu "domU1,$DOMU_KERNEL,$INITRD,128,1,$DOMU_ARGS" \
                  "${ranges[@]}" -- "$QEMU" "${BASE[@]}" 2>&1 >/dev/null)
    gen_rc=$?
    [ "$gen_rc" = 0 ] || return 0
    mapfile -t EXTRA < "$tmp/$name/qemu-args"
    XEN_TYPIST_AFTER=spmem-done
    BOOT_TYPIST=xen_typist
    boot_guest "$tmp/out-$name" "${BASE[@]}" "${EXTRA[@]}"
    domu_lines "$tmp/out-$name" > "$tmp/out-$name.domu"
    grep -v 'spmem-iomem-all' "$tmp/out-$name.domu" | sed 's/^/  domU1: /'
}

# check_booted NAME: Xen started dom0 and domU1, the domain finished,
# dom0 answered after the ring dump, and Xen halted with dom0.
check_booted() {
    local out=$tmp/out-$1
    if [ "$rc" = 0 ] && grep -qx 'spmem-done' "$out" && grep -qx 'spmem-done' "$tmp/out-$1.domu" &&
            grep -qx 'spmem-xen-reply go' "$out" && grep -q '^(XEN) Hardware Dom0 halted' "$out"; then
        ok "$1: Xen $v booted dom0 and domU1; domU1 finished, dom0 answered after the ring dump, Xen halted with dom0, QEMU exited 0 in ${secs}s"
    else
        bad "$1: QEMU exit $rc; dom0 done $(grep -cx 'spmem-done' "$out"), domU1 done $(grep -cx 'spmem-done' "$tmp/out-$1.domu"); last lines:"
        tail -40 "$out" | sed 's/^/    /'
    fi
}

# check_domu NAME DEV GUEST_ADDR: domU1 sees DEV at GUEST_ADDR under
# /passthrough with DEV's node, not as System RAM, reads the host word,
# and DEV's backend holds the domain's word.
check_domu() {
    local n=$1 d=$2 g=$3 key reg want haddr got gw
    key=sp-mem@${g#0x}
    reg=$(printf '%016x%016x' "$g" "${BYTES[$d]}")
    want="spmem-dt $key reg=$reg numa-node-id=${NODE[$d]} no-map=no compatible=qemu,sp-mem,special-purpose,"
    if grep -qFx -- "$want" "$tmp/out-$n.domu"; then
        ok "$n: domU1 sees $d as /passthrough/$key reg=<$g ${BYTES[$d]}> numa-node-id=${NODE[$d]}, compatible qemu,sp-mem + special-purpose"
    else
        bad "$n: domU1: no line '$want'; got: $(grep '^spmem-dt ' "$tmp/out-$n.domu" | tr '\n' ';')"
    fi
    if grep -q "^spmem-iomem $key " "$tmp/out-$n.domu" && ! grep "^spmem-iomem $key " "$tmp/out-$n.domu" | grep -q 'System RAM'; then
        ok "$n: domU1: $g+${BYTES[$d]} is not System RAM ($(sed -n "s/^spmem-iomem $key //p" "$tmp/out-$n.domu" | tr '\n' ';'))"
    else
        bad "$n: domU1 /proc/iomem over $g: $(grep "^spmem-iomem $key " "$tmp/out-$n.domu" | tr '\n' ';')"
    fi
    haddr=$(printf '0x%x' $((g + HOST_OFF)))
    want="spmem-read $key $haddr $(host_word "$d")"
    if grep -qFx -- "$want" "$tmp/out-$n.domu"; then
        ok "$n: domU1 read the host word $(host_word "$d") of $d at guest $haddr"
    else
        bad "$n: domU1: want '$want'; got: $(grep "^spmem-read $key" "$tmp/out-$n.domu")"
    fi
    gw=$(guest_word "$d" "$g")
    got=$(get_word "$tmp/$d" "$GUEST_OFF")
    if [ "$got" = "$gw" ]; then
        ok "$n: $d's backend file holds domU1's word $got at offset $GUEST_OFF"
    else
        bad "$n: $d's backend offset $GUEST_OFF holds $got, want domU1's $gw; domU1: $(grep "^spmem-write $key" "$tmp/out-$n.domu")"
    fi
}

# check_dom0_out NAME DEV: dom0 has DEV's node with status "disabled"
# and its read of DEV's range failed.
check_dom0_out() {
    local n=$1 d=$2 key=sp-mem@${ADDR[$2]#0x} line
    line=$(grep "^spmem-read $key " "$tmp/out-$n")
    if grep -qx "spmem-dt-status $key disabled" "$tmp/out-$n" && grep -q ' error ' <<< "$line"; then
        ok "$n: dom0 has /reserved-memory/$key with status \"disabled\" and cannot read it: $line"
    else
        bad "$n: dom0 and $d: status '$(sed -n "s/^spmem-dt-status $key //p" "$tmp/out-$n")', read: '$line'"
    fi
}

# ramwin_outcome NAME: Xen 4.20 does not refuse a range mapped into the
# domain's RAM: the domain boots with the range inside its System RAM,
# which is why xen-dom0less.py refuses such a guest address.  The
# nonzero words in s1's backend besides the host's are reported: whether
# the domain's writes to that RAM reach s1 (none did in the runs with a
# fresh backend; the one word earlier runs reported was left there by
# the boot before, when backends were reused).
ramwin_outcome() {
    local out=$tmp/out-$1 key=sp-mem@${GUEST_RAMWIN#0x} words
    words=$(python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); print(sum(1 for i in range(0, len(d), 8) if i != 0x1000 and any(d[i:i + 8])))' "$tmp/s1")
    if grep -qx 'spmem-done' "$out.domu" &&
            grep "^spmem-iomem $key " "$out.domu" | grep -q 'System RAM'; then
        ok "$1: Xen $v builds domU1 with s1 mapped at $GUEST_RAMWIN inside its RAM, without a message; domU1 lists the range as System RAM ($(grep "^spmem-iomem $key " "$out.domu" | head -1 | cut -d' ' -f3-)); nonzero 64-bit words the domain left in s1's backend: $words"
    else
        bad "$1: QEMU exit $rc; domU1 done $(grep -cx 'spmem-done' "$out.domu"), iomem: $(grep "^spmem-iomem $key " "$out.domu" | tr '\n' ';'); nonzero words in s1: $words"
    fi
}

# boot_module_refused: a guest-loader blob inside s1 is refused by QEMU
# (without the check Xen 4.20 drops the module silently, see
# docs/guests.md); xen-dom0less.py refuses to place blobs there.
boot_module_refused() {
    local out want
    out=$(timeout 60 "$QEMU" -M virt,virtualization=on,gic-version=3 "${MACHINE[@]}" \
              -kernel "$XEN" -append "console=dtuart dtuart=serial0" "${SPMEM_ARGS[@]}" \
              -device "guest-loader,addr=$KADDR_IN,initrd=$INITRD" 2>&1 < /dev/null)
    rc=$?
    want="boot module /chosen/module@$KADDR_IN [$KADDR_IN, size $(printf '0x%x' "$(stat -c %s "$INITRD")")] overlaps sp-mem 's1' [${ADDR[s1]}, size ${BYTES[s1]}]"
    if [ "$rc" = 1 ] && grep -qF -- "$want" <<< "$out"; then
        ok "guest-loader blob inside s1: QEMU exits 1: $(tr '\n' ' ' <<< "$out")"
    else
        bad "guest-loader blob inside s1: QEMU exit $rc, want 1 and '$want'; got: $out"
    fi
    GEN_EXTRA=--load-base=${ADDR[s1]} dom0less blobs both "${ADDR[s1]},$GUEST_BASE"
    if [ "$gen_rc" != 0 ] && grep -q "would overlap the sp-mem range \[${ADDR[s1]}, size ${BYTES[s1]}\]" <<< "$gen_err"; then
        ok "xen-dom0less.py --load-base=${ADDR[s1]}: refused: $gen_err"
    else
        bad "xen-dom0less.py --load-base=${ADDR[s1]}: exit $gen_rc: $gen_err"
    fi
}

# xen_check_unbanked LOG DEV: Xen 4.19 and later skip a /reserved-memory
# child with status "disabled": DEV's range is in no reserved bank, no
# Xen RAM bank and no dom0 RAM bank (it is in no /memory node either).
xen_check_unbanked() {
    local a=${ADDR[$2]} n=${BYTES[$2]} all
    all=$(ring_ranges "$1" 'RAM'; ring_ranges "$1" 'RESVD\[[0-9]*\]'; dom0_banks "$1")
    if grep -q '^(XEN) RAM:' "$1" && [ -z "$(overlaps "$all" "$a" "$n")" ]; then
        ok "$2: $a+$n is in no Xen reserved bank, RAM bank or dom0 bank (status \"disabled\" on the host node)"
    else
        bad "$2: $a+$n overlaps: '$(overlaps "$all" "$a" "$n")' (ring dump seen: $(grep -c '^(XEN) RAM:' "$1"))"
    fi
}

run_release() {
    local v=$1 n
    echo
    echo "--- Xen $v ---"
    xen_hypervisor "$v" "$BUILD/guest/xen/xen-$v" || return
    OUT=$BUILD/guest/xen-dom0less/$v

    # 1. s0 to dom0, s1 to domU1; the host node of s1 marked with
    #    status "disabled" and xen,passthrough.
    n=main
    spmem_backends "$tmp"
    dom0less $n both "${ADDR[s1]},$GUEST_BASE"
    if [ "$gen_rc" != 0 ]; then
        bad "$n: xen-dom0less.py failed: $gen_err"
        return
    fi
    sed 's/^/  /' "$tmp/$n/domU1.dts" | grep -E 'sp-mem@|reg|numa'
    xen_print "$tmp/out-$n"
    grep '^spmem-' "$tmp/out-$n" | grep -v '^spmem-iomem-all' | sed 's/^/  dom0: /'
    check_booted $n
    xen_check_banks "$tmp/out-$n" s0
    xen_check_unbanked "$tmp/out-$n" s1
    check_dt_nodes "$tmp/out-$n" s0
    check_data "$tmp/out-$n" s0 "sp-mem@${ADDR[s0]#0x}" "$tmp/s0"
    check_dom0_out $n s1
    check_domu $n s1 "$GUEST_BASE"

    # 2. What each marker alone does: without any, and with status
    #    "disabled" only, Xen still maps s1 into dom0, which reads it.
    #    (xen,passthrough alone leaves s1 in dom0's /memory node while
    #    its reserved-memory node says "disabled": dom0 takes s1 for RAM
    #    and dies at boot on the first access; not run, it only times out.)
    for n in none disabled; do
        spmem_backends "$tmp"
        dom0less $n $n "${ADDR[s1]},$GUEST_BASE"
        check_booted $n
        line=$(grep "^spmem-read sp-mem@${ADDR[s1]#0x} " "$tmp/out-$n")
        if [ "$line" = "spmem-read sp-mem@${ADDR[s1]#0x} $(printf '0x%x' $((ADDR[s1] + HOST_OFF))) $(host_word s1)" ]; then
            ok "$n: with keep-out '$n' dom0 still reaches domU1's range: $line"
        else
            bad "$n: dom0's read of s1 with keep-out '$n': '$line'"
        fi
    done

    # 3. Both ranges to domU1, none to dom0: survivable, the domain gets
    #    both, each with its node.
    n=two
    spmem_backends "$tmp"
    dom0less $n both "${ADDR[s0]},$GUEST_BASE" "${ADDR[s1]},$GUEST_BASE2"
    check_booted $n
    if grep -qx 'spmem-dt-count 2' "$tmp/out-$n.domu"; then
        ok "$n: domU1 sees exactly two sp-mem nodes"
    else
        bad "$n: domU1 node count: $(grep '^spmem-dt-count' "$tmp/out-$n.domu")"
    fi
    check_domu $n s0 "$GUEST_BASE"
    check_domu $n s1 "$GUEST_BASE2"
    check_dom0_out $n s0
    check_dom0_out $n s1

    # 4. A guest address inside the domain's RAM window: the script
    #    refuses it; unchecked, Xen builds the domain anyway.
    n=ramwin
    spmem_backends "$tmp"
    dom0less $n both "${ADDR[s1]},$GUEST_RAMWIN"
    if [ "$gen_rc" != 0 ] && grep -q "overlaps the domain's guest RAM bank \[0x40000000, 0x100000000)" <<< "$gen_err"; then
        ok "$n: xen-dom0less.py refuses guest address $GUEST_RAMWIN: $gen_err"
    else
        bad "$n: xen-dom0less.py exit $gen_rc for guest address $GUEST_RAMWIN: $gen_err"
    fi
    n=ramwin-unchecked
    spmem_backends "$tmp"
    GEN_EXTRA=--unchecked dom0less $n both "${ADDR[s1]},$GUEST_RAMWIN"
    ramwin_outcome $n

    # 5. A boot module inside an sp-mem range: QEMU refuses it.
    boot_module_refused
}

for v in $XEN_DOM0LESS_VERSIONS; do
    run_release "$v"
done

finish
