# The guest-boot library of the Linux guest scenarios (linux-dt, uboot,
# uefi-acpi, uefi-sp, xen, xen-dom0less, linux-sp; baremetal takes its
# devices and backends from here too): the sp-mem devices and their
# backends, the guest kernel, busybox and initramfs, the machine, the
# boot and its checks; then the dax checks, U-Boot and Xen.  Sourced
# after common.sh; the sourcing script defines OUT (its build directory).
# shellcheck shell=bash

# --- the devices ---------------------------------------------------------------
# spmem_layout NAME: the machine's sp-mem devices: DEVS, and for each
# device SIZE (its backend's size), NODE, ADDR (its guest-physical base)
# and BYTES (its size in bytes); PLACE says who places them: "qemu" (ADDR
# is where QEMU must put them, which the checks verify) or "addr" (each
# device gets addr=ADDR).
#   words  64 MiB on node 1 and 32 MiB on node 2, placed by QEMU one after
#          the other from 0x80000000: the device-memory region starts
#          there, above the 1 GiB of RAM, and devices are placed in order.
#   dax    256 MiB on node 1 at 0x80000000 and 128 MiB on node 2 at
#          0xa0000000, for daxctl (uefi-sp, linux-sp): arm64 hot-adds
#          memory in 128 MiB blocks and kmem onlines whole blocks only, so
#          whole blocks, at 128 MiB-aligned addresses, with a gap (adjacent
#          EFI_MEMORY_SP descriptors merge in EDK2; uefi-sp's hmat612).
#   b2b    256 MiB on node 1, 128 MiB on node 2 and 128 MiB on node 3
#          (layouts), placed by QEMU back to back from 0x80000000:
#          0x80000000, 0x90000000, 0x98000000; whole memory blocks, no gap
#          (EDK2 merges the three EFI_MEMORY_SP descriptors into one).
#   order  the same three devices given node 3 first, then 1, then 2, so
#          that the address order differs from the node order: node 3 at
#          0x80000000, node 1 at 0x88000000, node 2 at 0x98000000.
# The b2b and order layouts need a machine with node 3: MACHINE3.
declare -A SIZE NODE ADDR BYTES
spmem_layout() {
    DEVS=(s0 s1)
    case $1 in
        b2b|order)
            if [ "$1" = b2b ]; then DEVS=(s1 s2 s3); else DEVS=(s3 s1 s2); fi
            SIZE=([s1]=256M [s2]=128M [s3]=128M) NODE=([s1]=1 [s2]=2 [s3]=3)
            BYTES=([s1]=0x10000000 [s2]=0x8000000 [s3]=0x8000000)
            if [ "$1" = b2b ]; then
                ADDR=([s1]=0x80000000 [s2]=0x90000000 [s3]=0x98000000)
            else
                ADDR=([s3]=0x80000000 [s1]=0x88000000 [s2]=0x98000000)
            fi
            PLACE=qemu ;;
        words)
            SIZE=([s0]=64M [s1]=32M) NODE=([s0]=1 [s1]=2)
            ADDR=([s0]=0x80000000 [s1]=0x84000000)
            BYTES=([s0]=0x4000000 [s1]=0x2000000)
            PLACE=qemu ;;
        dax)
            SIZE=([s0]=256M [s1]=128M) NODE=([s0]=1 [s1]=2)
            ADDR=([s0]=0x80000000 [s1]=0xa0000000)
            BYTES=([s0]=0x10000000 [s1]=0x8000000)
            PLACE=addr ;;
        *)
            echo "spmem_layout: no layout '$1'" >&2
            return 1 ;;
    esac
}

# The words: the host writes host_word at HOST_OFF of each backend before
# boot; the guest reads it through /dev/mem and writes guest_word at
# GUEST_OFF.  For device DEV at guest-physical BASE (default: its ADDR)
# on its node NODE:  H = 0x484f535400000000 ^ BASE ^ NODE ("HOST"),
#                    G = 0x4c494e5800000000 ^ BASE ^ NODE ("LINX");
# the guest computes the same (lib/guest/preamble.sh), and the dax
# boots seed their patterns with them.
HOST_OFF=0x1000 GUEST_OFF=0x2000
word() { printf '0x%016x' $(( $1 ^ $2 ^ $3 )); }   # word PREFIX BASE NODE
host_word()  { word 0x484f535400000000 "${2:-${ADDR[$1]}}" "${NODE[$1]}"; }  # host_word DEV [BASE]
guest_word() { word 0x4c494e5800000000 "${2:-${ADDR[$1]}}" "${NODE[$1]}"; }  # guest_word DEV [BASE]

# put_word FILE OFFSET VALUE / get_word FILE OFFSET: 64-bit little-endian.
put_word() {
    python3 -c 'import struct,sys; f=open(sys.argv[1],"r+b"); f.seek(int(sys.argv[2],0)); f.write(struct.pack("<Q",int(sys.argv[3],0)))' "$@"
}
get_word() {
    python3 -c 'import struct,sys; f=open(sys.argv[1],"rb"); f.seek(int(sys.argv[2],0)); print("0x%016x" % struct.unpack("<Q",f.read(8)))' "$@"
}

