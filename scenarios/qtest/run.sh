#!/usr/bin/env bash
# Run qtest binaries against build/qemu-system-aarch64 and count the test
# cases from their TAP output.  Skipped cases are reported as skipped,
# never as passed.  Exit status is non-zero if any case failed or any
# binary exited non-zero.
#
#   scenarios/qtest/run.sh [TEST[:ARGS] ...]
#
# TEST names a binary under build/tests/qtest; ARGS (space separated) are
# extra GLib test arguments, such as "-s /path" to skip a case.  Without
# arguments: the qtests of the test command (qtests.sh here), which
# scripts/check.py builds first.
set -uo pipefail
. "$(dirname "$0")/../../lib/common.sh"
# shellcheck source=scenarios/qtest/qtests.sh
. "$HERE/qtests.sh"
if [ $# = 0 ]; then
    mapfile -t specs < <(qtest_specs $(qtest_all))
    set -- "${specs[@]}"
fi

export QTEST_QEMU_BINARY=$QEMU
export MALLOC_PERTURB_=${MALLOC_PERTURB_:-$((RANDOM % 255 + 1))}
LOGDIR=$BUILD/test-logs/qtest
mkdir -p "$LOGDIR"
# Like "meson test": from the build directory, where tests/data and
# pc-bios/ are found.
cd "$BUILD" || exit 1

pass=0 fail=0 skip=0 bad_bins=()
for spec in "$@"; do
    t=${spec%%:*}
    extra=
    [ "$t" = "$spec" ] || extra=${spec#*:}
    bin=$BUILD/tests/qtest/$t
    log=$LOGDIR/$t.log
    start=$(date +%s)
    # shellcheck disable=SC2086
    "$bin" --tap -k $extra > "$log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    p=$(grep -Ec '^ok [0-9]+' "$log" | tr -d ' ')
    s=$(grep -Ec '^ok [0-9]+.*# SKIP' "$log" | tr -d ' ')
    f=$(grep -Ec '^not ok [0-9]+' "$log" | tr -d ' ')
    p=$((p - s))
    pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
    printf '%-28s %4d passed %3d failed %3d skipped  exit %d  %4ds\n' \
        "$t" "$p" "$f" "$s" "$rc" "$secs"
    if [ "$rc" != 0 ] || [ "$f" != 0 ] || [ $((p + s)) = 0 ]; then
        bad_bins+=("$t")
        grep -E '^not ok|^Bail out|ERROR|assertion|Aborted' "$log" | head -20 | sed 's/^/    /'
        echo "    (full log: $log)"
    fi
    grep -E '^ok [0-9]+.*# SKIP' "$log" | sed 's/^/    /'
done
if [ ${#bad_bins[@]} -gt 0 ]; then
    echo "failing test binaries: ${bad_bins[*]}"
    fail=$((fail > 0 ? fail : ${#bad_bins[@]}))
fi
echo "qtest: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ] && [ ${#bad_bins[@]} = 0 ]
