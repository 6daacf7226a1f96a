# Shared settings for the sp-mem-arm scripts.  Sourced, not run.
# shellcheck shell=bash

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

QEMU_DEB_VERSION=1:10.2.2+ds-1
DSC=qemu_10.2.2+ds-1.dsc
ORIG=qemu_10.2.2+ds.orig.tar.xz
DEBTAR=qemu_10.2.2+ds-1.debian.tar.xz
DSC_SHA256=f1684b3aa5ec500c3389d346c6501dee45041ea91656c6556d4da9023b7987dd
ORIG_SHA256=be05230fe47a6937cd29f28f562932c8125f9c93c2a82c625198f7a4aa601dfb
DEB_SHA256=ddf75aceab4f8f77374f3cb34fc97b41514895aeb293ce8b2ddd5e072bb0f5c0

CACHE=${SPMEM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sp-mem-arm}
SRC_CACHE=$CACHE/src

# The unpacked, patched QEMU tree and the build directory (both ignored).
QEMU_SRC=$TOP/qemu-src
BUILD=$TOP/build
QEMU=$BUILD/qemu-system-aarch64

# Our files, laid over the upstream tree at the same paths.
OVERLAY_DIRS="hw include tests docs"

export CCACHE_DIR=${CCACHE_DIR:-$CACHE/ccache}