# spmem_backends DIR [FILL]: a fresh backend file DIR/DEV for each device,
# of its SIZE, filled by "FILL FILE DEV" (default put_host_word: the host
# word at HOST_OFF); sets SPMEM_ARGS to the matching -object/-device
# options, with addr= when the layout's PLACE is "addr".  share=on: what
# the guest writes reaches the file, where the host checks it after
# power-off.  Fresh: nothing an earlier boot wrote can pass for this one's.
put_host_word() { put_word "$1" "$HOST_OFF" "$(host_word "$2")"; }
spmem_backends() {
    local dir=$1 fill=${2:-put_host_word} d addr=
    SPMEM_ARGS=()
    for d in "${DEVS[@]}"; do
        rm -f "$dir/$d"
        truncate -s "${SIZE[$d]}" "$dir/$d"
        "$fill" "$dir/$d" "$d"
        [ "$PLACE" = addr ] && addr=,addr=${ADDR[$d]}
        SPMEM_ARGS+=(-object "memory-backend-file,id=h$d,size=${SIZE[$d]},mem-path=$dir/$d,share=on"
                     -device "sp-mem,id=$d,memdev=h$d,node=${NODE[$d]}$addr")
    done
}

# spmem_spec_arg: sets specs to ID:BASE:SIZE:NODE of each device and
# spmem_arg to them comma-separated: the guest's spmem= argument, its
# view of the devices where it has no device tree to read them from.
spmem_spec_arg() {
    local d
    specs=()
    for d in "${DEVS[@]}"; do
        specs+=("$d:${ADDR[$d]}:${BYTES[$d]}:${NODE[$d]}")
    done
    spmem_arg=$(IFS=,; echo "${specs[*]}")
}

