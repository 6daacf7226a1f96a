#!/usr/bin/env bash
# Build one of the guests' Linux kernels from Debian's source package:
#
#   linux/build.sh 7.2   upstream 7.2.8 with our series (linux/series):
#                        the kernel every Linux boot path of
#                        the linux-sp scenario runs
#   linux/build.sh 7.2-dt  the same tree, configured as an embedded
#                        kernel (linux/config-7.2-dt): device tree only,
#                        no EFI, no ACPI, no PCI; the embedded rows of
#                        the layouts scenario
#   linux/build.sh 6.1   upstream 6.1.176 without patches, the dax core
#                        built in: the hmat61dax boot of
#                        the uefi-sp scenario (Debian's 6.1 kernels
#                        have DAX=m, which turns DEV_DAX_HMEM_DEVICES off)
#
# configured with linux/config-VERSION on top of allnoconfig.  Leaves
# build/guest/linux-VERSION/Image (arm64, uncompressed, with the EFI
# stub), config (its .config), release (its uname -r) and
# root/lib/modules/RELEASE/ (the modules, if the configuration has any,
# and depmod's index of them and of the built-in drivers).
#
# Choices:
#  - Source: the orig tarball of Debian's linux source package, pinned by
#    sha256 below and fetched by name from the pool directory of Debian's
#    archive (common.sh: fetch_source, through the project's private apt
#    state).  No archive host is named here.  Once Debian drops a
#    version from its pool, its pin (and perhaps its fragment and the
#    series) move to the next tarball.
#  - Debian's own patches are not applied: none of them touches
#    drivers/dax, drivers/of, drivers/acpi/numa, drivers/firmware/efi,
#    mm/numa_memblks.c or kernel/resource.c (checked in 6.1.176-1's and
#    7.2.8-1's debian/patches/series), so what the guest shows is
#    upstream's behaviour plus ours.
#  - Configuration: allnoconfig with KCONFIG_ALLCONFIG=the fragment
#    (ARCH=arm64, CROSS_COMPILE=aarch64-linux-gnu-), then every line of
#    the fragment is looked up in the final .config; Kconfig silently
#    drops a value whose dependencies are unmet, so any difference fails
#    the build with the list.
#  - Build: "make Image" (and "modules" when the configuration has
#    modules) out of tree (O=), so the unpacked, patched source is
#    unpacked and patched once per tarball and series.
#  - Cache ($CACHE/linux, outside the work tree): src-KEY is the unpacked
#    tarball with the series applied (KEY from the tarball's sha256 and
#    the series); out-KEY holds what build/guest/linux-VERSION gets (and
#    the build log), keyed by the tarball, the series, the fragment, the
#    settings in RECIPE and the cross compiler's and linker's version
#    lines.  A hit compares one stamp file and returns at once; a miss
#    builds in a scratch object directory, removed afterwards.
#  - Unpack and compile run under the build lock of common.sh
#    (build_lock): 2 cores, one big build at a time.
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
HERE=$TOP/linux

# shellcheck source=linux/pins.sh
. "$HERE/pins.sh"
VER=${1:-}
case $VER in 6.1|7.2|7.2-dt) ;; *) VER= ;; esac
linux_pin "${VER%-dt}" || { echo "usage: linux/build.sh 6.1|7.2|7.2-dt" >&2; exit 2; }
# Our series goes on 7.2 only; 6.1 is built as upstream has it.
PATCHES=()
[ "$VER" = 6.1 ] || mapfile -t PATCHES < <(sed -e '/^#/d' -e '/^$/d' "$HERE/series")
CROSS=aarch64-linux-gnu-
MAKE_ARGS=(ARCH=arm64 "CROSS_COMPILE=$CROSS")
# Everything else that decides the result; bump the number when the way
# of building changes.
RECIPE="3 allnoconfig+fragment ${MAKE_ARGS[*]} Image modules depmod"

FRAGMENT=$HERE/config-$VER
K_OUT=$BUILD/guest/linux-$VER
K_CACHE=$CACHE/linux
WHO="linux/build.sh $VER"

# The cross compiler is part of the key; without it nothing can be built.
command -v "${CROSS}gcc" >/dev/null || bash "$TOP/scripts/deps.sh"
toolchain="$("${CROSS}gcc" --version | head -1) / $("${CROSS}ld" --version | head -1)"
series_sum=$( { echo "$LINUX_ORIG_SHA256"
                for p in "${PATCHES[@]}"; do cat "$HERE/$p"; done; } |
              sha256sum | cut -c1-16)
key=$( { echo "$series_sum"; echo "$RECIPE"; echo "$toolchain"
         cat "$FRAGMENT"; } | sha256sum | cut -c1-16)

# --- cache hit: nothing to do -------------------------------------------------
if [ "$(cat "$K_OUT/.key" 2>/dev/null)" = "$key" ] &&
   [ -s "$K_OUT/Image" ] && [ -s "$K_OUT/config" ]; then
    exit 0
fi

