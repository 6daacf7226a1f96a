#!/usr/bin/env bash
# deps -> fetch -> prepare -> configure (once) -> incremental ninja build.
# Extra arguments are additional ninja targets.
set -euo pipefail
. "$(dirname "$0")/common.sh"

bash "$TOP/scripts/deps.sh"
bash "$TOP/scripts/fetch.sh"
bash "$TOP/scripts/prepare.sh"

mkdir -p "$CCACHE_DIR"
ccache -M 5G >/dev/null

if [ ! -f "$BUILD/build.ninja" ]; then
    echo "build: configuring in $BUILD"
    mkdir -p "$BUILD"
    (cd "$BUILD" && "$QEMU_SRC/configure" \
        --python=/usr/bin/python3 \
        --target-list=aarch64-softmmu \
        --without-default-features \
        --enable-fdt=system \
        --disable-docs --disable-user --disable-tools \
        --disable-install-blobs) > "$BUILD/configure.log" 2>&1 ||
        { tail -30 "$BUILD/configure.log" >&2; rm -f "$BUILD/build.ninja"; exit 1; }
fi
ninja -C "$BUILD" qemu-system-aarch64 "$@"