# --- kernel, busybox, initramfs --------------------------------------------------
# kernel_of META [SUITE]: the linux-image-* package the metapackage META
# depends on (in SUITE, e.g. bookworm-backports, if given).
kernel_of() {
    apt-cache ${2:+-t "$2"} depends "$1:arm64" 2>/dev/null |
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

# linux_busybox: busybox-static:arm64 unpacked into $OUT/busybox.
linux_busybox() {
    guest_unpack busybox-static "$OUT/busybox" &&
        [ -x "$OUT/busybox/bin/busybox" ] && return 0
    bad "fetch and unpack busybox-static:arm64"
    finish
}

# Files beyond busybox, /init and the preamble, as DEST=SRC
# (lib/guest/mkinitramfs.py): the dax boots' modules and programs.
INITRAMFS_EXTRA=()

# linux_initramfs INIT FILE: busybox, the /init script INIT, the preamble
# every /init sources first (lib/guest/preamble.sh, as
# /lib/spmem/preamble.sh) and the files of INITRAMFS_EXTRA, as a gzipped
# newc archive FILE (lib/guest/mkinitramfs.py, no cpio needed).
linux_initramfs() {
    if python3 "$TOP/lib/guest/mkinitramfs.py" "$2" "$OUT/busybox/bin/busybox" "$1" \
            "lib/spmem/preamble.sh=$TOP/lib/guest/preamble.sh" "${INITRAMFS_EXTRA[@]}"; then
        ok "initramfs with ${1#"$TOP"/} and the preamble${INITRAMFS_EXTRA[0]+ and ${#INITRAMFS_EXTRA[@]} more files} ($(stat -c %s "$2") bytes)"
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

# --- the machine and the boot ----------------------------------------------------
# The machine every Linux scenario boots, firmware and kernel aside.
# cortex-a57: the fastest CPU model for TCG here (no pointer
# authentication to emulate); -no-reboot turns a panic into an exit.
# shellcheck disable=SC2054   # commas inside option values
MACHINE=(-cpu cortex-a57 -smp 2 -m 1G,maxmem=4G -nodefaults
         -display none -serial stdio -monitor none -no-reboot
         -object memory-backend-ram,id=ram0,size=1G
         -numa node,nodeid=0,memdev=ram0,cpus=0-1
         -numa node,nodeid=1 -numa node,nodeid=2)

# MACHINE with a third memory-less node, 3 (spmem_layout b2b and order).
# shellcheck disable=SC2054,SC2034   # commas inside option values; used by layouts
MACHINE3=("${MACHINE[@]}" -numa node,nodeid=3)

# The -numa dist options that give the machine without sp-mem the
# /distance-map sp-mem brings (the default values), so that its nodes 1
# and 2 are known to Linux too: each node costs some memory.
NO_SPMEM_DIST=(-numa dist,src=0,dst=1,val=20 -numa dist,src=0,dst=2,val=20
               -numa dist,src=1,dst=2,val=20)

# uefi_pflash VARS: sets UEFI_PFLASH to the two pflash drives of a UEFI
# boot: the firmware FW_CODE read-only, and VARS, a fresh copy of its
# variable store FW_VARS (the firmware may write it; every boot starts
# from the same one).  The scenario sets FW_CODE and FW_VARS.
uefi_pflash() {
    cp "$FW_VARS" "$1"
    UEFI_PFLASH=(-drive "if=pflash,format=raw,unit=0,file=$FW_CODE,readonly=on"
                 -drive "if=pflash,format=raw,unit=1,file=$1")
}

# edk2_firmware: our EDK2 (edk2/, built and cached by edk2/build.sh): sets
# FW_CODE and FW_VARS (for uefi_pflash) to its AAVMF_CODE.fd and
# AAVMF_VARS.fd in $BUILD/firmware.
edk2_firmware() {
    local t0
    FW_CODE=$BUILD/firmware/AAVMF_CODE.fd FW_VARS=$BUILD/firmware/AAVMF_VARS.fd
    t0=$(date +%s%N)
    if bash "$TOP/edk2/build.sh" && [ -s "$FW_CODE" ] && [ -s "$FW_VARS" ]; then
        ok "firmware ${FW_CODE#"$TOP"/} ($(stat -c %s "$FW_CODE") bytes) and AAVMF_VARS.fd, edk2/build.sh took $(since "$t0")s"
    else
        bad "edk2/build.sh"
        finish
    fi
}

# since T0: seconds since T0 (date +%s%N), two decimals.
since() { awk -v t="$(( $(date +%s%N) - $1 ))" 'BEGIN {printf "%.2f", t / 1e9}'; }

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
    secs=$(since "$t0")
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

# --- checks of the word guests ---------------------------------------------------
# check_dt_nodes OUT [DEV...]: the /reserved-memory nodes of DEV... (default:
# all devices, and no other) as the guest read them from /proc/device-tree
# (lines "spmem-dt ..." of its output file OUT).
check_dt_nodes() {
    local out=$1 d a name reg want
    shift
    for d in "${@:-${DEVS[@]}}"; do
        a=${ADDR[$d]} name=sp-mem@${ADDR[$d]#0x}
        reg=$(printf '%016x%016x' "$a" "${BYTES[$d]}")
        want="spmem-dt $name reg=$reg numa-node-id=${NODE[$d]} no-map=yes compatible=qemu,sp-mem,special-purpose,"
        if grep -qFx -- "$want" "$out"; then
            ok "$d: /reserved-memory/$name reg=<$a ${BYTES[$d]}> numa-node-id=${NODE[$d]} no-map, compatible qemu,sp-mem + special-purpose"
        else
            bad "$d: no line '$want'; got: $(grep "^spmem-dt $name" "$out")"
        fi
    done
    [ $# = 0 ] || return 0
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

# --- the dax boots (uefi-sp, linux-sp) -------------------------------------------
# The guest runs lib/guest/dax/init.  The scenario calls spmem_layout dax
# and sets RAM_DEV (check_ram's default device), ROFF, WOFF and PLEN (its
# patterns: PLEN bytes at ROFF from the host, at WOFF from the guest).
# The checks read the output of boot LABEL in $tmp/out-LABEL and the
# backends in $tmp (spmem_backends "$tmp" put_host_pattern).

# dax_pattern MODE FILE OFF SEED: write (MODE put) or check (MODE check:
# prints "ok" or the first mismatch) PLEN bytes of the pattern of SEED at
# OFF: 64-bit words, word i = SEED + i * 0x9e3779b97f4a7c15 (as
# lib/guest/dax/daxmap.c computes it in the guest).
dax_pattern() {
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

# put_host_pattern FILE DEV (spmem_backends' FILL): the host's pattern,
# seeded with DEV's host word, at ROFF.
put_host_pattern() { dax_pattern put "$1" "$ROFF" "$(host_word "$2")"; }

# dax_tools: lib/guest/dax/daxmap.c built static for arm64 into $OUT, and
# busybox (linux_busybox).
dax_tools() {
    mkdir -p "$OUT"
    if aarch64-linux-gnu-gcc -static -O2 -Wall -Wextra -Werror \
            -o "$OUT/daxmap" "$TOP/lib/guest/dax/daxmap.c"; then
        ok "lib/guest/dax/daxmap.c built (static arm64)"
    else
        bad "build lib/guest/dax/daxmap.c"
        finish
    fi
    linux_busybox
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
    linux_initramfs "$TOP/lib/guest/dax/init" "$OUT/initrd-$name.cpio.gz"
}

# boot_summary LABEL: what the guest of $tmp/out-LABEL printed, its UEFI
# map (if any) and /proc/iomem from 0x80000000 on, and the NUMA, SRAT,
# HMAT, dax and reserved-memory lines of its kernel log.
boot_summary() {
    local label=$1
    grep '^spmem-' "$tmp/out-$label" |
        grep -vE '^spmem-(iomem-all|iomem-dax|cmdline|dmesg)' | sed 's/^/  guest: /'
    echo "  guest: UEFI memory map at 0x80000000 and above, and what /proc/iomem shows there:"
    grep -E '^spmem-dmesg .*efi:   0x0000[0-9a-f]*-' "$tmp/out-$label" |
        awk '{for (i = 1; i <= NF; i++) if ($i ~ /^0x0000[0-9a-f]+-/) {s = substr($i, 3, 12); if (s >= "000080000000") print "    " substr($0, index($0, "efi:"))}}'
    awk '/^spmem-iomem-all / {r = $2; sub(/-.*/, "", r); if (length(r) > 8 || r >= "80000000") print "    " substr($0, 17)}' "$tmp/out-$label"
    if grep -q '^spmem-iomem-dax ' "$tmp/out-$label"; then
        echo "  guest: /proc/iomem at 0x80000000 and above once the dax devices had their drivers:"
        awk '/^spmem-iomem-dax / {r = $2; sub(/-.*/, "", r); if (length(r) > 8 || r >= "80000000") print "    " substr($0, 17)}' "$tmp/out-$label"
    fi
    echo "  guest: NUMA/SRAT/HMAT/dax lines of dmesg:"
    grep -E '^spmem-dmesg .*(NUMA|SRAT|HMAT|hmem|dax|kmem|Faking|memblk|node|reserved mem)' "$tmp/out-$label" |
        grep -v 'efi:   0x' | sed 's/^spmem-dmesg /    /' | head -40
}

# boot_record LABEL: the lines of boot LABEL a report quotes, each
# starting with "  record LABEL": the UEFI memory map's SP descriptors,
# the kernel's SRAT lines, /proc/iomem from 0x80000000 up (once the dax
# devices had their drivers), the dax devices with their ranges and
# nodes, which device each is, and the nodes' MemTotal (kB) around each
# daxctl.
boot_record() {
    local label=$1 out=$tmp/out-$1
    sed -n "s/^spmem-dmesg .*efi:   \(0x[0-9a-f]*-0x[0-9a-f]* \[Conventional *|.*|SP|.*\)/  record $label efi: \1/p" "$out"
    srat_lines "$out" | sed "s/^/  record $label srat: /"
    awk -v p="  record $label iomem: " '/^spmem-iomem-dax / {l = substr($0, 17); r = l; sub(/^ +/, "", r); sub(/-.*/, "", r); if (length(r) > 8 || r >= "80000000") print p l}' "$out"
    sed -n "s/^spmem-dax \([^ ]*\) start=\([^ ]*\) size=\([^ ]*\) numa_node=\([^ ]*\) target_node=\([^ ]*\) .* driver=\([^ ]*\) .*/  record $label dax: \1 start=\2 size=\3 numa_node=\4 target_node=\5 driver=\6/p" "$out"
    sed -n "s/^spmem-daxof \(.*\)/  record $label device: \1/p" "$out"
    sed -n "s/^spmem-ram-nodes-\(before\|after\) \(.*[^ ]\) *\$/  record $label kmem \1 \2/p" "$out"
}

# --- the dax boots of our kernel (linux-sp, layouts) -------------------------------
# The kernel command line of every dax boot, before the guest's arguments.
# shellcheck disable=SC2034   # used by the scenarios
DAX_APPEND="console=ttyAMA0 panic=-1 quiet nokaslr rdinit=/init"

# dax_guest_args [RAM-DEV...]: sets DAX_ARGS to the guest's arguments for
# the devices of the layout: spmem= (spmem_spec_arg), the patterns
# (spmem-pat=) and spmem-ram= with RAM-DEV... (default: every device).
dax_guest_args() {
    spmem_spec_arg
    local ram=("${@:-${DEVS[@]}}")
    DAX_ARGS="spmem=$spmem_arg spmem-pat=$ROFF:$WOFF:$PLEN spmem-ram=$(IFS=,; echo "${ram[*]}")"
}

# dax_boot LABEL QEMU-ARG...: one boot (fresh backends holding the host
# pattern, SPMEM_ARGS after QEMU-ARG...); output in $tmp/out-LABEL.
dax_boot() {
    local label=$1
    shift
    spmem_backends "$tmp" put_host_pattern
    echo "--- boot $label"
    boot_guest "$tmp/out-$label" "$@" "${SPMEM_ARGS[@]}"
    check_exit "$tmp/out-$label"
    boot_summary "$label"
}

# dax_uboot MODE LABEL KERNEL INITRD APPEND QEMU-ARG...: boot LABEL
# through U-Boot's MODE (booti or bootefi; uboot_firmware first) from a
# virtio disk with KERNEL, INITRD and lib/guest/dax/uboot.cmd, Linux's
# command line APPEND; QEMU-ARG... is the machine (-M virt ...).
dax_uboot() {
    local mode=$1 label=$2 kernel=$3 initrd=$4 args=$5 fs=$tmp/fs-$2
    shift 5
    [ "$mode" = bootefi ] && args+=" initrd=/initrd"
    mkdir -p "$fs"
    if ! cp "$kernel" "$fs/Image" || ! cp "$initrd" "$fs/initrd"; then
        bad "$label: copy the kernel and initramfs to the boot file system"
        finish
    fi
    printf 'spmem_boot=%s\nbootargs=%s\n' "$mode" "$args" > "$fs/boot.env"
    boot_disk "$fs" "$TOP/lib/guest/dax/uboot.cmd" "$tmp/disk-$label.img"
    dax_boot "$label" "$@" -bios "$UBOOT" \
        -drive "if=none,file=$tmp/disk-$label.img,format=raw,id=d0,snapshot=on" \
        -device virtio-blk-device,drive=d0
    rm -rf "$fs" "$tmp/disk-$label.img"
    if grep -q "^spmem-uboot-script $mode " "$tmp/out-$label" &&
       ! grep -q "^spmem-uboot-script $mode failed" "$tmp/out-$label"; then
        ok "$label: U-Boot ran our script's $mode: $(grep -m1 "^spmem-uboot-script $mode " "$tmp/out-$label")"
    else
        bad "$label: U-Boot did not run $mode: $(grep '^spmem-uboot-script' "$tmp/out-$label" | tr '\n' ';')"
    fi
}

# dax_uefi LABEL KERNEL INITRD MACHINE-OPTS APPEND QEMU-ARG...: boot LABEL
# through our EDK2 (edk2_firmware first) with -M virt,MACHINE-OPTS,
# QEMU-ARG... (the machine), KERNEL and INITRD, Linux's command line
# APPEND and efi=debug (the kernel logs the UEFI memory map).
dax_uefi() {
    local label=$1 kernel=$2 initrd=$3 mopts=$4 args=$5
    shift 5
    uefi_pflash "$tmp/vars-$label.fd"
    dax_boot "$label" -M "virt,$mopts" "$@" "${UEFI_PFLASH[@]}" \
        -kernel "$kernel" -initrd "$initrd" -append "$args efi=debug"
    rm -f "$tmp/vars-$label.fd"
}

# hmat_machine MACHINE-ARG...: sets HMAT_MACHINE to the machine with
# node 0 the initiator of every memory-less node (-numa node without
# memdev= and cpus=) and an HMAT latency and bandwidth from node 0 to
# every node (-M virt,hmat=on needs both), as uefi-sp's hmat boots.
hmat_machine() {
    local a n targets=(0)
    HMAT_MACHINE=()
    for a in "$@"; do
        if [[ $a =~ ^node,nodeid=([0-9]+)$ ]]; then
            a+=,initiator=0
            targets+=("${BASH_REMATCH[1]}")
        fi
        HMAT_MACHINE+=("$a")
    done
    for n in "${targets[@]}"; do
        # shellcheck disable=SC2054   # commas inside option values
        HMAT_MACHINE+=(-numa "hmat-lb,initiator=0,target=$n,hierarchy=memory,data-type=access-latency,latency=$((10 + 10 * n))"
                       -numa "hmat-lb,initiator=0,target=$n,hierarchy=memory,data-type=access-bandwidth,bandwidth=$((40 - 10 * (n > 3 ? 3 : n)))G")
    done
}

# check_said LABEL WHAT LINE: the kernel log of boot LABEL has LINE.
check_said() {
    if grep -qF -- "$3" "$tmp/out-$1"; then
        ok "$1 $2: the kernel says: $3"
    else
        bad "$1 $2: no kernel line '$3'; reserved mem lines: $(grep 'reserved mem' "$tmp/out-$1" | sed 's/^spmem-dmesg \[[ 0-9.]*\] //' | tr '\n' ';')"
    fi
}

# check_dax_boot LABEL [MODE...]: check_sp LABEL MODE..., one dax device
# per device (check_dax_count), and every device of DAX_ARGS' spmem-ram=
# (dax_guest_args) system-ram on its node only (check_kmem).
check_dax_boot() {
    local d ram
    check_sp "$@"
    check_dax_count "$1"
    ram=$(sed -n 's/.*spmem-ram=\([^ ]*\).*/\1/p' <<< "$DAX_ARGS")
    for d in "${DEVS[@]}"; do
        case ",$ram," in *",$d,"*) check_kmem "$1" "$d" ;; esac
    done
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

# How the kernel shows a Soft Reserved range in /proc/iomem: check_sp
# asserts the one way SP_IOMEM names, never "either":
#   soft  a top-level "Soft Reserved" resource (Debian's stock kernels,
#         6.1, 6.12 and 7.3.4, and upstream 6.1: the arm64 EFI code puts
#         EFI_MEMORY_SP ranges into iomem_resource); the default, which
#         uefi-sp's kernels need
#   dax   no "Soft Reserved" line at all (the range is in the kernel's
#         soft_reserve_resource tree only, as on x86 since 7.0), and once
#         device_dax has the range, a top-level line "START-END : daxX.Y"
#         for exactly the range (our 7.2 series, linux/0001 and 0005, on
#         every boot path)
SP_IOMEM=${SP_IOMEM:-soft}

# check_sp LABEL [nodax] [nouefi] [nodata]: every sp-mem range is
# EFI_MEMORY_SP memory in the UEFI map (unless nouefi is given: a boot
# whose firmware has no such map, or does not mark the range), shown in
# /proc/iomem as SP_IOMEM says (soft: Soft Reserved, exactly, or, with
# ADJACENT=1, within a merged range; dax: the range's own dax device,
# exactly, and no Soft Reserved line), not System RAM; and, unless nodax
# is given (a kernel that cannot have dax devices, checked by the
# caller), a dax device whose numa_node and target_node are the device's
# node (or DAX_NODE, if set: a guest that cannot know the node; -1, no
# node, has no target_node attribute) and, with SP_IOMEM=dax, whose
# range is exactly the device's, through which the patterns crossed
# (unless nodata is given: a range with no memory behind it).
check_sp() {
    local label=$1 out=$tmp/out-$1 mode=" ${*:2} " d a b line dax node tnode want got s e
    local want_node want_tnode snap soft start size
    case $SP_IOMEM in
        soft|dax) ;;
        *) bad "$label: SP_IOMEM is '$SP_IOMEM', not soft or dax"; return ;;
    esac
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
        dax=$(sed -n "s/^spmem-daxof $d //p" "$out")
        if [ "$SP_IOMEM" = soft ]; then
            if line=$(covering "$out" iomem "$a" "$b") &&
               { [ "${ADJACENT:-0}" = 1 ] || [ "${line%% *}" = "$want" ]; }; then
                ok "$label $d: /proc/iomem: $line"
            else
                bad "$label $d: no top-level '$want : Soft Reserved' in /proc/iomem: $(grep -iE '^spmem-iomem-all .*Soft' "$out" | sed 's/^spmem-iomem-all //' | tr '\n' ';')"
            fi
        else
            # Both snapshots: at the start of /init, and once the dax
            # devices have their drivers (lib/guest/dax/init).
            soft=$(iomem_lines "$out" 'spmem-iomem-(all|dax)' "$a" "$b" | grep 'Soft Reserved' | sort -u | tr '\n' ';')
            if [[ $mode = *" nodax "* ]]; then
                if [ -z "$soft" ] && grep -q '^spmem-iomem-all ' "$out"; then
                    ok "$label $d: no Soft Reserved line over $want in /proc/iomem (soft_reserve_resource only)"
                else
                    bad "$label $d: /proc/iomem over $want: '$soft', want no Soft Reserved line"
                fi
            elif [ -n "$dax" ] && [ -z "$soft" ] &&
                 grep -qx "spmem-iomem-dax $want : $dax" "$out"; then
                ok "$label $d: /proc/iomem: $want : $dax (top level, exactly the range; no Soft Reserved line)"
            else
                bad "$label $d: want the top-level line '$want : ${dax:-daxX.Y}' and no Soft Reserved line in /proc/iomem; over the range: $(iomem_lines "$out" 'spmem-iomem-dax' "$a" "$b" | tr '\n' ';') Soft Reserved: '$soft'"
            fi
        fi
        for snap in all dax; do
            while read -r s e; do
                if (( 0x$s <= a + b - 1 && 0x$e >= a )); then
                    bad "$label $d: System RAM $s-$e in /proc/iomem ($([ $snap = all ] && echo 'at the start of /init' || echo 'once the dax devices had their drivers')) overlaps it"
                fi
            done < <(sed -n "s/^spmem-iomem-$snap *\([0-9a-f]*\)-\([0-9a-f]*\) : System RAM\$/\1 \2/p" "$out")
        done
        [[ $mode = *" nodax "* ]] && continue
        # A dax device without a node (-1) has no target_node attribute.
        want_node=${DAX_NODE:-${NODE[$d]}} want_tnode=${DAX_NODE:-${NODE[$d]}}
        [ "$want_node" = -1 ] && want_tnode=
        line=$(grep "^spmem-dax $dax " "$out")
        node=$(sed -n 's/.* numa_node=\([-0-9]*\) .*/\1/p' <<< "$line")
        tnode=$(sed -n 's/.* target_node=\([-0-9]*\) .*/\1/p' <<< "$line")
        start=$(sed -n 's/.* start=\([0-9a-fx]*\) .*/\1/p' <<< "$line")
        size=$(sed -n 's/.* size=\([0-9]*\) .*/\1/p' <<< "$line")
        if [ -z "$dax" ]; then
            bad "$label $d: no dax device starts at $a; dax devices: $(grep '^spmem-dax ' "$out" | tr '\n' ';') insmod: $(grep '^spmem-insmod' "$out" | tr '\n' ' ')"
        elif [ "$node" = "$want_node" ] && [ "$tnode" = "$want_tnode" ] &&
             grep -q 'chardev=yes' <<< "$line" &&
             { [ "$SP_IOMEM" = soft ] || { [ $((start)) = $((a)) ] && [ "$size" = $((b)) ]; }; }; then
            ok "$label $d: /dev/$dax, numa_node $node and target_node '$tnode' = ${DAX_NODE:+DAX_NODE, not }the device's node$([ "$SP_IOMEM" = dax ] && echo ", exactly $a+$b") (${line#spmem-dax "$dax" })"
        else
            bad "$label $d: /dev/$dax numa_node '$node', target_node '$tnode', want '$want_node' and '$want_tnode'$([ "$SP_IOMEM" = dax ] && echo ", range $a+$b") (${line#spmem-dax })"
        fi
        [[ $mode = *" nodata "* ]] && continue
        want="spmem-daxmap $d daxmap /dev/$dax read $ROFF $PLEN ok first $(host_word "$d")"
        if [ -n "$dax" ] && grep -qFx -- "$want" "$out"; then
            ok "$label $d: the guest read the host's $PLEN-byte pattern at $ROFF through mmap(/dev/$dax)"
        else
            bad "$label $d: want '$want'; got: $(grep "^spmem-daxmap $d " "$out" | tr '\n' ';')"
        fi
        got=$(dax_pattern check "$tmp/$d" "$WOFF" "$(guest_word "$d")")
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

# iomem_lines OUT TAG A B: the /proc/iomem lines (any depth) of the
# snapshots TAG (a grep -E pattern: spmem-iomem-all, the start of /init;
# spmem-iomem-dax, once the dax devices had their drivers) in OUT that
# overlap A+B, without the tag.
iomem_lines() {
    local out=$1 tag=$2 a=$3 b=$4 line r s e
    grep -E "^($tag) " "$out" | sed -E 's/^[^ ]+ //' | while IFS= read -r line; do
        r=${line%% : *}
        r=${r#"${r%%[! ]*}"}
        s=${r%-*} e=${r#*-}
        [[ $s =~ ^[0-9a-f]+$ && $e =~ ^[0-9a-f]+$ ]] || continue
        if (( 0x$s <= a + b - 1 && 0x$e >= a )); then
            echo "$line"
        fi
    done
}

# check_dax_count LABEL: the guest of boot LABEL has as many dax devices
# as there are sp-mem devices, each starting at a different device.
check_dax_count() {
    local out=$tmp/out-$1 n mapped
    n=$(grep -c '^spmem-dax ' "$out")
    mapped=$(sed -n 's/^spmem-daxof [^ ]* //p' "$out" | sort -u | wc -l)
    if [ "$n" = "${#DEVS[@]}" ] && [ "$mapped" = "${#DEVS[@]}" ]; then
        ok "$1: ${#DEVS[@]} dax devices for ${#DEVS[@]} sp-mem devices, one each: $(sed -n 's/^spmem-dax \([^ ]*\) start=\([^ ]*\) size=\([^ ]*\) numa_node=\([^ ]*\) .*/\1 \2+\3 node \4/p' "$out" | paste -sd ';' -)"
    else
        bad "$1: $n dax devices ($mapped matched to a device) for ${#DEVS[@]} sp-mem devices: $(grep '^spmem-dax ' "$out" | tr '\n' ';')"
    fi
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

# check_kmem LABEL DEV: check_ram, and the memory of DEV went to its node
# only: no memory block of its range in another node, and the MemTotal
# of every other sp-mem node the same before and after its daxctl (node
# 0's before and after are shown).
check_kmem() {
    local label=$1 out=$tmp/out-$1 d=$2 before after elsewhere n o='' changed='' kb0 kb1
    check_ram "$label" "$d"
    before=$(sed -n "s/^spmem-ram-nodes-before $d //p" "$out")
    after=$(sed -n "s/^spmem-ram-nodes-after $d //p" "$out")
    elsewhere=$(sed -n "s/^spmem-ram-blocks-elsewhere $d //p" "$out")
    for n in $(spmem_nodes); do
        [ "$n" = "${NODE[$d]}" ] && continue
        kb0=$(tr ' ' '\n' <<< "$before" | sed -n "s/^node$n=//p")
        kb1=$(tr ' ' '\n' <<< "$after" | sed -n "s/^node$n=//p")
        [ -n "$kb0" ] && [ "$kb0" = "$kb1" ] || changed+=" node$n '$kb0'->'$kb1'"
        o+="node$n $kb0 kB, "
    done
    kb0=$(tr ' ' '\n' <<< "$before" | sed -n "s/^node0=//p")
    kb1=$(tr ' ' '\n' <<< "$after" | sed -n "s/^node0=//p")
    if [ "$elsewhere" = 0 ] && [ -z "$changed" ] && [ -n "$before" ]; then
        ok "$label $d: daxctl added memory to node${NODE[$d]} only: no block of ${ADDR[$d]}+${BYTES[$d]} elsewhere, the other sp-mem nodes unchanged (${o%, }; node0 $kb0 -> $kb1 kB)"
    else
        bad "$label $d: blocks of ${ADDR[$d]}+${BYTES[$d]} on other nodes: '$elsewhere' ($(grep "^spmem-ram-block $d " "$out" | sed "s/^spmem-ram-block $d //" | tr '\n' ';')); other sp-mem nodes changed:${changed:- none}; nodes before: $before; after: $after"
    fi
}

# spmem_nodes: the nodes of the sp-mem devices, each once, in order.
spmem_nodes() {
    local d
    for d in "${DEVS[@]}"; do echo "${NODE[$d]}"; done | sort -nu | paste -sd ' ' -
}

# and_list WORD...: "1", "1 and 2", "1, 2 and 3".
and_list() {
    local out='' i
    for ((i = 1; i < $# - 1; i++)); do out+="${!i}, "; done
    [ $# -ge 2 ] && out+="${*: -2:1} and "
    echo "$out${*: -1}"
}

# check_nodes_of LABEL: Linux brought up the nodes of the sp-mem devices
# (not one fake node).
check_nodes_of() {
    local out=$tmp/out-$1 n nodes missing=
    nodes=$(sed -n 's/^spmem-nodes //p' "$out")
    for n in $(spmem_nodes); do
        grep -qw "node$n" <<< "$nodes" || missing+=" node$n"
    done
    if grep -q '^spmem-dmesg .*Faking a node' "$out"; then
        bad "$1: Linux faked one NUMA node: $(grep -E '^spmem-dmesg .*(invalid memblk|Faking)' "$out" | sed 's/^spmem-dmesg \[[ 0-9.]*\] //' | tr '\n' ';')"
    elif [ -n "$nodes" ] && [ -z "$missing" ]; then
        # shellcheck disable=SC2046   # one word per node
        ok "$1: Linux has NUMA nodes $(and_list $(spmem_nodes)) ($nodes; online $(sed -n 's/^spmem-node-online //p' "$out"))"
    else
        bad "$1: /sys/devices/system/node has '$nodes', not$missing"
    fi
}

# check_srat LABEL: the kernel's SRAT lines: for each device, its range as
# "SRAT: Node N PXM N" (the proximity domain QEMU gave it is the user's
# node, and Linux's node number is the same); and no line of the SRAT
# (memory or CPU) maps an sp-mem node's PXM to another node.
check_srat() {
    local out=$tmp/out-$1 d a b want bad_map n
    for d in "${DEVS[@]}"; do
        a=${ADDR[$d]} b=${BYTES[$d]} n=${NODE[$d]}
        want=$(printf 'ACPI: SRAT: Node %s PXM %s [mem 0x%08x-0x%08x]' "$n" "$n" "$a" $((a + b - 1)))
        if srat_lines "$out" | grep -qxF -- "$want"; then
            ok "$1 $d: the kernel says: $want"
        else
            bad "$1 $d: no kernel line '$want'; SRAT lines: $(srat_lines "$out" | tr '\n' ';')"
        fi
    done
    bad_map=$(srat_lines "$out" | sed -n 's/.*Node \([0-9]*\) PXM \([0-9]*\) .*/\1 \2/p; s/.*PXM \([0-9]*\) -> .* -> Node \([0-9]*\).*/\2 \1/p' |
              while read -r n p; do
                  [ "$n" != "$p" ] && grep -qw "$p" <<< "$(spmem_nodes)" && echo "PXM $p -> node $n"
              done | sort -u | tr '\n' ';')
    if [ -z "$bad_map" ] && [ -n "$(srat_lines "$out")" ]; then
        ok "$1: every SRAT line of PXM $(spmem_nodes) has node number = PXM ($(srat_lines "$out" | wc -l) SRAT lines)"
    else
        bad "$1: SRAT maps sp-mem PXMs to other nodes: '$bad_map'; SRAT lines: $(srat_lines "$out" | tr '\n' ';')"
    fi
}

# srat_lines OUT: the kernel's "SRAT: Node" and "SRAT: PXM" lines in OUT.
srat_lines() {
    sed -n 's/^spmem-dmesg \[[ 0-9.]*\] \(.*SRAT: \(Node\|PXM\) .*\)/\1/p' "$1"
}

# check_dt_reg LABEL: the guest's /proc/device-tree has a
# /reserved-memory/sp-mem@ node with reg <ADDR BYTES> and numa-node-id
# NODE for each device, and no other (placement as the guest sees it).
check_dt_reg() {
    local out=$tmp/out-$1 d want n
    for d in "${DEVS[@]}"; do
        want="spmem-dt sp-mem@${ADDR[$d]#0x} reg=$(printf '%016x%016x' "${ADDR[$d]}" "${BYTES[$d]}") numa-node-id=${NODE[$d]}"
        if grep -qFx -- "$want" "$out"; then
            ok "$1 $d: the guest's device tree has /reserved-memory/sp-mem@${ADDR[$d]#0x}, reg <${ADDR[$d]} ${BYTES[$d]}>, numa-node-id ${NODE[$d]}"
        else
            bad "$1 $d: no '$want' in the guest; it has: $(grep '^spmem-dt ' "$out" | tr '\n' ';')"
        fi
    done
    n=$(grep -c '^spmem-dt ' "$out")
    if [ "$n" = "${#DEVS[@]}" ]; then
        ok "$1: ${#DEVS[@]} sp-mem nodes under /proc/device-tree/reserved-memory, no other"
    else
        bad "$1: $n sp-mem nodes under /proc/device-tree/reserved-memory, want ${#DEVS[@]}"
    fi
}

# check_placement MACHINE-ARG...: QEMU, started with the machine
# MACHINE-ARG... (e.g. "${MACHINE3[@]}", whose serial and monitor options
# are replaced) and SPMEM_ARGS, placed each device at its ADDR on its NODE
# ("info memory-devices").
check_placement() {
    local args=() i info d got
    while [ $# -gt 0 ]; do
        case "$1 ${2:-}" in
            "-serial stdio"|"-monitor none") shift 2 ;;
            *) args+=("$1"); shift ;;
        esac
    done
    info=$(printf 'info memory-devices\nquit\n' |
           timeout 60 "$QEMU" -M virt "${args[@]}" "${SPMEM_ARGS[@]}" -S -serial none -monitor stdio 2>&1 |
           tr -d '\r' | awk '/Memory device/ {id = $NF; gsub(/"/, "", id)} /^ *addr:/ {a[id] = $2} /^ *node:/ {print id, a[id], $2}')
    for d in "${DEVS[@]}"; do
        got=$(awk -v d="$d" '$1 == d {print $2, $3}' <<< "$info")
        if [ "$got" = "${ADDR[$d]} ${NODE[$d]}" ]; then
            ok "$d: QEMU placed it at ${ADDR[$d]} on node ${NODE[$d]} (info memory-devices)"
        else
            bad "$d: info memory-devices says '$got', want '${ADDR[$d]} ${NODE[$d]}'; all: $(tr '\n' ';' <<< "$info")"
        fi
    done
}

# --- U-Boot ----------------------------------------------------------------------
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
# /boot.scr (see scenarios/uboot/run.sh).
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

# --- Xen (xen, xen-dom0less, linux-sp) -------------------------------------------
# The Xen releases to boot, as Debian packages xen-hypervisor-V-arm64
# (4.17: bookworm; 4.20: trixie, through the private apt state).
XEN_VERSIONS=${XEN_VERSIONS:-4.17 4.20}

# XEN_DOM0_KERNEL=IMAGE boots that arm64 Image as dom0 instead of
# Debian's cloud kernel, with the same initramfs and the same checks
# (xen, xen-dom0less).
XEN_DOM0_KERNEL=${XEN_DOM0_KERNEL:-}

# Xen's command line, the same for every Xen boot: its console on the
# UART, every message logged, and dom0's memory, dom0_mem=256M: enough
# for every dom0 here (Debian's cloud kernel in xen and xen-dom0less,
# our 7.2 with the dax checks in linux-sp, which pass with it: MemTotal
# 250268 kB), and it leaves Xen three quarters of the 1 GiB of RAM for
# the boot modules and the dom0less domain's 128 MiB.  Xen/arm maps dom0
# 1:1, in contiguous banks of that RAM: 512M still fits (one bank,
# 0x58000000-0x77ffffff), 640M does not ("Failed to allocate requested
# dom0 memory": 128MB unallocated with 4.17, 64MB with 4.20).
XEN_APPEND="console=dtuart dtuart=serial0 dom0_mem=256M loglvl=all guest_loglvl=all"
# dom0's kernel command line, before a scenario's own arguments: its
# console is Xen's (hvc0).
XEN_DOM0_APPEND="console=hvc0 panic=-1 quiet rdinit=/init"

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

# xen_args [KERNEL INITRD [ARG...]]: sets XEN_ARGS to a Xen boot: the
# shared machine with EL2 and GICv3 (virtualization=on, gic-version=3),
# Xen ($XEN, xen_hypervisor) as -kernel (QEMU loads it like a Linux
# Image and passes the DTB) with XEN_APPEND; and, given KERNEL, dom0:
# KERNEL with XEN_DOM0_APPEND and ARGs and INITRD, from two -device
# guest-loader, which Xen finds as multiboot modules under /chosen
# (without, the caller places dom0 itself: xen-dom0less.py).  RAM is
# 0x40000000-0x7fffffff; QEMU puts Xen at 0x40200000 and the DTB at
# 0x48000000.  dom0's kernel goes to 0x50000000, its initrd to the next
# 16 MiB boundary after it.
xen_args() {
    local kernel initrd kaddr=0x50000000 iaddr args
    # shellcheck disable=SC2054   # commas inside option values
    XEN_ARGS=(-M virt,virtualization=on,gic-version=3 "${MACHINE[@]}"
              -kernel "$XEN" -append "$XEN_APPEND")
    [ $# -ge 2 ] || return 0
    kernel=$1 initrd=$2
    shift 2
    iaddr=$(printf '0x%x' $(( (kaddr + $(stat -c %s "$kernel") + 0xffffff) & ~0xffffff )))
    args="$XEN_DOM0_APPEND${*:+ $*}"
    # A comma inside an option value is written twice.
    XEN_ARGS+=(-device "guest-loader,addr=$kaddr,kernel=$kernel,bootargs=${args//,/,,}"
               -device "guest-loader,addr=$iaddr,initrd=$initrd")
}

# xen_dom0_guest INIT CONFIG...: Debian's kernel with CONFIG...
# (linux_guest; DOMU_KERNEL, for dom0less domains) and INITRD with the
# /init script INIT; KERNEL, dom0's, is XEN_DOM0_KERNEL if set.
xen_dom0_guest() {
    linux_guest "$@"
    # shellcheck disable=SC2034   # used by xen-dom0less
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
