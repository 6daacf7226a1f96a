#!/usr/bin/env bash
# Build the Linux 6.1 of the hmat61dax boot of scripts/guest-uefi-sp.sh:
# upstream 6.1.176 from Debian's source package, configured with our
# fragment guest/dax/linux-6.1.config on top of allnoconfig, so that the
# dax core is built in (DAX=y) and with it DEV_DAX_HMEM_DEVICES, the code
# through which 6.1 creates a dax device per Soft Reserved range at the
# node of its HMAT target.  Debian's own 6.1 kernels have DAX=m, which
# turns DEV_DAX_HMEM_DEVICES off (drivers/dax/Kconfig).  Leaves
# build/guest/linux61/Image (arm64, uncompressed, with the EFI stub) and
# build/guest/linux61/config, its .config, release (its uname -r) and
# root/lib/modules/RELEASE/ (the built-in drivers, indexed by depmod).
#
# Choices:
#  - Source: linux_6.1.176.orig.tar.xz of Debian's linux 6.1.176-1
#    (bookworm), pinned by sha256 below and fetched by name from
#    the pool directory of Debian's archive: the directory is taken from
#    "apt-get source --print-uris linux" in the project's private apt
#    state (common.sh: fetch_source, apt_private; whatever version the
#    index has), and apt's own helper downloads it and checks the hash.  No archive host is
#    named here.  Once Debian drops this version from its pool, the pins
#    (and perhaps the fragment) move to the next 6.1 tarball.
#  - Debian's patches (linux_6.1.176-1.debian.tar.xz) are not applied.
#    The orig tarball is upstream 6.1.176 minus non-free files; of the 165
#    patches in its debian/patches/series none touches drivers/dax,
#    drivers/acpi/numa, drivers/firmware/efi or mm/memory_hotplug.c: they
#    are Debian's packaging, hardening defaults, lockdown, dfsg removals,
#    other architectures and device-tree/driver backports.  Without them the
#    kernel is plain upstream 6.1.176, so what the guest shows is
#    upstream's behaviour, and no debian tarball or quilt step is needed.
#  - Configuration: make allnoconfig with KCONFIG_ALLCONFIG=the fragment
#    (ARCH=arm64, CROSS_COMPILE=aarch64-linux-gnu-), then every line of
#    the fragment is looked up in the resulting .config; Kconfig silently
#    drops a value whose dependencies are unmet, so any difference fails
#    the build with the list.  No modules (CONFIG_MODULES off): the guest
#    loads nothing.
#  - Build: "make Image" only, out of tree (O=), so the unpacked source
#    stays pristine and is unpacked once per tarball.
#  - Cache ($CACHE/linux61, outside the work tree): src-KEY is the
#    unpacked tarball (1.5 GB; KEY from its sha256); KEY/ holds what
#    build/guest/linux61 gets (and the build log), keyed by the tarball
#    sha256, the fragment, the settings in RECIPE below and the cross
#    compiler's and linker's version lines.  A hit compares one stamp
#    file and returns at once; a miss builds in a scratch object
#    directory, removed afterwards.
#  - The unpack and the compile run under the build lock of common.sh
#    (build_lock): this machine has 2 cores, and one big build at a time.
#  - Measured on 2 cores: 3 min 20 s to 3 min 40 s cold (download 0-2 s
#    here, unpack 8-23 s, configure 4 s, compile 3 to 3.5 min), a hit
#    0.02-0.04 s.
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

LINUX_VERSION=6.1.176
LINUX_ORIG=linux_$LINUX_VERSION.orig.tar.xz
LINUX_ORIG_SHA256=9aad4025973feea3f0d978e82ab7db97d8d5ce3f59fcc6b1f316153d66e3a504
CROSS=aarch64-linux-gnu-
MAKE_ARGS=(ARCH=arm64 "CROSS_COMPILE=$CROSS")
# Everything else that decides the result; bump the number when the way
# of building changes.
RECIPE="2 allnoconfig+fragment ${MAKE_ARGS[*]} Image depmod"

FRAGMENT=$TOP/guest/dax/linux-6.1.config
K_OUT=$BUILD/guest/linux61
K_CACHE=$CACHE/linux61

# The cross compiler is part of the key; without it nothing can be built.
command -v "${CROSS}gcc" >/dev/null || bash "$TOP/scripts/deps.sh"
toolchain="$("${CROSS}gcc" --version | head -1) / $("${CROSS}ld" --version | head -1)"
src_key=$(echo "$LINUX_ORIG_SHA256" | cut -c1-16)
key=$( { echo "$LINUX_ORIG_SHA256"; echo "$RECIPE"; echo "$toolchain"
         cat "$FRAGMENT"; } | sha256sum | cut -c1-16)

