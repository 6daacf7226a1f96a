#!/usr/bin/env bash
# Build the bare-metal reference guest (guest/, scripts/build-guest.sh),
# boot it on the patched emulator with two file-backed sp-mem devices, and
# check what it reports on the serial line and what it leaves in the
# backend files.  Needs build/qemu-system-aarch64 (scripts/build.sh); does
# not build QEMU.  Last line: "baremetal: N passed, N failed".
#
# Choices:
#  - libfdt is Debian's prebuilt libfdt-dev:arm64 (libfdt.a and headers),
#    fetched with "apt-get download" into the cache and unpacked with
#    dpkg-deb into build/guest/libfdt: not installed, so no arm64 libc
#    comes along.  This needs the arm64 foreign architecture in dpkg.
#    (Building libfdt from the device-tree-compiler source package was
#    the alternative; the archive served here has no sources for it.)
#    libfdt.a is built for glibc: guest/libc.c provides the
#    string functions and stack-protector symbols it uses.
#  - The guest reads the DTB at 0x40000000, the base of RAM, where QEMU
#    puts it for an ELF -kernel (x0 is not set for a non-Linux ELF), and
#    checks it with fdt_check_header().
#  - Patterns, on 64-bit little-endian words at guest-physical address A
#    (device base + file offset), for a device on NUMA node N of size S:
#      guest  G(A) = (A * 0x9e3779b97f4a7c15 mod 2^64) ^ 0x53504d454d000000 ^ N
#      host   H(A) = (A * 0xc2b2ae3d27d4eb4f mod 2^64) ^ 0x484f53542d4d454d
#    The host writes H into the "host block", file offset S-8K..S-4K,
#    before boot; the guest checks it before and after its own writes and
#    never writes it.  The guest writes G everywhere else and reads it
#    back; after power-off the host checks G in the first and the last
#    4 KiB of each file, and that the host block still holds H.
set -uo pipefail
. "$(dirname "$0")/../../lib/common.sh"

GUEST_BUILD=$BUILD/guest
ELF=$GUEST_BUILD/sp-mem-guest.elf
TIMEOUT=60

# The devices: those of the Linux word guests (spmem_layout words in
# lib/guest.sh): id, size, NUMA node, and where QEMU places them.
# shellcheck source=lib/guest.sh
. "$TOP/lib/guest.sh"
spmem_layout words

# --- build -------------------------------------------------------------
guest_begin
if bash "$TOP/scripts/build-guest.sh" > "$tmp/build-guest.log" 2>&1 &&
   ! grep -qi 'warning' "$GUEST_BUILD/build.log"; then
    ok "build $ELF without warnings"
else
    bad "build guest: $(cat "$tmp/build-guest.log" "$GUEST_BUILD/build.log")"
    finish
fi

# The example tree compiles cleanly and validates against our binding.
if warn=$(dtc -I dts -O dtb -o "$GUEST_BUILD/sp-mem-example.dtb" \
               "$TOP/dts/sp-mem-example.dts" 2>&1) && [ -z "$warn" ]; then
    ok "dtc compiles dts/sp-mem-example.dts without warnings"
else
    bad "dtc dts/sp-mem-example.dts: $warn"
fi
if dt_schema "$GUEST_BUILD/schema.json"; then
    out=$(dt-validate -s "$GUEST_BUILD/schema.json" \
              "$GUEST_BUILD/sp-mem-example.dtb" 2>&1)
    matched=$(dt_matched "$GUEST_BUILD/schema.json" "$GUEST_BUILD/sp-mem-example.dtb")
    if [ -z "$out" ] && [ "$matched" = 2 ]; then
        ok "dt-validate: example clean, 2 sp-mem nodes matched by the binding"
    else
        bad "dt-validate example: $matched of 2 matched: $out"
    fi
fi

# --- host side of the patterns ------------------------------------------
# lib/spmem.py, the patterns' one definition (G and H above):
# pattern fill-host FILE BASE SIZE NODE: write H into the host block.
# pattern check-guest|check-host FILE BASE SIZE NODE OFFSET: check the
# 4 KiB block at OFFSET for G or H, print the first mismatch, exit 1.
pattern() { python3 "$TOP/lib/spmem.py" "$@"; }

# --- boot ----------------------------------------------------------------
# shellcheck disable=SC2054   # commas inside option values
BASE=(-M virt -cpu max -smp 1 -m 1G,maxmem=4G -nodefaults -display none
      -serial stdio -monitor none
      -object memory-backend-ram,id=ram0,size=1G
      -numa node,nodeid=0,memdev=ram0,cpus=0
      -numa node,nodeid=1 -numa node,nodeid=2
      -kernel "$ELF")

