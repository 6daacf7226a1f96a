#!/usr/bin/env bash
# Build the UEFI firmware of the sp-mem guests: EDK2's ArmVirtQemu
# (AARCH64, RELEASE, GCC5) from Debian's edk2 source package, built the way
# Debian builds its AAVMF_CODE.fd, plus our patch series in edk2/
# (every /reserved-memory child compatible with "special-purpose" becomes
# EFI_MEMORY_SP memory).  Leaves build/firmware/AAVMF_CODE.fd (padded to
# 64 MiB like Debian's) and build/firmware/AAVMF_VARS.fd.
#
# Choices:
#  - Source: edk2 2025.02-8+deb13u1 (trixie).  Its .dsc is not downloadable
#    here (404) and no configured index lists this version, so the orig and
#    debian tarballs are pinned by sha256 below and fetched by name from the
#    pool directory of Debian's archive: the directory is taken from
#    "apt-get source --print-uris edk2" in the project's private apt
#    state (common.sh: fetch_source, apt_private; whatever version the
#    index has), and apt's own helper downloads and checks the hash.
#    No archive host is named here.
#  - Unpack: the orig tarball, Debian's debian/ directory, and
#    debian/patches/series applied with patch(1) (what dpkg-source would
#    do; Debian's patches drop the BrotliCompress tool whose sources the
#    orig tarball strips).
#  - Flags: Debian's for AAVMF_CODE.fd (= AAVMF_CODE.no-secboot.fd):
#    COMMON_FLAGS (CC measurement, HTTP boot, IPv6, TLS, vendor, version
#    and date PCDs) and PcdUninstallMemAttrProtocol=TRUE.  The version
#    string says "+sp-mem" so that a log tells the two builds apart.
#  - Cache ($CACHE/edk2, outside the work tree): src-KEY is the unpacked,
#    Debian-patched tree with BaseTools built, keyed by the two tarball
#    checksums; fw-KEY holds the two images, keyed by those, our patches
#    and the build recipe (RECIPE below, bump it when the flags change).
#    A cache hit compares one stamp file and returns at once; a miss
#    copies src-KEY to a scratch tree, applies our series there and runs
#    EDK2's build (the cached tree is never modified).
#  - Own lock ($CACHE/edk2.lock), not QEMU's build lock: EDK2 builds do
#    not touch qemu-src/, but two guest scripts may ask at the same time.
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

EDK2_VERSION=2025.02-8+deb13u1
EDK2_ORIG=edk2_2025.02.orig.tar.xz
EDK2_DEBTAR=edk2_2025.02-8+deb13u1.debian.tar.xz
EDK2_ORIG_SHA256=b63b6053d6d89c74d9291f9e96fde1584be99e6fb9c169ba9511505129d6b049
EDK2_DEB_SHA256=e2a7f6fc58640818416a028d6d5e9dfc255697a7cdc60c14566c236df6bd9b08
RECIPE=1

FW_PATCHES=$TOP/edk2
FW_OUT=$BUILD/firmware
EDK2_CACHE=$CACHE/edk2

src_key=$(echo "$EDK2_ORIG_SHA256 $EDK2_DEB_SHA256" | sha256sum | cut -c1-16)
series() { sed -e '/^#/d' -e '/^$/d' "$FW_PATCHES/series"; }
fw_key=$( { echo "$src_key recipe $RECIPE"
            (cd "$FW_PATCHES" && cat series $(series)); } | sha256sum | cut -c1-16)

# --- cache hit: nothing to do -------------------------------------------------
if [ "$(cat "$FW_OUT/.key" 2>/dev/null)" = "$fw_key" ] &&
   [ -s "$FW_OUT/AAVMF_CODE.fd" ] && [ -s "$FW_OUT/AAVMF_VARS.fd" ]; then
    exit 0
fi

mkdir -p "$EDK2_CACHE"
exec 9>"$CACHE/edk2.lock"
if ! flock -n 9; then
    echo "edk2/build.sh: waiting for another firmware build to finish"
    flock 9
fi

# install_images DIR: copy the cached images of DIR to build/firmware.
install_images() {
    mkdir -p "$FW_OUT"
    rm -f "$FW_OUT/.key"
    cp --sparse=always "$1/AAVMF_CODE.fd" "$1/AAVMF_VARS.fd" "$FW_OUT/"
    echo "$fw_key" > "$FW_OUT/.key"
    echo "edk2/build.sh: ${FW_OUT#"$TOP"/}/AAVMF_CODE.fd, AAVMF_VARS.fd (EDK2 $EDK2_VERSION + edk2/series, cache fw-$fw_key)"
}

fw_dir=$EDK2_CACHE/fw-$fw_key
if [ -s "$fw_dir/AAVMF_CODE.fd" ] && [ -s "$fw_dir/AAVMF_VARS.fd" ]; then
    install_images "$fw_dir"
    exit 0
fi

bash "$TOP/scripts/deps.sh"

# --- fetch --------------------------------------------------------------------
fetch_source edk2/build.sh edk2 "$EDK2_ORIG:$EDK2_ORIG_SHA256" \
    "$EDK2_DEBTAR:$EDK2_DEB_SHA256"

