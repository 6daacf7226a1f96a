#!/usr/bin/env bash
# Build the bare-metal reference guest (scenarios/baremetal/guest) into
# build/guest/sp-mem-guest.elf, with Debian's libfdt-dev:arm64 unpacked
# (not installed) into build/guest/libfdt.  The baremetal, migration,
# migration-modes and libvirt scenarios boot it, and so does bench/.
# The compiler's output is in build/guest/build.log (the baremetal
# scenario requires it to have no warning).
set -uo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

GUEST_BUILD=$BUILD/guest
LIBFDT_DIR=$GUEST_BUILD/libfdt

bash "$TOP/scripts/deps.sh" >/dev/null || exit 1
if ! guest_unpack libfdt-dev "$LIBFDT_DIR" ||
   [ ! -f "$LIBFDT_DIR/usr/lib/aarch64-linux-gnu/libfdt.a" ]; then
    echo "build-guest: fetch and unpack libfdt-dev:arm64 failed" >&2
    exit 1
fi
mkdir -p "$GUEST_BUILD"
if ! make -s -C "$TOP/scenarios/baremetal/guest" O="$GUEST_BUILD" \
        LIBFDT="$LIBFDT_DIR" > "$GUEST_BUILD/build.log" 2>&1; then
    cat "$GUEST_BUILD/build.log" >&2
    echo "build-guest: make failed" >&2
    exit 1
fi
echo "build-guest: $GUEST_BUILD/sp-mem-guest.elf"
