#!/usr/bin/env bash
# Build the unpatched emulator (same source, same configuration, no patch
# series, none of our files) into pristine/build/, for the tests that
# compare machines without sp-mem against upstream byte for byte.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
build_lock

bash "$TOP/scripts/prepare.sh"   # makes sure qemu-src/ has the pristine tag

if [ "$(cat "$PRISTINE_SRC/.sp-mem-pristine" 2>/dev/null)" != "$QEMU_DEB_VERSION" ]; then
    echo "build-pristine: exporting the unpatched tree to $PRISTINE_SRC"
    rm -rf "$PRISTINE_SRC" "$PRISTINE_BUILD"
    mkdir -p "$PRISTINE_SRC"
    git -C "$QEMU_SRC" archive pristine | tar -x -C "$PRISTINE_SRC"
    echo "$QEMU_DEB_VERSION" > "$PRISTINE_SRC/.sp-mem-pristine"
fi
configure_qemu "$PRISTINE_SRC" "$PRISTINE_BUILD"
ninja -C "$PRISTINE_BUILD" qemu-system-aarch64 "$@"
link_firmware "$PRISTINE_BUILD"
