#!/usr/bin/env bash
# Export the series (tools/export-series.py) and walk it: apply each
# patch with "git am" on the pristine tree, build, and run the test
# command's qtests that the tree has at that point.  Passes only if every
# patch applies, builds and leaves those qtests passing (bisectable).
#
#   tools/walk-series.sh [FIRST]     (start at patch number FIRST)
#
# Choices:
#  - The walk tree is .walk/qemu-src with its build in .walk/build: the
#    same relative layout as qemu-src/ and build/, so ccache (whose base
#    directory is the project) serves the objects that did not change.
#  - The qtests and their arguments are those of the qtest scenario
#    (scenarios/qtest/qtests.sh).  A patch that touches only docs/ and
#    MAINTAINERS is built, but its qtests, those of the patch before,
#    are not run again.
#  - With FIRST, the patches before it are applied without building or
#    testing them (to resume a walk that failed late).
#  - The build lock (one QEMU build at a time) is taken for each build,
#    not for the whole walk, so other builds can run during its tests.
#  - Not in the test command: a walk takes about 40 minutes on two cores.
set -uo pipefail
export SPMEM_BUILD=${SPMEM_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/.walk/build}
# shellcheck source=lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=scenarios/qtest/qtests.sh
. "$TOP/scenarios/qtest/qtests.sh"

FIRST=${1:-1}
WALK=$(dirname "$BUILD")
SRC=$WALK/qemu-src
OUT=$TOP/series
start=$(date +%s)

qemu_tree || exit 1
python3 "$TOP/tools/export-series.py" "$OUT" || exit 1

rm -rf "$SRC"
mkdir -p "$WALK"
git clone -q --shared --no-checkout "$QEMU_SRC" "$SRC" || exit 1
G() { git -C "$SRC" -c user.name=sp-mem -c user.email=sp-mem@localhost "$@"; }
G checkout -q -B walk pristine || exit 1
# The build lock is held for each build, not for the tests between them.
locked() { (build_lock; "$@"); }
locked configure_qemu "$SRC" "$BUILD" || exit 1

# The base the series is for, the stand-in for upstream's device
# (series/base), applied unbuilt; then the standalone fixes (series/fix)
# and the arm series, each built and tested.
for p in $(find "$OUT/base" -name '[0-9]*.patch' | sort); do
    G am -q "$p" || { echo "walk: base patch ${p#"$OUT"/} does not apply"; G am --abort; exit 1; }
done
mapfile -t patches < <(find "$OUT/fix" -name '[0-9]*.patch' | sort;
                       find "$OUT" -maxdepth 1 -name '[0-9]*.patch' ! -name '0000-*' | sort)
n=${#patches[@]}
fail=0
for i in "${!patches[@]}"; do
    p=${patches[$i]}
    k=$((i + 1))
    subject=$(sed -n 's/^Subject: \[PATCH[^]]*\] //p' "$p")
    G am -q "$p" || { echo "walk: $k/$n does not apply: $subject"; G am --abort; exit 1; }
    [ "$k" -lt "$FIRST" ] && [ "$k" -lt "$n" ] && continue
    t0=$(date +%s)
    # build.ninja first: the patch may have changed the meson files.
    locked ninja -C "$BUILD" build.ninja > "$BUILD/walk-build.log" 2>&1
    mapfile -t targets < <(qtest_targets "$BUILD")
    if ! locked ninja -C "$BUILD" qemu-system-aarch64 "${targets[@]}" >> "$BUILD/walk-build.log" 2>&1; then
        tail -30 "$BUILD/walk-build.log"
        echo "walk: $k/$n FAILED to build: $subject"
        exit 1
    fi
    t1=$(date +%s)
    if git -C "$SRC" diff-tree --no-commit-id --name-only -r HEAD |
            grep -qv '^docs/\|^MAINTAINERS$'; then
        link_firmware "$BUILD"
        mapfile -t specs < <(qtest_specs "${targets[@]}")
        if out=$(bash "$TOP/scenarios/qtest/run.sh" "${specs[@]}" 2>&1); then
            res=$(tail -1 <<< "$out")
        else
            echo "$out"
            res="FAILED: $(tail -1 <<< "$out")"
            fail=1
        fi
    else
        res="documentation only, qtests not re-run"
    fi
    echo "walk: $k/$n $subject: build $((t1 - t0))s, $res ($(( $(date +%s) - t1 ))s)"
    [ $fail = 0 ] || { echo "walk: FAILED at patch $k"; exit 1; }
done
echo "walk: all $n patches apply with git am, build and pass their qtests" \
     "($(( $(date +%s) - start ))s)"
