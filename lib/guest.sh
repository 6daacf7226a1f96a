# Shared by the Linux guest scenarios (guest-linux-dt.sh, guest-uboot.sh,
# guest-uefi-acpi.sh).  Sourced after common.sh; the sourcing script
# defines OUT (its build directory) and TEST_NAME.
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
# one; LINUX_KERNEL_PKG names another linux-image-* package) whose config
# has every CONFIG_...=y named; sets KERNEL and kpkg.
linux_kernel() {
    local meta p c ok_cfg
    kpkg=
    for meta in ${LINUX_KERNEL_PKG:-linux-image-cloud-arm64 linux-image-arm64}; do
        p=$meta
        [ -n "${LINUX_KERNEL_PKG:-}" ] || p=$(kernel_of "$meta")
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

# linux_initramfs INIT FILE: busybox and the /init script INIT, as a
# gzipped newc archive FILE (guest/linux/mkinitramfs.py, no cpio needed).
linux_initramfs() {
    if python3 "$TOP/lib/guest/mkinitramfs.py" "$2" \
            "$OUT/busybox/bin/busybox" "$1"; then
        ok "initramfs with ${1#"$TOP"/} ($(stat -c %s "$2") bytes)"
    else
        bad "build initramfs"
        finish
    fi
}

# linux_guest INIT CONFIG...: a kernel with CONFIG... (linux_kernel),
# busybox, and INITRD=$OUT/initrd.cpio.gz with the /init script INIT.
linux_guest() {
    local init=$1
    shift
    linux_kernel "$@"
    linux_busybox
    INITRD=$OUT/initrd.cpio.gz
    linux_initramfs "$init" "$INITRD"
}

# check_nodes LOG NODE...: Linux knows the NUMA nodes (/sys/devices/system/node).
check_nodes() {
    local log=$1 nodes missing= n
    shift
    nodes=$(sed -n 's/^spmem-nodes //p' "$log")
    for n in "$@"; do
        grep -qw "$n" <<< "$nodes" || missing+=" $n"
    done
    if [ -z "$missing" ] && grep -q '^spmem-nodes ' "$log"; then
        ok "/sys/devices/system/node has $* ($nodes; online $(sed -n 's/^spmem-node-online //p' "$log"))"
    else
        bad "/sys/devices/system/node lacks$missing: '$nodes'; NUMA lines: $(grep -E '^spmem-dmesg .*(NUMA|SRAT: Node)' "$log" | sed 's/^spmem-dmesg \[[ 0-9.]*\] //' | tr '\n' ';')"
    fi
}

# linux_busybox: busybox-static:arm64 unpacked into $OUT/busybox.
linux_busybox() {
    guest_unpack busybox-static "$OUT/busybox" &&
        [ -x "$OUT/busybox/bin/busybox" ] && return 0
    bad "fetch and unpack busybox-static:arm64"
    finish
}

# check_dt_nodes OUT: the /reserved-memory nodes as the guest read them
# from /proc/device-tree (lines "spmem-dt ..." of its output file OUT).
check_dt_nodes() {
    local out=$1 d a name reg want
    for d in "${DEVS[@]}"; do
        a=${ADDR[$d]} name=sp-mem@${ADDR[$d]#0x}
        reg=$(printf '%016x%016x' "$a" "${BYTES[$d]}")
        want="spmem-dt $name reg=$reg numa-node-id=${NODE[$d]} no-map=yes compatible=qemu,sp-mem,special-purpose,"
        if grep -qFx -- "$want" "$out"; then
            ok "$d: /reserved-memory/$name reg=<$a ${BYTES[$d]}> numa-node-id=${NODE[$d]} no-map, compatible qemu,sp-mem + special-purpose"
        else
            bad "$d: no line '$want'; got: $(grep "^spmem-dt $name" "$out")"
        fi
    done
    if grep -qx "spmem-dt-count ${#DEVS[@]}" "$out"; then
        ok "exactly ${#DEVS[@]} sp-mem nodes under /proc/device-tree/reserved-memory"
    else
        bad "sp-mem node count: $(grep '^spmem-dt-count' "$out")"
    fi
}

# check_data OUT DEV KEY FILE: device DEV (KEY names it in the guest's
# lines) is not System RAM in /proc/iomem, the guest read the host word
# through /dev/mem, and the backend FILE holds the guest's word.
check_data() {
    local out=$1 d=$2 key=$3 file=$4 a=${ADDR[$2]} lines haddr want got
    lines=$(grep "^spmem-iomem $key " "$out")
    if [ -z "$lines" ]; then
        bad "$d: the guest printed no /proc/iomem result for $a"
    elif grep -q 'System RAM' <<< "$lines"; then
        bad "$d: $a+${BYTES[$d]} overlaps System RAM in /proc/iomem: $lines"
    else
        ok "$d: $a+${BYTES[$d]} not System RAM in /proc/iomem (overlapping: $(sed "s/^spmem-iomem $key //" <<< "$lines" | tr '\n' ';'))"
    fi

    haddr=$(printf '0x%x' $((a + HOST_OFF)))
    want="spmem-read $key $haddr $(host_word "$d")"
    if grep -qFx -- "$want" "$out"; then
        ok "$d: guest read the host word $(host_word "$d") at $haddr via /dev/mem"
    else
        bad "$d: want '$want'; got: $(grep "^spmem-read $key" "$out")"
    fi

    got=$(get_word "$file" "$GUEST_OFF")
    if [ "$got" = "$(guest_word "$d")" ]; then
        ok "$d: host file holds the guest word $got at offset $GUEST_OFF after power-off"
    else
        bad "$d: file offset $GUEST_OFF holds $got, want $(guest_word "$d"); guest: $(grep "^spmem-write $key" "$out")"
    fi
}

# The machine every Linux scenario boots, firmware and kernel aside.
# cortex-a57: the fastest CPU model for TCG here (no pointer
# authentication to emulate); -no-reboot turns a panic into an exit.
# shellcheck disable=SC2054   # commas inside option values
MACHINE=(-cpu cortex-a57 -smp 2 -m 1G,maxmem=4G -nodefaults
         -display none -serial stdio -monitor none -no-reboot
         -object memory-backend-ram,id=ram0,size=1G
         -numa node,nodeid=0,memdev=ram0,cpus=0-1
         -numa node,nodeid=1 -numa node,nodeid=2)

# The -numa dist options that give the machine without sp-mem the
# /distance-map sp-mem brings (the default values), so that its nodes 1
# and 2 are known to Linux too: each node costs some memory.
NO_SPMEM_DIST=(-numa dist,src=0,dst=1,val=20 -numa dist,src=0,dst=2,val=20
               -numa dist,src=1,dst=2,val=20)

# check_memtotal OUT OUT0 [TOL WHY]: MemTotal of the guest with sp-mem
# (OUT) equals that of the same machine without (OUT0), so not one page
# of sp-mem was counted as RAM.  With TOL and WHY it may be lower, or
# higher by at most TOL kB (far less than the smallest device, 32 MiB);
# WHY says where such a difference comes from.
check_memtotal() {
    local kb kb0
    kb=$(awk '/^spmem-MemTotal:/ {print $2}' "$1")
    kb0=$(awk '/^spmem-MemTotal:/ {print $2}' "$2")
    if [ -z "$kb" ] || [ -z "$kb0" ] || ! grep -qx 'spmem-done' "$2"; then
        bad "MemTotal '$kb' kB with sp-mem, '$kb0' kB without (run without sp-mem finished: $(grep -c '^spmem-done' "$2"))"
    elif [ "$kb" = "$kb0" ]; then
        ok "MemTotal ${kb} kB, the same as without sp-mem (not one sp-mem page counted as RAM)"
    elif [ -n "${3:-}" ] && [ "$kb" -le $((kb0 + $3)) ]; then
        ok "MemTotal ${kb} kB with sp-mem, ${kb0} kB without: not one sp-mem page counted as RAM ($4)"
    else
        bad "MemTotal ${kb} kB with sp-mem, ${kb0} kB without"
    fi
}

# spmem_backends DIR: a backend file per device in DIR, holding the host
# word; sets SPMEM_ARGS to the matching -object/-device options.
spmem_backends() {
    local dir=$1 d
    SPMEM_ARGS=()
    for d in "${DEVS[@]}"; do
        truncate -s "${SIZE[$d]}" "$dir/$d"
        put_word "$dir/$d" "$HOST_OFF" "$(host_word "$d")"
        SPMEM_ARGS+=(-object "memory-backend-file,id=h$d,size=${SIZE[$d]},mem-path=$dir/$d,share=on"
                     -device "sp-mem,id=$d,memdev=h$d,node=${NODE[$d]}")
    done
}

# boot_guest LOG ARGS...: run QEMU with ARGS under $TIMEOUT; the serial
# output, without carriage returns and terminal escapes, goes to LOG and
# $OUT/boot.log (boot0.log for LOG out0); sets rc and secs.  With
# BOOT_TYPIST set to a function, QEMU's stdin (the serial input) is a FIFO
# open on fd 3, and "$BOOT_TYPIST PID RAW" runs while QEMU (PID) writes
# its output to the file RAW.
boot_guest() {
    local log=$1 t0 qpid
    shift
    t0=$(date +%s%N)
    if [ -n "${BOOT_TYPIST:-}" ]; then
        rm -f "$log.in" && mkfifo "$log.in"
        exec 3<> "$log.in"
        timeout "$TIMEOUT" "$QEMU" "$@" < "$log.in" > "$log.raw" 2>&1 &
        qpid=$!
        "$BOOT_TYPIST" "$qpid" "$log.raw"
        wait "$qpid"
        rc=$?
        exec 3>&-
    else
        timeout "$TIMEOUT" "$QEMU" "$@" < /dev/null > "$log.raw" 2>&1
        rc=$?
    fi
    tr -d '\r' < "$log.raw" | sed 's/\x1b\[[0-9;=]*[a-zA-Z]//g' > "$log"
    secs=$(awk -v t="$(( $(date +%s%N) - t0 ))" 'BEGIN {printf "%.2f", t / 1e9}')
    mkdir -p "$OUT"
    cp "$log" "$OUT/boot${log##*/out}.log"
    echo "boot took ${secs}s (log: ${OUT#"$TOP"/}/boot${log##*/out}.log)"
}

# check_exit LOG: QEMU stopped by itself after the guest's init finished.
check_exit() {
    local log=$1
    if [ "$rc" = 0 ] && grep -qx 'spmem-done' "$log"; then
        ok "QEMU exited 0 by itself after the guest finished, in ${secs}s"
    elif [ "$rc" = 124 ]; then
        bad "QEMU still running after ${TIMEOUT}s; output:"
        sed 's/^/    /' "$log"
    else
        bad "QEMU exited $rc (guest finished: $(grep -c '^spmem-done' "$log")); output:"
        sed 's/^/    /' "$log"
    fi
}

# --- for the dax scenarios (scripts/guest-uefi-sp.sh) --------------------------
# Files beyond busybox and /init, as DEST=SRC (guest/linux/mkinitramfs.py).
INITRAMFS_EXTRA=()

# kernel_of_release SUITE META: like kernel_of, for the version of META
# that SUITE (e.g. bookworm-backports) has.
kernel_of_release() {
    apt-cache -t "$1" depends "$2:arm64" 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ {sub(/:arm64$/, "", $2); print $2; exit}'
}

# linux_modules NAME...: the modules NAME (without .ko) of the kernel that
# linux_kernel chose and the modules they depend on (their "depends="
# modinfo), from its own package, decompressed into $OUT/modules-VERSION
# and added to INITRAMFS_EXTRA as lib/modules/VERSION/NAME.ko; sets
# LINUX_MODULES to all of them, comma-separated, dependencies first (the
# order in which the guest loads them with insmod).
linux_modules() {
    local kver=${KERNEL##*/vmlinuz-} root dir m f dep
    root=$(dirname "$(dirname "$KERNEL")")
    dir=$OUT/modules-$kver
    mkdir -p "$dir"
    LINUX_MODULES=
    # add_module NAME: NAME after its dependencies, once.
    add_module() {
        case ,$LINUX_MODULES, in *,$1,*) return 0 ;; esac
        f=$(find "$root/lib/modules/$kver" \( -name "$1.ko" -o -name "$1.ko.*" \) | head -1)
        case $f in
            '') bad "module $1 not in $kpkg"; finish ;;
            *.xz) xz -dc "$f" > "$dir/$1.ko" ;;
            *.zst) zstd -qdc "$f" > "$dir/$1.ko" ;;
            *) cp "$f" "$dir/$1.ko" ;;
        esac || { bad "decompress $f"; finish; }
        for dep in $(tr '\0' '\n' < "$dir/$1.ko" | sed -n 's/^depends=//p' | tr ',' ' '); do
            add_module "$dep"
        done
        INITRAMFS_EXTRA+=("lib/modules/$kver/$1.ko=$dir/$1.ko")
        LINUX_MODULES+=${LINUX_MODULES:+,}$1
    }
    for m in "$@"; do
        add_module "$m"
    done
    ok "modules of $kpkg for the initramfs, in load order: $LINUX_MODULES"
}

