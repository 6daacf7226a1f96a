#!/usr/bin/env bash
# The test command: set up and build (incrementally, also the unpatched
# emulator that byte-identity checks compare against), then run every test.
# The last line is the total: "N passed, N failed, N skipped".
set -uo pipefail
. "$(dirname "$0")/common.sh"
# shellcheck source=scripts/qtests.sh
. "$(dirname "$0")/qtests.sh"

start=$(date +%s)
targets=()
for t in "${QTESTS_OURS[@]}" "${QTESTS_UPSTREAM[@]}"; do
    targets+=("tests/qtest/$t")
done
bash "$TOP/scripts/build.sh" "${targets[@]}" || exit 1
bash "$TOP/scripts/build-pristine.sh" tests/qtest/bios-tables-test || exit 1
echo "check: builds done in $(( $(date +%s) - start ))s"

# The guests' builds (our EDK2, the two kernels, libvirt) start now in
# the background at the lowest priority, in the order the tests below
# need them: until the firmware and kernel tests come, the tests use
# about one of the two cores, and a cold cache needs half an hour of
# these builds. Each test script still calls its build script, which
# waits for the other one's lock and then finds the result in the cache
# (or builds it, if the background build failed: its log tells why).
mkdir -p "$BUILD/test-logs"
prebuild_log=$BUILD/test-logs/prebuild.log
(
    t0=$(date +%s)
    for b in "edk2/build.sh" "linux/build.sh 6.1" "linux/build.sh 7.2" "libvirt/build.sh"; do
        t=$(date +%s)
        # shellcheck disable=SC2086   # the script and its argument
        nice -n 19 bash "$TOP"/$b || echo "check: background $b failed"
        echo "check: background $b: $(( $(date +%s) - t ))s"
    done
    echo "check: background builds finished after $(( $(date +%s) - t0 ))s"
) > "$prebuild_log" 2>&1 &
prebuild_pid=$!

for b in "$BUILD" "$PRISTINE_BUILD"; do
    link_firmware "$b"
done
mapfile -t specs < <(qtest_specs "${targets[@]}")

summary=$BUILD/test-logs/summary.txt
rc=0
bash "$TOP/scripts/run-qtests.sh" "${specs[@]}" | tee "$summary" || rc=1
echo
bash "$TOP/scripts/test-dt.sh" | tee -a "$summary" || rc=1
echo
bash "$TOP/scripts/test-acpi-baseline.sh" "${BTT_BASELINE_FAILURES[@]}" |
    tee -a "$summary" || rc=1
echo
bash "$TOP/scripts/guest-baremetal.sh" | tee -a "$summary" || rc=1
echo
# Migration (file, live TCP, mismatching destinations) of the bare-metal
# guest guest-baremetal.sh built, in its writer mode.
migwork=$(mktemp -d)
python3 "$TOP/scripts/test-migration.py" "$QEMU" "$BUILD/guest/sp-mem-guest.elf" \
    "$migwork" | tee -a "$summary" || rc=1
rm -rf "$migwork"
echo
# The same guest in every other migration mode: multifd, postcopy,
# mapped-ram, x-ignore-shared, cpr-transfer, cpr-exec, cpr-reboot.
migwork=$(mktemp -d)
python3 "$TOP/scripts/test-migration-modes.py" "$QEMU" \
    "$BUILD/guest/sp-mem-guest.elf" "$migwork" | tee -a "$summary" || rc=1
rm -rf "$migwork"
echo
bash "$TOP/scripts/guest-linux-dt.sh" | tee -a "$summary" || rc=1
echo
bash "$TOP/scripts/guest-uboot.sh" | tee -a "$summary" || rc=1
echo
bash "$TOP/scripts/guest-uefi-acpi.sh" | tee -a "$summary" || rc=1
echo
# Our EDK2 build (edk2/build.sh, cached): Soft Reserved + dax.
bash "$TOP/scripts/guest-uefi-sp.sh" | tee -a "$summary" || rc=1
echo
# Xen 4.17 and 4.20 with a dom0; Xen 4.20 with a dom0less domain.
bash "$TOP/scripts/guest-xen.sh" | tee -a "$summary" || rc=1
echo
bash "$TOP/scripts/guest-xen-dom0less.sh" | tee -a "$summary" || rc=1
echo
# Our Linux series (linux/, built by linux/build.sh 7.2, cached) on every
# boot path: Soft Reserved, dax devices on their nodes, daxctl.
bash "$TOP/scripts/guest-linux-sp.sh" | tee -a "$summary" || rc=1
echo
# Our libvirt series (libvirt/, built by libvirt/build.sh, cached):
# libvirt's own unit tests of what it touches, then a domain with two
# sp-mem devices through our virtqemud (private session daemons),
# hotplug refused, live migration to a second virtqemud.
bash "$TOP/libvirt/build.sh" --test | tee -a "$summary" || rc=1
echo
bash "$TOP/scripts/guest-libvirt.sh" | tee -a "$summary" || rc=1
echo
# QEMU's manuals with the sp-mem page, Sphinx with -W (log in test-logs/).
bash "$TOP/scripts/docs.sh" > "$BUILD/test-logs/docs.log" 2>&1
docs_rc=$?
tail -2 "$BUILD/test-logs/docs.log"
if [ $docs_rc = 0 ]; then
    echo "docs: 1 passed, 0 failed" | tee -a "$summary"
else
    echo "docs: 0 passed, 1 failed" | tee -a "$summary"
    rc=1
fi

wait "$prebuild_pid"
grep '^check: background' "$prebuild_log"
echo
echo "check: finished in $(( $(date +%s) - start ))s"
awk '/^(qtest|dt|acpi|migration|docs|libvirt-unit|guest-[a-z0-9-]+): [0-9]+ passed, [0-9]+ failed/ {
         p += $2; f += $4; if ($6 != "") s += $6
     }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$summary"
exit $rc
