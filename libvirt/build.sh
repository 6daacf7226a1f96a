#!/usr/bin/env bash
# Build libvirt with our series (libvirt/series) from Debian's source
# package: the QEMU driver, virtqemud, virsh and the unit tests the
# series touches.
#
#   libvirt/build.sh          build (or find in the cache) and install
#   libvirt/build.sh --test   the same, then libvirt's own unit tests of
#                             the parts the series touches (meson test)
#
# Leaves build/libvirt/ (a link to the installed tree in the cache:
# bin/virsh, sbin/virtqemud, the QEMU driver module) and
# build/libvirt-obj (a link to the meson build directory, for the unit
# tests).  Nothing is installed into the machine: the prefix is the
# cache directory, and the libvirt scenario runs the daemon in
# session mode with its own directories.
#
# Choices:
#  - Source: upstream 11.3.0, the orig tarball of Debian's libvirt
#    source package in bookworm-backports (libvirt/pins.sh), fetched by
#    name from the pool directory through the project's private apt
#    state (common.sh: fetch_source).  Its .dsc and debian tarball are
#    not in the archive any more, so Debian's own patches are not
#    applied; the series is written against upstream 11.3.0.
#  - Configuration: libvirt/pins.sh (libvirt_meson_options): the QEMU
#    driver and the remote driver's daemons, no other hypervisor,
#    storage or optional library, tests on.
#  - Cache ($CACHE/libvirt, outside the work tree): src is the unpacked
#    tarball with the series applied, obj the meson build directory
#    (kept: the unit tests run from it), inst the installed tree, each
#    stamped with its KEY (the tarball, the series, the options, RECIPE
#    and the compiler's version).  A hit compares the stamps and returns
#    at once.  The paths stay the same from one series to the next, so
#    after an edit of the series ccache (meson picks it up; common.sh
#    sets its directory) serves every unchanged file.  Unpacking and
#    compiling run under the build lock (2 cores, one big build at a
#    time).
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
HERE=$TOP/libvirt
# shellcheck source=libvirt/pins.sh
. "$HERE/pins.sh"

TEST=0
case ${1:-} in
    --test) TEST=1 ;;
    "") ;;
    *) echo "usage: libvirt/build.sh [--test]" >&2; exit 2 ;;
esac

WHO=libvirt/build.sh
RECIPE="1 meson+ninja+install"
mapfile -t PATCHES < <(sed -e '/^#/d' -e '/^$/d' "$HERE/series")
mapfile -t OPTIONS < <(libvirt_meson_options)
LV_CACHE=$CACHE/libvirt

command -v cc >/dev/null || bash "$TOP/scripts/deps.sh"
series_sum=$( { echo "$LIBVIRT_ORIG_SHA256"
                for p in "${PATCHES[@]}"; do cat "$HERE/$p"; done; } |
              sha256sum | cut -c1-16)
opt_key=$( { echo "$RECIPE"; printf '%s\n' "${OPTIONS[@]}"; cc --version | head -1; } |
          sha256sum | cut -c1-16)
key=$(echo "$series_sum $opt_key" | sha256sum | cut -c1-16)
src=$LV_CACHE/src
obj=$LV_CACHE/obj
inst=$LV_CACHE/inst

link_outputs() {
    mkdir -p "$BUILD"
    ln -sfn "$inst" "$BUILD/libvirt"
    ln -sfn "$obj" "$BUILD/libvirt-obj"
}

# The unit tests of what the series touches: domain XML parsing and
# formatting, XML to QEMU command line, the live and the status XML
# (qemuxmlactivetest: in 11.3.0 it holds the status XML tests that were
# qemustatusxml2xmltest), QEMU capabilities and domain capabilities
# (which read our emulator's capabilities data), the QMP parsers,
# hotplug, and the schemas.
UNIT_TESTS=(qemuxmlconftest qemuxmlactivetest qemucapabilitiestest
            domaincapstest qemumonitorjsontest qemuhotplugtest
            genericxml2xmltest virschematest "qemu replies check")
