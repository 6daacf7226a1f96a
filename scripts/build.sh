#!/usr/bin/env bash
# deps -> fetch -> prepare -> configure (once) -> incremental ninja build.
# Extra arguments are additional ninja targets.
set -euo pipefail
. "$(dirname "$0")/common.sh"
build_lock

bash "$TOP/scripts/deps.sh"
bash "$TOP/scripts/fetch.sh"
bash "$TOP/scripts/prepare.sh"

mkdir -p "$CCACHE_DIR"
ccache -M 5G >/dev/null

configure_qemu "$QEMU_SRC" "$BUILD"
ninja -C "$BUILD" qemu-system-aarch64 "$@"