# linux_userland PKG PATH...: the arm64 programs PATH (as in PKG, e.g.
# usr/bin/daxctl) with every shared library they need (ELF NEEDED,
# recursively) and the dynamic loader, taken from PKG and the packages it
# depends on (apt-cache depends --recurse), added to INITRAMFS_EXTRA;
# libraries go to lib/aarch64-linux-gnu, which the loader searches.
linux_userland() {
    local pkg=$1 p f lib interp deps=() queue=() seen=" " missing=
    shift
    mapfile -t deps < <(apt-cache depends --recurse --no-recommends --no-suggests \
            --no-conflicts --no-breaks --no-replaces --no-enhances "$pkg:arm64" 2>/dev/null |
        sed -n 's/^\([a-z0-9][^ <>]*\):arm64$/\1/p' | sort -u)
    [ ${#deps[@]} -gt 0 ] || { bad "apt-cache knows no $pkg:arm64"; finish; }
    for p in "${deps[@]}"; do
        guest_unpack "$p" "$OUT/pkgs/$p" || { bad "fetch and unpack $p:arm64"; finish; }
    done
    # find_lib SONAME: its file in one of the unpacked packages.
    find_lib() {
        local p d
        for p in "${deps[@]}"; do
            for d in lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu; do
                [ -e "$OUT/pkgs/$p/$d/$1" ] && { readlink -f "$OUT/pkgs/$p/$d/$1"; return 0; }
            done
        done
        return 1
    }
    for f in "$@"; do
        [ -f "$OUT/pkgs/$pkg/$f" ] || { bad "$pkg has no $f"; finish; }
        INITRAMFS_EXTRA+=("$f=$OUT/pkgs/$pkg/$f")
        queue+=("$OUT/pkgs/$pkg/$f")
        interp=$(aarch64-linux-gnu-readelf -l "$OUT/pkgs/$pkg/$f" |
                 sed -n 's/.*program interpreter: \(.*\)\]/\1/p')
    done
    if [ -n "$interp" ]; then
        p=$(find_lib "${interp##*/}") || { bad "no dynamic loader $interp in ${deps[*]}"; finish; }
        INITRAMFS_EXTRA+=("${interp#/}=$p")
    fi
    while [ ${#queue[@]} -gt 0 ]; do
        f=${queue[0]} queue=("${queue[@]:1}")
        for lib in $(aarch64-linux-gnu-readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
            case $seen in *" $lib "*) continue ;; esac
            seen+="$lib "
            if p=$(find_lib "$lib"); then
                INITRAMFS_EXTRA+=("lib/aarch64-linux-gnu/$lib=$p")
                queue+=("$p")
            else
                missing+=" $lib"
            fi
        done
    done
    if [ -n "$missing" ]; then
        bad "$pkg: libraries not found in its dependencies:$missing"
        finish
    fi
    seen=${seen# }
    ok "$pkg:arm64 $* with its libraries (${seen% }) and ${interp:-no loader}, from ${#deps[@]} packages"
}

# linux_initramfs_extra INIT FILE: like linux_initramfs, with the files of
# INITRAMFS_EXTRA.
linux_initramfs_extra() {
    if python3 "$TOP/lib/guest/mkinitramfs.py" "$2" \
            "$OUT/busybox/bin/busybox" "$1" "${INITRAMFS_EXTRA[@]}"; then
        ok "initramfs with ${1#"$TOP"/} and ${#INITRAMFS_EXTRA[@]} more files ($(stat -c %s "$2") bytes)"
    else
        bad "build initramfs"
        finish
    fi
}

# uboot_firmware: Debian's u-boot-qemu (Architecture: all) unpacked into
# $OUT/u-boot-qemu; sets UBOOT to its qemu_arm64 u-boot.bin.
uboot_firmware() {
    UBOOT=$OUT/u-boot-qemu/usr/lib/u-boot/qemu_arm64/u-boot.bin
    if guest_unpack u-boot-qemu "$OUT/u-boot-qemu" && [ -f "$UBOOT" ]; then
        ok "U-Boot from u-boot-qemu: ${UBOOT#"$TOP"/}"
    else
        bad "fetch and unpack u-boot-qemu"
        finish
    fi
}

# boot_disk FSDIR CMD DISK: the U-Boot boot disk DISK: FSDIR (the kernel
# and initramfs) plus boot.scr, compiled from the U-Boot script CMD with
# mkimage, as an ext2 file system (mkfs.ext2 -d: no root, no loop device)
# in partition 1 of an MBR, where U-Boot's distro boot looks for
# /boot.scr (see guest-uboot.sh).
boot_disk() {
    local fs=$1 cmd=$2 disk=$3 mkfs fsmb
    mkfs=$(command -v mkfs.ext2 || echo /sbin/mkfs.ext2)
    command -v mkimage >/dev/null || { bad "no mkimage (package u-boot-tools)"; finish; }
    [ -x "$mkfs" ] || { bad "no mkfs.ext2 (package e2fsprogs)"; finish; }
    if ! mkimage -A arm64 -O linux -T script -C none -n "sp-mem U-Boot guest" \
            -d "$cmd" "$fs/boot.scr" >/dev/null; then
        bad "mkimage of ${cmd#"$TOP"/}"
        finish
    fi
    # ext2 sized to its contents plus 8 MiB, starting at sector 2048.
    fsmb=$(( $(du -sm "$fs" | cut -f1) + 8 ))
    if "$mkfs" -q -F -L spmem-boot -d "$fs" "$fs.img" "${fsmb}M" >/dev/null &&
       python3 - "$fs.mbr" "$((fsmb * 2048))" <<'PY' &&
import struct, sys
out, sectors = sys.argv[1], int(sys.argv[2])
# One bootable Linux partition at LBA 2048; CHS fields unused (0xfe 0xff 0xff).
ent = struct.pack("<B3sB3sII", 0x80, b"\xfe\xff\xff", 0x83, b"\xfe\xff\xff", 2048, sectors)
mbr = bytearray(1 << 20)
mbr[446:462] = ent
mbr[510:512] = b"\x55\xaa"
open(out, "wb").write(mbr)
PY
       cat "$fs.mbr" "$fs.img" > "$disk"; then
        rm -f "$fs.mbr" "$fs.img"
        ok "boot disk ${disk#"$TOP"/}: MBR + ext2 with boot.scr ($(basename "$cmd")) and $(cd "$fs" && ls | grep -vx boot.scr | tr '\n' ' ')($(stat -c %s "$disk") bytes)"
    else
        bad "build the boot disk ${disk#"$TOP"/}"
        finish
    fi
}
