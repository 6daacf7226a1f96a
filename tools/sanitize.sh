#!/usr/bin/env bash
# The sp-mem qtests (arm-spmem-test and the fuzzer's short set) on an
# emulator built with AddressSanitizer and UndefinedBehaviorSanitizer, in
# build-asan/.  Passes only with zero sanitizer reports.
#
# Choices:
#  - Sanitizer reports go to files (log_path) as well as stderr, and the
#    sanitizers exit with status 99, not 1: the refused-configuration
#    tests expect exit status 1, so a report must not look like a clean
#    refusal.
#  - Leak detection is off: QEMU frees little at exit by design (upstream
#    runs its sanitizer CI the same way); ASan errors and every UBSan
#    "runtime error" count.
#  - Not in the test command (scripts/check.py): a cold build of this variant takes longer
#    than the rest of the test command's budget on 2 cores.
set -uo pipefail
export SPMEM_BUILD=${SPMEM_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build-asan}
. "$(dirname "$0")/../lib/common.sh"
build_lock

TESTS=(arm-spmem-test arm-spmem-fuzz)

qemu_tree || exit 1
mkdir -p "$CCACHE_DIR"
configure_qemu "$QEMU_SRC" "$BUILD" --enable-asan --enable-ubsan || exit 1
# build.ninja as the (possibly changed) meson files make it, before it is
# asked which tests exist.
ninja -C "$BUILD" build.ninja >/dev/null || exit 1
targets=()
for t in "${TESTS[@]}"; do
    grep -q "^build tests/qtest/$t:" "$BUILD/build.ninja" && targets+=("tests/qtest/$t")
done
if [ ${#targets[@]} != ${#TESTS[@]} ]; then
    echo "sanitize: $BUILD declares ${#targets[@]} of the qtests ${TESTS[*]}" >&2
    exit 1
fi
start=$(date +%s)
ninja -C "$BUILD" qemu-system-aarch64 "${targets[@]}" || exit 1
echo "sanitize: build done in $(( $(date +%s) - start ))s"

link_roms "$BUILD"
reports=$BUILD/sanitizer-reports
rm -rf "$reports" && mkdir -p "$reports"
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:exitcode=99:log_path=$reports/asan
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=99:log_path=$reports/ubsan
rc=0
bash "$TOP/scenarios/qtest/run.sh" "${targets[@]#tests/qtest/}" || rc=1
# ASan's one-line warning that it cannot follow QEMU's coroutine stack
# switches (makecontext/swapcontext) is not a report; anything else is.
mapfile -t files < <(grep -lvE 'WARNING: ASan doesn.t fully support makecontext/swapcontext' \
                         "$reports"/* 2>/dev/null)
warned=$(find "$reports" -type f | wc -l)
if [ ${#files[@]} = 0 ] &&
        ! grep -qE 'ERROR: AddressSanitizer|runtime error:' "$BUILD"/test-logs/qtest/*.log; then
    echo "sanitize: 0 sanitizer reports ($warned processes printed only the makecontext warning)"
else
    echo "sanitize: ${#files[@]} sanitizer reports in ${reports#"$TOP"/}:"
    for f in "${files[@]}"; do head -30 "$f"; done
    grep -hE -A10 'ERROR: AddressSanitizer|runtime error:' "$BUILD"/test-logs/qtest/*.log | head -40
    rc=1
fi
echo "sanitize: finished in $(( $(date +%s) - start ))s"
exit $rc