# --- unpack, Debian's patches, BaseTools (once per source) --------------------
src=$EDK2_CACHE/src-$src_key
if [ ! -f "$src/.sp-mem-ready" ]; then
    t0=$(date +%s)
    echo "edk2/build.sh: unpacking edk2 $EDK2_VERSION and building BaseTools"
    rm -rf "$src" "$src.tmp"
    mkdir -p "$src.tmp"
    tar -xf "$SRC_CACHE/$EDK2_ORIG" -C "$src.tmp" --strip-components=1
    tar -xf "$SRC_CACHE/$EDK2_DEBTAR" -C "$src.tmp"
    (cd "$src.tmp" &&
     sed -e '/^#/d' -e '/^$/d' debian/patches/series | while read -r p; do
         patch -p1 -s -N --no-backup-if-mismatch < "debian/patches/$p" ||
             { echo "edk2/build.sh: Debian patch $p does not apply" >&2; exit 1; }
     done)
    # BaseTools as debian/rules builds them, and the LTO stub library the
    # GCC5 AARCH64 link needs (debian/rules: liblto-aarch64.a).
    # edksetup.sh is not written for "set -u".
    (set +u && cd "$src.tmp" && unset WORKSPACE EDK_TOOLS_PATH CONF_PATH PACKAGES_PATH &&
     export PYTHON_COMMAND=/usr/bin/python3 && . ./edksetup.sh >/dev/null &&
     make -C BaseTools -j"$(nproc)" > basetools.log 2>&1 &&
     aarch64-linux-gnu-gcc -c -fpic BaseTools/Bin/GccLto/liblto-aarch64.s \
         -o BaseTools/Bin/GccLto/liblto-aarch64.a) ||
        { tail -30 "$src.tmp/basetools.log" >&2; exit 1; }
    # edksetup.sh records the tree's path there; each copy makes its own.
    rm -f "$src.tmp/Conf/BuildEnv.sh"
    touch "$src.tmp/.sp-mem-ready"
    mv "$src.tmp" "$src"
    echo "edk2/build.sh: BaseTools built in $(( $(date +%s) - t0 ))s"
fi

# --- our series and ArmVirtQemu -----------------------------------------------
t0=$(date +%s)
work=$EDK2_CACHE/work
rm -rf "$work"
cp -a "$src" "$work"
(cd "$work" && series | while read -r p; do
     patch -p1 -s -N --no-backup-if-mismatch < "$FW_PATCHES/$p" ||
         { echo "edk2/build.sh: edk2/$p does not apply" >&2; exit 1; }
 done)

# Passed as debian/rules passes them (L and the text, unquoted: build
# quotes a value that starts with L itself).
date_str=$(date -u -d "$(dpkg-parsechangelog -l "$work/debian/changelog" -SDate)" +%m/%d/%Y)
flags=(-DCC_MEASUREMENT_ENABLE=TRUE -DNETWORK_HTTP_BOOT_ENABLE=TRUE
       -DNETWORK_IP6_ENABLE=TRUE -DNETWORK_TLS_ENABLE
       --pcd 'PcdFirmwareVendor=LDebian distribution of EDK II\0'
       --pcd "PcdFirmwareVersionString=L$EDK2_VERSION+sp-mem\\0"
       --pcd "PcdFirmwareReleaseDateString=L$date_str\\0"
       --pcd PcdUninstallMemAttrProtocol=TRUE)
echo "edk2/build.sh: building ArmVirtQemu (AARCH64 RELEASE GCC5), log ${work}/build.log"
if ! (set +u && cd "$work" && unset WORKSPACE EDK_TOOLS_PATH CONF_PATH PACKAGES_PATH ELF_PACKAGE_METADATA &&
      export GCC5_AARCH64_PREFIX=aarch64-linux-gnu- PYTHON3_ENABLE=TRUE \
             PYTHON_COMMAND=/usr/bin/python3 &&
      . ./edksetup.sh >/dev/null &&
      build -a AARCH64 -t GCC5 -b RELEASE -n "$(nproc)" \
          -p ArmVirtPkg/ArmVirtQemu.dsc "${flags[@]}") > "$work/build.log" 2>&1; then
    tail -40 "$work/build.log" >&2
    echo "edk2/build.sh: EDK2 build failed (log: $work/build.log)" >&2
    exit 1
fi
fv=$work/Build/ArmVirtQemu-AARCH64/RELEASE_GCC5/FV
rm -rf "$fw_dir.tmp" && mkdir -p "$fw_dir.tmp"
cp "$fv/QEMU_EFI.fd" "$fw_dir.tmp/AAVMF_CODE.fd"
cp "$fv/QEMU_VARS.fd" "$fw_dir.tmp/AAVMF_VARS.fd"
# QEMU's virt wants 64 MiB flash images (debian/rules does the same).
truncate -s 64M "$fw_dir.tmp/AAVMF_CODE.fd" "$fw_dir.tmp/AAVMF_VARS.fd"
cp "$work/build.log" "$fw_dir.tmp/"
rm -rf "$fw_dir" && mv "$fw_dir.tmp" "$fw_dir"
rm -rf "$work"
echo "edk2/build.sh: ArmVirtQemu built in $(( $(date +%s) - t0 ))s"
install_images "$fw_dir"
