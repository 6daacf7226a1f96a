#!/usr/bin/env bash
# The test command: set up and build (incrementally), then run every test.
# The last line is the total: "N passed, N failed, N skipped".
set -euo pipefail
. "$(dirname "$0")/common.sh"

# Our test, then the upstream aarch64 qtests that cover what the series
# touches (see README.md for why these and not the others).
OURS=(arm-spmem-test)
UPSTREAM=(qmp-cmd-test qmp-test device-introspect-test numa-test
          boot-serial-test cxl-test arm-cpu-features machine-none-test
          test-hmp)
# Boards whose boot ROMs no Debian package ships: test-hmp cannot start them.
NO_ROM_BOARDS=(ast2700a0-evb ast2700a1-evb ast2700fc npcm845-evb)

start=$(date +%s)
targets=()
for t in "${OURS[@]}" "${UPSTREAM[@]}"; do
    targets+=("tests/qtest/$t")
done
bash "$TOP/scripts/build.sh" "${targets[@]}"
echo "check: build done in $(( $(date +%s) - start ))s"

# Option ROMs missing from the +ds source, from Debian's packages.
datadir=$BUILD/qemu-bundle/usr/local/share/qemu
mkdir -p "$datadir"
for f in /usr/lib/ipxe/qemu/efi-*.rom /usr/share/qemu/npcm7xx_bootrom.bin \
         /usr/share/seabios/vgabios-*.bin; do
    [ -e "$datadir/${f##*/}" ] || ln -s "$f" "$datadir/"
done

hmp="test-hmp:-m quick"
for b in "${NO_ROM_BOARDS[@]}"; do
    hmp="$hmp -s /aarch64/hmp/$b"
done

specs=("${OURS[@]}" "${UPSTREAM[@]/test-hmp/$hmp}")
rc=0
bash "$TOP/scripts/run-qtests.sh" "${specs[@]}" | tee "$BUILD/test-logs/summary.txt" || rc=1
echo "check: finished in $(( $(date +%s) - start ))s"
tail -n 1 "$BUILD/test-logs/summary.txt" | sed 's/^qtest: //'
exit $rc
