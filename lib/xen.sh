# Shared by the Xen scenarios (guest-xen.sh, guest-xen-dom0less.sh):
# Xen from Debian, the dom0 kernel, the serial typist that has Xen dump
# its console ring, and the checks of Xen's memory map.  Sourced after
# common.sh and guest-linux-lib.sh.
# shellcheck shell=bash

# The Xen releases to boot, as Debian packages xen-hypervisor-V-arm64
# (4.17: bookworm; 4.20: trixie, through the private apt state).
XEN_VERSIONS=${XEN_VERSIONS:-4.17 4.20}

# XEN_DOM0_KERNEL=IMAGE boots that arm64 Image as dom0 instead of
# Debian's cloud kernel, with the same initramfs and the same checks.
XEN_DOM0_KERNEL=${XEN_DOM0_KERNEL:-}

# xen_hypervisor VERSION DIR: unpack Debian's Xen VERSION into DIR; sets
# XEN to its arm64 Image.
xen_hypervisor() {
    local pkg=xen-hypervisor-$1-arm64
    if guest_unpack "$pkg" "$2" && XEN=$(compgen -G "$2/boot/xen-$1-arm64") &&
            [ -f "$XEN" ]; then
        ok "Xen ${XEN#"$TOP"/} ($pkg $(dpkg-deb -f "$(guest_deb "$pkg")" Version))"
        return 0
    fi
    bad "fetch and unpack $pkg:arm64"
    return 1
}

# xen_dom0_guest INIT CONFIG...: Debian's kernel with CONFIG...
# (linux_guest; DOMU_KERNEL, for dom0less domains) and INITRD with the
# /init script INIT; KERNEL, dom0's, is XEN_DOM0_KERNEL if set.
xen_dom0_guest() {
    linux_guest "$@"
    # shellcheck disable=SC2034   # used by guest-xen-dom0less.sh
    DOMU_KERNEL=$KERNEL
    [ -n "$XEN_DOM0_KERNEL" ] || return 0
    KERNEL=$(readlink -f "$XEN_DOM0_KERNEL")
    if [ -f "$KERNEL" ] && file -b "$KERNEL" | grep -q 'ARM64 boot executable Image'; then
        ok "dom0 kernel from XEN_DOM0_KERNEL: $KERNEL ($(file -b "$KERNEL"))"
    else
        bad "XEN_DOM0_KERNEL=$XEN_DOM0_KERNEL is not an arm64 Image"
        finish
    fi
}

# xen_switch WHO RAW: type Ctrl-a three times until Xen's last "Serial
# input to" line in RAW names WHO (Xen, DOM0, ...); fd 3 is QEMU's stdin.
xen_switch() {
    local i j n
    for i in 1 2 3 4 5; do
        grep -sa 'Serial input to' "$2" | tail -1 | grep -qw "to $1" && return 0
        n=$(grep -sac 'Serial input to' "$2")
        printf '\001\001\001' >&3
        for ((j = 0; j < 50; j++)); do
            [ "$(grep -sac 'Serial input to' "$2")" -gt "$n" ] && break
            sleep 0.1
        done
    done
    return 1
}

# XEN_TYPIST_AFTER: a pattern (grep -E) the typist waits for in the
# output before it lets dom0 start (a dom0less domain's last line).
XEN_TYPIST_AFTER=

# xen_typist PID RAW (boot_guest's BOOT_TYPIST): when dom0's /init is
# ready (and XEN_TYPIST_AFTER was printed), answer "start"; when it
# waits again, dump Xen's console ring with the debug key 'w' and answer
# "go".
xen_typist() {
    local i started=
    for ((i = 0; i < TIMEOUT * 10; i++)); do
        kill -0 "$1" 2>/dev/null || return
        if [ -z "$started" ] && grep -saq '^spmem-xen-ready' "$2" &&
                { [ -z "$XEN_TYPIST_AFTER" ] || grep -saqE "$XEN_TYPIST_AFTER" "$2"; }; then
            sleep 1
            xen_switch DOM0 "$2"
            printf 'start\n' >&3
            started=1
        fi
        if [ -n "$started" ] && grep -saq '^spmem-xen-wait' "$2"; then
            xen_switch Xen "$2" && printf 'w' >&3
            sleep 1
            xen_switch DOM0 "$2"
            printf 'go\n' >&3
            return
        fi
        sleep 0.1
    done
}

# ring_ranges LOG NAME: "START END" (inclusive, hex) of each
# "(XEN) NAME: S - E" line of the ring dump in LOG.
ring_ranges() {
    sed -n "s/^(XEN) *$2[^:]*: *\([0-9a-f]*\) - \([0-9a-f]*\).*/\1 \2/p" "$1" | sort -u
}

# dom0_banks LOG: "START END" (inclusive) of the RAM banks Xen gave dom0.
dom0_banks() {
    sed -n 's/^(XEN) BANK\[[0-9]*\] 0x\([0-9a-f]*\)-0x\([0-9a-f]*\) .*/\1 \2/p' "$1" |
        while read -r s e; do printf '%s %x\n' "$s" $((0x$e - 1)); done
}

# overlaps LIST A SIZE: the ranges of LIST that overlap [A, A + SIZE).
overlaps() {
    local s e
    while read -r s e; do
        [ -n "$s" ] || continue
        if (( 0x$s < $2 + $3 && 0x$e >= $2 )); then
            echo "0x$s-0x$e"
        fi
    done <<< "$1"
}

# xen_check_banks LOG DEV...: Xen's console ring in LOG lists the range
# of each DEV as a reserved bank, and neither a RAM bank of Xen (its
# heap) nor a RAM bank of dom0 overlaps it.
xen_check_banks() {
    local log=$1 ram resvd banks d a n want o_ram o_bank
    shift
    ram=$(ring_ranges "$log" 'RAM')
    resvd=$(ring_ranges "$log" 'RESVD\[[0-9]*\]')
    banks=$(dom0_banks "$log")
    if [ -z "$ram" ]; then
        bad "no '(XEN) RAM:' line from Xen's console ring; ring dump: $(grep -A3 "'w' pressed" "$log" | tr '\n' ';')"
    fi
    for d in "$@"; do
        a=${ADDR[$d]} n=${BYTES[$d]}
        want=$(printf '%016x %016x' "$a" $((a + n - 1)))
        o_ram=$(overlaps "$ram" "$a" "$n")
        o_bank=$(overlaps "$banks" "$a" "$n")
        if grep -qx "$want" <<< "$resvd" && [ -z "$o_ram" ] && [ -z "$o_bank" ]; then
            ok "$d: Xen lists $a+$n as a reserved bank (RESVD $want), no Xen RAM bank (heap) and no dom0 RAM bank overlaps it"
        else
            bad "$d: want RESVD '$want' and no overlap; RESVD: $(tr '\n' ';' <<< "$resvd") RAM overlapping: '$o_ram' dom0 banks overlapping: '$o_bank'"
        fi
    done
}

# xen_print LOG: Xen's lines about memory and dom0 in LOG, for the reader.
xen_print() {
    grep -aE '^\(XEN\) (Xen version|RAM:|MODULE|  *RESVD|BANK|Hardware Dom0)' "$1" |
        sed 's/^/  xen: /'
}