# --- cache hit: nothing to do -------------------------------------------------
if [ "$(cat "$K_OUT/.key" 2>/dev/null)" = "$key" ] &&
   [ -s "$K_OUT/Image" ] && [ -s "$K_OUT/config" ]; then
    exit 0
fi

# install_kernel DIR: copy the cached kernel of DIR to build/guest/linux61.
install_kernel() {
    rm -rf "$K_OUT" && mkdir -p "$K_OUT"
    cp -r "$1"/* "$K_OUT/"
    echo "$key" > "$K_OUT/.key"
    echo "build-linux61: ${K_OUT#"$TOP"/}/Image, config (Linux $LINUX_VERSION + ${FRAGMENT#"$TOP"/}, cache $key)"
}
k_dir=$K_CACHE/$key
if [ -s "$k_dir/Image" ] && [ -s "$k_dir/config" ]; then
    install_kernel "$k_dir"
    exit 0
fi

bash "$TOP/scripts/deps.sh"

# --- fetch --------------------------------------------------------------------
fetch_source build-linux61 linux "$LINUX_ORIG:$LINUX_ORIG_SHA256"
mkdir -p "$K_CACHE"

# Unpack and compile: one big build at a time on this machine.  Another
# run may have built this kernel while we waited.
build_lock
if [ -s "$k_dir/Image" ] && [ -s "$k_dir/config" ]; then
    install_kernel "$k_dir"
    exit 0
fi

# --- unpack (once per tarball) ------------------------------------------------
src=$K_CACHE/src-$src_key
if [ ! -f "$src/.sp-mem-ready" ]; then
    t0=$(date +%s)
    echo "build-linux61: unpacking $LINUX_ORIG into $src"
    rm -rf "$src" "$src.tmp"
    mkdir -p "$src.tmp"
    tar -xf "$SRC_CACHE/$LINUX_ORIG" -C "$src.tmp" --strip-components=1
    touch "$src.tmp/.sp-mem-ready"
    mv "$src.tmp" "$src"
    echo "build-linux61: unpacked in $(( $(date +%s) - t0 ))s"
fi

# --- configure ----------------------------------------------------------------
obj=$K_CACHE/obj
rm -rf "$obj"
mkdir -p "$obj"
t0=$(date +%s)
if ! make -C "$src" O="$obj" "${MAKE_ARGS[@]}" KCONFIG_ALLCONFIG="$FRAGMENT" \
        allnoconfig > "$obj/config.log" 2>&1; then
    cat "$obj/config.log" >&2
    echo "build-linux61: allnoconfig with ${FRAGMENT#"$TOP"/} failed" >&2
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
    echo "build-linux61: the final .config does not have these lines of ${FRAGMENT#"$TOP"/}:" >&2
    printf '  %s\n' "${unmet[@]}" >&2
    exit 1
fi
echo "build-linux61: configured in $(( $(date +%s) - t0 ))s (allnoconfig + ${FRAGMENT#"$TOP"/}, every line as asked)"

# --- compile ------------------------------------------------------------------
t0=$(date +%s)
echo "build-linux61: building Image with -j$(nproc), log $obj/build.log"
if ! make -C "$src" O="$obj" "${MAKE_ARGS[@]}" -j"$(nproc)" Image \
        > "$obj/build.log" 2>&1; then
    tail -40 "$obj/build.log" >&2
    echo "build-linux61: kernel build failed (log: $obj/build.log)" >&2
    exit 1
fi
rm -rf "$k_dir.tmp" && mkdir -p "$k_dir.tmp"
cp "$obj/arch/arm64/boot/Image" "$k_dir.tmp/Image"
cp "$obj/.config" "$k_dir.tmp/config"
cp "$obj/include/config/kernel.release" "$k_dir.tmp/release"
cp "$obj/build.log" "$k_dir.tmp/"
# What /lib/modules/RELEASE holds on a system with this kernel (there is
# no modules_install without modules): the list of built-in drivers and
# depmod's index of it, through which libkmod (daxctl's "insert kmem")
# knows that kmem is built in rather than missing.
rel=$(cat "$obj/include/config/kernel.release")
mdir=$k_dir.tmp/root/lib/modules/$rel
mkdir -p "$mdir"
cp "$obj/modules.builtin" "$obj/modules.builtin.modinfo" "$mdir/"
touch "$mdir/modules.order"
/sbin/depmod -b "$k_dir.tmp/root" "$rel"
rm -rf "$k_dir" && mv "$k_dir.tmp" "$k_dir"
rm -rf "$obj"
echo "build-linux61: Image built in $(( $(date +%s) - t0 ))s"
install_kernel "$k_dir"
