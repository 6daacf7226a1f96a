# Shared by the Linux guest scenarios (guest-linux-dt.sh, guest-uboot.sh,
# guest-uefi-acpi.sh).  Sourced after common.sh; the sourcing script
# defines OUT (its build directory) and finish() (print totals, exit).
# shellcheck shell=bash

# The machine: two sp-mem devices on file backends, on NUMA nodes 1 and 2,
# placed by QEMU one after the other from 0x80000000 (1 GiB of RAM).
DEVS=(s0 s1)
declare -A SIZE=([s0]=64M [s1]=32M) NODE=([s0]=1 [s1]=2)
declare -A ADDR=([s0]=0x80000000 [s1]=0x84000000)
declare -A BYTES=([s0]=0x4000000 [s1]=0x2000000)
# The host writes host_word at HOST_OFF of each backend before boot; the
# guest reads it through /dev/mem and writes guest_word at GUEST_OFF.
HOST_OFF=0x1000 GUEST_OFF=0x2000

word() { printf '0x%016x' $(( $1 ^ $2 ^ $3 )); }   # word PREFIX BASE NODE
host_word()  { word 0x484f535400000000 "${ADDR[$1]}" "${NODE[$1]}"; }
guest_word() { word 0x4c494e5800000000 "${ADDR[$1]}" "${NODE[$1]}"; }
# put_word FILE OFFSET VALUE / get_word FILE OFFSET: 64-bit little-endian.
put_word() {
    python3 -c 'import struct,sys; f=open(sys.argv[1],"r+b"); f.seek(int(sys.argv[2],0)); f.write(struct.pack("<Q",int(sys.argv[3],0)))' "$@"
}
get_word() {
    python3 -c 'import struct,sys; f=open(sys.argv[1],"rb"); f.seek(int(sys.argv[2],0)); print("0x%016x" % struct.unpack("<Q",f.read(8)))' "$@"
}

# kernel_of META: the linux-image-* package the metapackage depends on.
kernel_of() {
    apt-cache depends "$1:arm64" 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ {sub(/:arm64$/, "", $2); print $2; exit}'
}

# linux_kernel CONFIG...: Debian's arm64 cloud kernel (else the generic
# one) whose config has every CONFIG_...=y named; sets KERNEL and kpkg.
linux_kernel() {
    local meta p c ok_cfg
    kpkg=
    for meta in linux-image-cloud-arm64 linux-image-arm64; do
        p=$(kernel_of "$meta")
        [ -n "$p" ] && guest_unpack "$p" "$OUT/$meta" || continue
        ok_cfg=1
        for c in "$@"; do
            grep -qx "CONFIG_$c=y" "$OUT/$meta"/boot/config-* || ok_cfg=0
        done
        if [ $ok_cfg = 1 ]; then
            kpkg=$p
            KERNEL=$(compgen -G "$OUT/$meta/boot/vmlinuz-*" | head -1)
            break
        fi
        echo "$p lacks one of $* or did not unpack" >&2
    done
    if [ -n "$kpkg" ] && [ -f "$KERNEL" ]; then
        ok "kernel $kpkg ($(printf '%s=y ' "$@")): ${KERNEL#"$TOP"/}"
    else
        bad "no arm64 kernel package with $*"
        finish
    fi
}

# linux_busybox: busybox-static:arm64 unpacked into $OUT/busybox.
linux_busybox() {
    guest_unpack busybox-static "$OUT/busybox" &&
        [ -x "$OUT/busybox/bin/busybox" ] && return 0
    bad "fetch and unpack busybox-static:arm64"
    finish
}