# boot NAME ARGS...: run the guest, output in $tmp/NAME.out, status in
# $rc, wall time in $secs.
boot() {
    local name=$1 t0
    shift
    t0=$(date +%s%N)
    timeout "$TIMEOUT" "$QEMU" "${BASE[@]}" "$@" < /dev/null 2>&1 |
        tr -d '\r' > "$tmp/$name.out"
    rc=${PIPESTATUS[0]}
    secs=$(awk -v t="$(( $(date +%s%N) - t0 ))" 'BEGIN {printf "%.2f", t / 1e9}')
}

# exited NAME WHAT: QEMU stopped by itself (PSCI SYSTEM_OFF) with status 0.
exited() {
    if [ "$rc" = 0 ]; then
        ok "$2: QEMU exited 0 by itself in ${secs}s"
    elif [ "$rc" = 124 ]; then
        bad "$2: QEMU still running after ${TIMEOUT}s; output: $(cat "$tmp/$1.out")"
    else
        bad "$2: QEMU exited $rc; output: $(cat "$tmp/$1.out")"
    fi
}

# expect NAME LINE: the output has exactly this line.
expect() {
    if grep -qFx -- "$2" "$tmp/$1.out"; then
        ok "$1: '$2'"
    else
        bad "$1: no line '$2'; output: $(cat "$tmp/$1.out")"
    fi
}

# expect_dev NAME DEV RESULTS: the line of device DEV, whatever its index
# (the order of /reserved-memory children is QEMU's, not ours).
expect_dev() {
    local d=$2
    local line="addr=${ADDR[$d]} size=${BYTES[$d]} node=${NODE[$d]} $3"
    if grep -qE "^sp-mem [0-9]+ $line\$" "$tmp/$1.out"; then
        ok "$1: $d reported: $line"
    else
        bad "$1: no line 'sp-mem <n> $line'; output: $(cat "$tmp/$1.out")"
    fi
}

# 1. two sp-mem devices on file backends that the host pre-filled
#    (spmem_backends' FILL FILE DEV: the host block).
fill_host() { pattern fill-host "$1" "${ADDR[$2]}" "${BYTES[$2]}" "${NODE[$2]}"; }
spmem_backends "$tmp" fill_host
boot two "${SPMEM_ARGS[@]}"
exited two "boot with 2 sp-mem devices"
for d in "${DEVS[@]}"; do
    expect_dev two "$d" "nomem-overlap=ok host-pattern=ok pattern=ok"
done
idx=$(awk '/^sp-mem [0-9]+ / {print $2}' "$tmp/two.out" | sort | paste -sd,)
if [ "$idx" = 0,1 ]; then
    ok "two: device lines numbered 0,1"
else
    bad "two: device lines numbered '$idx', want 0,1"
fi
expect two "sp-mem-guest: 2 devices, 0 errors"

# What the guest left in the backends, seen from the host.
for d in "${DEVS[@]}"; do
    f=$tmp/$d a=${ADDR[$d]} s=${BYTES[$d]} n=${NODE[$d]}
    for where in first last host; do
        case $where in
        first) mode=check-guest off=0 ;;
        last)  mode=check-guest off=$((s - 4096)) ;;
        host)  mode=check-host off=$((s - 8192)) ;;
        esac
        if msg=$(pattern "$mode" "$f" "$a" "$s" "$n" "$off"); then
            ok "host: $d $where 4 KiB (offset $(printf 0x%x "$off")) holds the ${mode#check-} pattern"
        else
            bad "host: $d $where 4 KiB: $msg"
        fi
    done
done

# 2. negative: the same machine without sp-mem has no device to report.
boot none
exited none "boot without sp-mem"
expect none "sp-mem-guest: 0 devices, 0 errors"
if grep -q '^sp-mem [0-9]' "$tmp/none.out"; then
    bad "none: device line without sp-mem: $(cat "$tmp/none.out")"
else
    ok "none: no device line"
fi

# 3. negative: one word of s1's host block changed; the guest must notice.
#    Fresh backends: s0's as in 1., s1's with the changed word.
fill_corrupt() {
    fill_host "$@"
    [ "$2" = s1 ] || return 0
    printf 'XXXXXXXX' | dd of="$1" bs=1 seek=$((BYTES[s1] - 8192 + 2048)) \
        conv=notrunc status=none
}
spmem_backends "$tmp" fill_corrupt
boot corrupt "${SPMEM_ARGS[@]}"
exited corrupt "boot with a corrupted host block"
expect_dev corrupt s0 "nomem-overlap=ok host-pattern=ok pattern=ok"
expect_dev corrupt s1 "nomem-overlap=ok host-pattern=FAIL pattern=ok"
expect corrupt "sp-mem-guest: 2 devices, 1 errors"

finish