# install_kernel DIR: copy the cached kernel of DIR to build/guest/linux-VER.
install_kernel() {
    rm -rf "$K_OUT" && mkdir -p "$K_OUT"
    cp -r "$1"/* "$K_OUT/"
    echo "$key" > "$K_OUT/.key"
    echo "$WHO: ${K_OUT#"$TOP"/}/Image, config (Linux $LINUX_VERSION, ${#PATCHES[@]} patches, ${FRAGMENT#"$TOP"/}, cache $key)"
}
k_dir=$K_CACHE/out-$key
if [ -s "$k_dir/Image" ] && [ -s "$k_dir/config" ]; then
    install_kernel "$k_dir"
    exit 0
fi

bash "$TOP/scripts/deps.sh"

# --- fetch --------------------------------------------------------------------
fetch_source "$WHO" linux "$LINUX_ORIG:$LINUX_ORIG_SHA256"
mkdir -p "$K_CACHE"

# Unpack and compile: one big build at a time on this machine.  Another
# run may have built this kernel while we waited.
build_lock
if [ -s "$k_dir/Image" ] && [ -s "$k_dir/config" ]; then
    install_kernel "$k_dir"
    exit 0
fi

# --- unpack and patch (once per tarball and series) ---------------------------
src=$K_CACHE/src-$LINUX_VERSION-$series_sum
if [ ! -f "$src/.sp-mem-ready" ]; then
    t0=$(date +%s)
    echo "$WHO: unpacking $LINUX_ORIG into $src"
    # Trees of an older series of this version are not needed again.
    rm -rf "$K_CACHE/src-$LINUX_VERSION-"* "$src.tmp"
    mkdir -p "$src.tmp"
    tar -xf "$SRC_CACHE/$LINUX_ORIG" -C "$src.tmp" --strip-components=1
    for p in "${PATCHES[@]}"; do
        if ! patch -d "$src.tmp" -p1 -s --no-backup-if-mismatch < "$HERE/$p"; then
            echo "$WHO: linux/$p does not apply to $LINUX_VERSION" >&2
            exit 1
        fi
    done
    touch "$src.tmp/.sp-mem-ready"
    mv "$src.tmp" "$src"
    echo "$WHO: unpacked and patched (${#PATCHES[@]} patches) in $(( $(date +%s) - t0 ))s"
fi

# --- configure ----------------------------------------------------------------
obj=$K_CACHE/obj-$VER
rm -rf "$obj"
mkdir -p "$obj"
t0=$(date +%s)
if ! make -C "$src" O="$obj" "${MAKE_ARGS[@]}" KCONFIG_ALLCONFIG="$FRAGMENT" \
        allnoconfig > "$obj/config.log" 2>&1; then
    cat "$obj/config.log" >&2
    echo "$WHO: allnoconfig with ${FRAGMENT#"$TOP"/} failed" >&2
    exit 1
fi
# Every line of the fragment, as written, in the final .config ("is not
# set" may also be absent).
unmet=()
while IFS= read -r line; do
    case $line in
        CONFIG_*=*)
            grep -qxF -- "$line" "$obj/.config" ||
                unmet+=("$line (got: $(grep -E "^(# )?${line%%=*}[= ]" "$obj/.config" || echo absent))") ;;
        "# CONFIG_"*" is not set")
            c=${line#\# }; c=${c%% *}
            ! grep -q "^$c=" "$obj/.config" ||
                unmet+=("$line (got: $(grep "^$c=" "$obj/.config"))") ;;
    esac
done < "$FRAGMENT"
if [ ${#unmet[@]} -gt 0 ]; then
    echo "$WHO: the final .config does not have these lines of ${FRAGMENT#"$TOP"/}:" >&2
    printf '  %s\n' "${unmet[@]}" >&2
    exit 1
fi
echo "$WHO: configured in $(( $(date +%s) - t0 ))s (allnoconfig + ${FRAGMENT#"$TOP"/}, every line as asked)"

# --- compile ------------------------------------------------------------------
targets=(Image)
modules=0
grep -qx 'CONFIG_MODULES=y' "$obj/.config" && { modules=1; targets+=(modules); }
t0=$(date +%s)
echo "$WHO: building ${targets[*]} with -j$(nproc), log $obj/build.log"
if ! make -C "$src" O="$obj" "${MAKE_ARGS[@]}" -j"$(nproc)" "${targets[@]}" \
        > "$obj/build.log" 2>&1; then
    tail -40 "$obj/build.log" >&2
    echo "$WHO: kernel build failed (log: $obj/build.log)" >&2
    exit 1
fi
rm -rf "$k_dir.tmp" && mkdir -p "$k_dir.tmp"
cp "$obj/arch/arm64/boot/Image" "$k_dir.tmp/Image"
cp "$obj/.config" "$k_dir.tmp/config"
cp "$obj/include/config/kernel.release" "$k_dir.tmp/release"
cp "$obj/build.log" "$k_dir.tmp/"
# What /lib/modules/RELEASE holds on a system with this kernel: the
# modules, the list of built-in drivers and depmod's index of both,
# through which libkmod (daxctl's "insert kmem") finds kmem, built in or
# a module.
rel=$(cat "$obj/include/config/kernel.release")
mdir=$k_dir.tmp/root/lib/modules/$rel
if [ $modules = 1 ]; then
    make -C "$src" O="$obj" "${MAKE_ARGS[@]}" INSTALL_MOD_PATH="$k_dir.tmp/root" \
        INSTALL_MOD_STRIP=1 DEPMOD=/bin/true modules_install >> "$k_dir.tmp/build.log" 2>&1
    rm -f "$mdir/build" "$mdir/source"
else
    mkdir -p "$mdir"
    cp "$obj/modules.builtin" "$obj/modules.builtin.modinfo" "$mdir/"
    touch "$mdir/modules.order"
fi
/sbin/depmod -b "$k_dir.tmp/root" "$rel"
rm -rf "$k_dir" && mv "$k_dir.tmp" "$k_dir"
rm -rf "$obj"
echo "$WHO: built in $(( $(date +%s) - t0 ))s"
install_kernel "$k_dir"
