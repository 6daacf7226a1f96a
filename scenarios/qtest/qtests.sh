# The qtests of the test command, shared by its qtest scenario (run.sh
# here), scripts/check.py (which builds them) and tools/walk-series.sh.
# Sourced, not run.
# shellcheck shell=bash

# Ours, then the upstream aarch64 qtests that cover what the series
# touches (see README.md for why these and not the others).
QTESTS_OURS=(arm-spmem-test arm-spmem-fuzz)
QTESTS_UPSTREAM=(qmp-cmd-test qmp-test device-introspect-test numa-test
                 boot-serial-test cxl-test arm-cpu-features machine-none-test
                 bios-tables-test test-hmp)
# Boards whose boot ROMs no Debian package ships: test-hmp cannot start them.
NO_ROM_BOARDS=(ast2700a0-evb ast2700a1-evb ast2700fc npcm845-evb)
# bios-tables-test cases that fail on the unpatched build too, because
# Debian's AAVMF places firmware-allocated buffers whose addresses end up in
# HEST and the NVDIMM SSDT elsewhere than QEMU's EDK2 does.  They run in
# test-acpi-baseline.sh instead, which requires the same mismatches as the
# unpatched build and nothing else.
BTT_BASELINE_FAILURES=("" memhp)

# qtest_all: the ninja targets of all of them (scripts/check.py builds them).
qtest_all() {
    printf 'tests/qtest/%s\n' "${QTESTS_OURS[@]}" "${QTESTS_UPSTREAM[@]}"
}

# qtest_targets BUILD: the ninja targets of those qtests that BUILD's
# tree declares (an earlier patch of the series may not have ours yet).
qtest_targets() {
    local t
    for t in "${QTESTS_OURS[@]}" "${QTESTS_UPSTREAM[@]}"; do
        if grep -q "^build tests/qtest/$t:" "$1/build.ninja"; then
            echo "tests/qtest/$t"
        fi
    done
}

# qtest_specs TARGET...: the arguments of run.sh here for them.
qtest_specs() {
    local t b hmp="test-hmp:-m quick" btt="bios-tables-test:" c
    for b in "${NO_ROM_BOARDS[@]}"; do
        hmp="$hmp -s /aarch64/hmp/$b"
    done
    for c in "${BTT_BASELINE_FAILURES[@]}"; do
        btt="$btt -s /aarch64/acpi/virt${c:+/$c}"
    done
    for t in "$@"; do
        case ${t#tests/qtest/} in
        test-hmp) echo "$hmp" ;;
        bios-tables-test) echo "$btt" ;;
        *) echo "${t#tests/qtest/}" ;;
        esac
    done
}

