#!/usr/bin/env bash
# The long run of the sp-mem configuration fuzzer (tests/qtest/arm-spmem-fuzz.c):
#
#   tools/fuzz.sh [COUNT [SEED]]
#
# runs COUNT (default 2000) random machine configurations of seed SEED
# (default 0x53504d45, the fuzzer's own default) against
# build/qemu-system-aarch64, prints the totals and exits non-zero if any
# configuration failed.  Each failure is printed with its index and full
# command line; replay one with
#
#   SPMEM_FUZZ_SEED=SEED SPMEM_FUZZ_INDEX=N build/tests/qtest/arm-spmem-fuzz
#
# (from build/, with QTEST_QEMU_BINARY=./qemu-system-aarch64).  Set
# SPMEM_FUZZ_BUILD=0 to use the binaries as they are.  The whole log is in
# build/test-logs/arm-spmem-fuzz-SEED-COUNT.log.
set -uo pipefail
. "$(dirname "$0")/../lib/common.sh"

COUNT=${1:-2000}
SEED=${2:-0x53504d45}
BIN=$BUILD/tests/qtest/arm-spmem-fuzz

if [ "${SPMEM_FUZZ_BUILD:-1}" != 0 ]; then
    bash "$TOP/scripts/build.sh" tests/qtest/arm-spmem-fuzz || exit 1
fi
[ -x "$BIN" ] || { echo "fuzz: $BIN is missing" >&2; exit 1; }

LOGDIR=$BUILD/test-logs
mkdir -p "$LOGDIR"
log=$LOGDIR/arm-spmem-fuzz-$SEED-$COUNT.log
cd "$BUILD" || exit 1
echo "fuzz: $COUNT configurations, seed $SEED (log: $log)"
start=$(date +%s)
QTEST_QEMU_BINARY=./qemu-system-aarch64 SPMEM_FUZZ_COUNT=$COUNT \
    SPMEM_FUZZ_SEED=$SEED "$BIN" --tap -k > "$log" 2>&1
rc=$?
secs=$(( $(date +%s) - start ))

# The failures, each with its command line, then the totals.
grep -E '^# config [0-9]+: ' "$log"
grep -E '^# (sp-mem fuzz|distinct refusal|  +[0-9]+  )' "$log"
echo "fuzz: exit status $rc after ${secs}s"
if [ "$rc" != 0 ] || ! grep -q '^ok 1 ' "$log"; then
    grep -E 'Bail out|ERROR|assertion' "$log" | head -5
    echo "fuzz: FAILED"
    exit 1
fi
echo "fuzz: passed"
