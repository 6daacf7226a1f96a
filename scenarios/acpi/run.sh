#!/usr/bin/env bash
# bios-tables-test cases that fail with Debian's AAVMF on the unpatched
# build as well (firmware-allocated buffer addresses end up in the tables).
# Run each on both builds and require that exactly the same tables
# mismatch their expected files, and that each mismatching table the
# patched emulator produced is byte-identical to the unpatched emulator's.
# Together with the expected files every other table is compared against,
# that keeps all tables of these machines byte-identical to upstream.
# Last line: "acpi: N passed, N failed".
#
#   scenarios/acpi/run.sh [CASE...]    ("" is /aarch64/acpi/virt)
#
# Without arguments: the cases the qtest scenario leaves out for this
# reason (BTT_BASELINE_FAILURES in scenarios/qtest/qtests.sh).
set -uo pipefail
. "$(dirname "$0")/../../lib/common.sh"
# shellcheck source=scenarios/qtest/qtests.sh
. "$TOP/scenarios/qtest/qtests.sh"
[ $# -gt 0 ] || set -- "${BTT_BASELINE_FAILURES[@]}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# mismatches BUILD CASE: "TABLE ACTUAL-AML-FILE" per mismatching table
mismatches() {
    local b=${1#"$TOP"/} log
    log=$BUILD/test-logs/acpi/${2//\//_}-${b//\//_}.log
    # The test aborts before its own clean-up; its files stay in $tmp.
    (cd "$1" && TMPDIR=$tmp QTEST_QEMU_BINARY=./qemu-system-aarch64 \
        exec tests/qtest/bios-tables-test --tap -k -p "$2") > "$log" 2>&1
    sed -n 's/^acpi-test: Warning! \([A-Z0-9]*\) binary file mismatch\. Actual \[aml:\([^]]*\)\].*/\1 \2/p' \
        "$log" | sort
}

mkdir -p "$BUILD/test-logs/acpi"
for c in "$@"; do
    p=/aarch64/acpi/virt${c:+/$c}
    ours=$(mismatches "$BUILD" "$p")
    theirs=$(mismatches "$PRISTINE_BUILD" "$p")
    if [ -z "$theirs" ] || [ "$(cut -d' ' -f1 <<<"$ours")" != "$(cut -d' ' -f1 <<<"$theirs")" ]; then
        bad "$p: mismatching tables [$(cut -d' ' -f1 <<<"$ours" | xargs)]," \
            "unpatched build [$(cut -d' ' -f1 <<<"$theirs" | xargs)]"
    else
        while read -r t a; read -r _ b <&3; do
            if cmp -s "$a" "$b"; then
                ok "$p: $t is the unpatched build's, byte for byte"
            else
                bad "$p: $t differs from the unpatched build's"
            fi
        done <<<"$ours" 3<<<"$theirs"
    fi
done
[ $((pass + fail)) -gt 0 ] || bad "no bios-tables-test case compared"
finish
