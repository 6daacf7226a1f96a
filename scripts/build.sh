#!/usr/bin/env bash
# deps -> fetch -> prepare -> configure (once) -> incremental ninja build.
# Extra arguments are additional ninja targets.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
build_lock

qemu_tree || exit 1

mkdir -p "$CCACHE_DIR"
ccache -M 5G >/dev/null

configure_qemu "$QEMU_SRC" "$BUILD"
ninja -C "$BUILD" qemu-system-aarch64 "$@"
link_firmware "$BUILD"
