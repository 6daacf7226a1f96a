#!/usr/bin/env bash
# Run the sp-mem benchmarks (not tests) and write their results.
#
#   bench/run.sh [--quick] [--only "BENCH..."] [--modes M,...] [--reps N]
#                [--results DIR] [--doc]
#   bench/run.sh --report DIR [--doc]
#
# BENCH: build startup memory fwtables guest migration (default: all of
# these), migmodes (every migration mode at 1 and 64 GiB; only when
# named, about 15 minutes).
# --modes     migmodes: only these modes (precopy,multifd,postcopy,
#             mapped-ram,ignore-shared,cpr-transfer,cpr-exec,cpr-reboot).
# --reps      migmodes: repetitions after the warm-up (default 3).
# --quick     few repetitions, for a smoke test (about 3 minutes; the build
#             benchmark only runs with --only build).
# --results   append to DIR instead of a new bench/results/DATE-TIME/.
# --doc       also rewrite the generated table in docs/performance.md.
# --report    only regenerate DIR/summary.md (and with --doc the table)
#             from DIR/raw.jsonl.
#
# Needs the patched emulator: build/qemu-system-aarch64 is built with
# scripts/build.sh when missing.  The bare-metal guest (scripts/build-guest.sh)
# and the firmware stub (bench/fw/firstbyte.S) are built into build/bench/.
# The firmware-table benchmark uses perf uprobes (Debian's linux-perf;
# tracefs is mounted when it is not).
#
# Output: DIR/raw.jsonl (one JSON object per sample), DIR/run.log,
# DIR/machine.txt, DIR/summary.md (medians, spread, ratios, targets).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/../lib/common.sh"

QUICK=0 ONLY= RESULTS= DOC=0 REPORT= MODES= REPS=
while [ $# -gt 0 ]; do
    case $1 in
    --quick) QUICK=1 ;;
    --only) ONLY=$2; shift ;;
    --modes) MODES=$2; shift ;;
    --reps) REPS=$2; shift ;;
    --results) RESULTS=$2; shift ;;
    --doc) DOC=1 ;;
    --report) REPORT=$2; shift ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
docargs=()
[ "$DOC" = 1 ] && docargs=(--doc "$TOP/docs/performance.md")

if [ -n "$REPORT" ]; then
    exec python3 "$BENCH/report.py" "$REPORT" "${docargs[@]}"
fi

if [ -z "$ONLY" ]; then
    ONLY="startup memory fwtables guest migration"
    [ "$QUICK" = 1 ] || ONLY="build $ONLY"
fi
if [ -z "$RESULTS" ]; then
    RESULTS=$BENCH/results/$(date +%Y%m%d-%H%M%S)
    [ "$QUICK" = 1 ] && RESULTS=$RESULTS-quick
fi
mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
exec > >(tee -a "$RESULTS/run.log") 2>&1
echo "bench/run.sh: $ONLY -> $RESULTS (quick=$QUICK)"

# --- what the benchmarks need ----------------------------------------------
[ -x "$QEMU" ] || bash "$TOP/scripts/build.sh"
OUT=$BUILD/bench
mkdir -p "$OUT"
bash "$TOP/scripts/build-guest.sh" >/dev/null || exit 1
# A snapshot of the emulator: a rebuild of build/ during the run must not
# change (or remove) the binary under the benchmarks.
cp "$QEMU" "$OUT/qemu-system-aarch64.new" && mv "$OUT/qemu-system-aarch64.new" "$OUT/qemu-system-aarch64"
BQEMU=$OUT/qemu-system-aarch64
aarch64-linux-gnu-gcc -nostdlib -static -Wl,-Ttext=0 -Wl,--build-id=none \
    -o "$OUT/firstbyte.elf" "$BENCH/fw/firstbyte.S"
aarch64-linux-gnu-objcopy -O binary "$OUT/firstbyte.elf" "$OUT/firstbyte.bin"
case " $ONLY " in
*" fwtables "*)
    command -v perf >/dev/null ||
        { apt-get install -y -q linux-perf >/dev/null 2>&1 || true; }
    mountpoint -q /sys/kernel/tracing ||
        mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true ;;
esac

# --- the machine ---------------------------------------------------------------
{
    echo "date: $(date -Is)"
    echo "nproc: $(nproc)"
    echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1)" \
         "($(lscpu | sed -n 's/^Hypervisor vendor: *//p') guest)"
    echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "kernel: $(uname -r)"
    echo "qemu: $("$BQEMU" --version | head -1) ($QEMU, $(stat -c %y "$QEMU" | cut -d. -f1))"
    echo "commit: $(git -C "$TOP" rev-parse --short HEAD)$(git -C "$TOP" diff --quiet HEAD -- hw include patches || echo ' (hw/include/patches modified in the work tree)')"
    echo "load at start: $(cat /proc/loadavg)"
} >> "$RESULTS/machine.txt"
cat "$RESULTS/machine.txt"

# --- the benchmarks --------------------------------------------------------------
quick=()
[ "$QUICK" = 1 ] && quick=(--quick)
[ -n "$MODES" ] && quick+=(--modes "$MODES")
[ -n "$REPS" ] && quick+=(--reps "$REPS")
for b in $ONLY; do
    echo "=== $b ($(date +%T), load $(cut -d' ' -f1-3 /proc/loadavg))"
    if [ "$b" = build ]; then
        if [ "$QUICK" = 1 ]; then
            bash "$BENCH/build.sh" "$RESULTS/raw.jsonl" --quick
        else
            bash "$BENCH/build.sh" "$RESULTS/raw.jsonl"
            bash "$BENCH/build.sh" "$RESULTS/raw.jsonl" --no-ccache
        fi
    else
        python3 "$BENCH/bench.py" "${quick[@]}" --out "$RESULTS/raw.jsonl" \
            --qemu "$BQEMU" --fw "$OUT/firstbyte.bin" \
            --guest "$BUILD/guest/sp-mem-guest.elf" "$b"
    fi
done
echo "load at end: $(cat /proc/loadavg)" >> "$RESULTS/machine.txt"
ln -sfn "$(basename "$RESULTS")" "$BENCH/results/latest" 2>/dev/null || true
python3 "$BENCH/report.py" "$RESULTS" "${docargs[@]}"