run_unit_tests() {
    local t0 rc=0
    t0=$(date +%s)
    echo "$WHO: meson test ${UNIT_TESTS[*]} (log ${obj#"$TOP"/}/meson-logs/testlog.txt)"
    meson test -C "$obj" --no-rebuild --print-errorlogs "${UNIT_TESTS[@]}" \
        > "$obj/unit-tests.log" 2>&1 || rc=$?
    grep -E '^ *[0-9]+/[0-9]+ ' "$obj/unit-tests.log" || true
    [ $rc = 0 ] || tail -60 "$obj/unit-tests.log" >&2
    echo "$WHO: unit tests finished in $(( $(date +%s) - t0 ))s"
    # One line for the test command's total: meson's counts (a test that
    # did not run at all, e.g. a name that is not a test, fails).
    awk -v want=${#UNIT_TESTS[@]} -v rc=$rc '
        /^Ok:/ {ok = $2} /^Expected Fail:/ {xf = $3} /^Skipped:/ {sk = $2}
        /^Fail:/ {f += $2} /^Unexpected Pass:/ {f += $3} /^Timeout:/ {f += $2}
        END {
            if (ok + xf + f + sk != want || (rc != 0 && f == 0)) f += 1
            printf "libvirt-unit: %d passed, %d failed, %d skipped\n", ok + xf, f, sk
        }' "$obj/unit-tests.log"
    return $rc
}

# cached: the install and the build directory are of this KEY
cached() {
    [ "$(cat "$inst/.sp-mem-key" 2>/dev/null)" = "$key" ] &&
    [ -x "$inst/sbin/virtqemud" ] &&
    [ "$(cat "$obj/.sp-mem-built" 2>/dev/null)" = "$key" ]
}
if cached; then
    link_outputs
    [ $TEST = 0 ] || run_unit_tests
    exit
fi

bash "$TOP/scripts/deps.sh"
fetch_source "$WHO" libvirt "$LIBVIRT_ORIG:$LIBVIRT_ORIG_SHA256"
mkdir -p "$LV_CACHE"

build_lock
# Another run (the test command's background build) may have built it
# while we waited.
if cached; then
    link_outputs
    [ $TEST = 0 ] || run_unit_tests
    exit
fi
t_all=$(date +%s)

# --- unpack and patch (once per tarball and series) ---------------------------
if [ "$(cat "$src/.sp-mem-ready" 2>/dev/null)" != "$series_sum" ]; then
    t0=$(date +%s)
    echo "$WHO: unpacking $LIBVIRT_ORIG into $src"
    rm -rf "$src" "$src.tmp" "$inst"
    mkdir -p "$src.tmp"
    # --touch: every file newer than the build directory's outputs, so
    # ninja recompiles them all (ccache answers for the unchanged ones).
    tar -xf "$SRC_CACHE/$LIBVIRT_ORIG" -C "$src.tmp" --strip-components=1 \
        --no-same-owner --touch
    for p in "${PATCHES[@]}"; do
        if ! patch -d "$src.tmp" -p1 -s --no-backup-if-mismatch < "$HERE/$p"; then
            echo "$WHO: libvirt/$p does not apply to $LIBVIRT_VERSION" >&2
            exit 1
        fi
    done
    echo "$series_sum" > "$src.tmp/.sp-mem-ready"
    mv "$src.tmp" "$src"
    echo "$WHO: unpacked and patched (${#PATCHES[@]} patches) in $(( $(date +%s) - t0 ))s"
fi

# --- configure, build, install --------------------------------------------------
# A build directory of other options is configured afresh.
if [ "$(cat "$obj/.sp-mem-options" 2>/dev/null)" != "$opt_key" ] ||
   [ ! -f "$obj/build.ninja" ]; then
    rm -rf "$obj"
    if ! meson setup "$obj" "$src" --prefix="$inst" "${OPTIONS[@]}" \
            > "$LV_CACHE/setup.log" 2>&1; then
        tail -30 "$LV_CACHE/setup.log" >&2
        echo "$WHO: meson setup failed (log $LV_CACHE/setup.log)" >&2
        exit 1
    fi
    echo "$opt_key" > "$obj/.sp-mem-options"
fi
rm -f "$obj/.sp-mem-built"
t0=$(date +%s)
echo "$WHO: building with -j$(nproc), log $obj/build.log"
if ! ninja -C "$obj" -j"$(nproc)" > "$obj/build.log" 2>&1; then
    grep -A20 FAILED "$obj/build.log" | head -60 >&2 || tail -40 "$obj/build.log" >&2
    echo "$WHO: libvirt build failed (log $obj/build.log)" >&2
    exit 1
fi
echo "$WHO: built in $(( $(date +%s) - t0 ))s"
rm -rf "$inst"
if ! meson install -C "$obj" --no-rebuild --quiet > "$obj/install.log" 2>&1; then
    tail -20 "$obj/install.log" >&2
    echo "$WHO: meson install failed (log $obj/install.log)" >&2
    exit 1
fi
echo "$key" > "$obj/.sp-mem-built"
echo "$key" > "$inst/.sp-mem-key"
link_outputs
echo "$WHO: ${BUILD#"$TOP"/}/libvirt -> $inst (libvirt $LIBVIRT_VERSION + ${#PATCHES[@]} patches, $(( $(date +%s) - t_all ))s)"
[ $TEST = 0 ] || run_unit_tests
