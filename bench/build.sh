#!/usr/bin/env bash
# Build benchmark: fresh set-up to built emulator in a fresh clone, and
# rebuilds after touching / editing hw/mem/sp-mem.c there.
#
#   bench/build.sh OUT.jsonl [--no-ccache] [--quick]
#
# Appends one JSON object per measurement to OUT.jsonl.  The clone is
# made from the repository this script is in (its committed HEAD), at
# ${BENCH_CLONE_DIR:-/tmp}/spmem-benchclone[-nocc]; the emulator is built
# with that clone's scripts/build.sh, which uses the shared ccache
# (~/.cache/sp-mem-arm/ccache) unless --no-ccache (CCACHE_DISABLE=1).
#
# One QEMU build at a time runs on this machine: build.sh takes the lock
# ~/.cache/sp-mem-arm/build.lock.  The time spent waiting for it is not
# measured: we wait until the lock is free before starting the clock,
# and a run in which build.sh still had to wait is marked "contended"
# (and repeated once).  A clone whose build.sh predates the lock is run
# under the lock taken here.
#
# --quick: only the rebuilds (needs an existing clone with a build).
set -uo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$BENCH/.." && pwd)
OUT=$1; shift
NOCC=0 QUICK=0
for a in "$@"; do
    case $a in
    --no-ccache) NOCC=1 ;;
    --quick) QUICK=1 ;;
    *) echo "bench/build.sh: unknown option $a" >&2; exit 2 ;;
    esac
done
CACHE=${SPMEM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sp-mem-arm}
LOCK=$CACHE/build.lock
CLONE=${BENCH_CLONE_DIR:-/tmp}/spmem-benchclone
[ "$NOCC" = 1 ] && CLONE=$CLONE-nocc
LOGDIR=$(dirname "$OUT")/build-logs
mkdir -p "$LOGDIR" "$CACHE"

now() { date +%s.%N; }

# wait_lock: block until no QEMU build holds the lock (then release it).
wait_lock() { flock "$LOCK" true; }

# timed NAME: run the clone's scripts/build.sh, append a JSON record.
timed() {
    local name=$1 log=$LOGDIR/$1.log t0 t1 rc contended=false own_lock=0 try
    grep -q build_lock "$CLONE/scripts/build.sh" || own_lock=1
    for try in 1 2; do
        local load0 load1 steps
        wait_lock
        load0=$(cut -d' ' -f1-3 /proc/loadavg)
        t0=$(now)
        if [ "$own_lock" = 1 ]; then
            (cd "$CLONE" && flock "$LOCK" bash scripts/build.sh) > "$log" 2>&1
        else
            (cd "$CLONE" && bash scripts/build.sh) > "$log" 2>&1
        fi
        rc=$?
        t1=$(now)
        load1=$(cut -d' ' -f1-3 /proc/loadavg)
        contended=false
        grep -q 'waiting for another QEMU build' "$log" && contended=true
        [ "$contended" = false ] && break
    done
    steps=$(grep -cE '^\[[0-9]+/[0-9]+\]' "$log")
    python3 - "$OUT" "$name" "$t0" "$t1" "$rc" "$contended" "$load0" "$load1" \
        "$steps" "$NOCC" "$CLONE" <<'PY'
import json, sys
out, name, t0, t1, rc, cont, l0, l1, steps, nocc, clone = sys.argv[1:]
rec = {"bench": "build", "case": name, "seconds": round(float(t1) - float(t0), 2),
       "rc": int(rc), "contended": cont == "true", "load_start": l0, "load_end": l1,
       "ninja_steps": int(steps), "ccache": nocc != "1", "clone": clone}
open(out, "a").write(json.dumps(rec) + "\n")
print("build %-22s %8.1f s  rc=%s steps=%s contended=%s load %s -> %s"
      % (name, rec["seconds"], rc, steps, cont, l0, l1))
PY
}

suffix=
[ "$NOCC" = 1 ] && { export CCACHE_DISABLE=1; suffix=-noccache; }

if [ "$QUICK" = 0 ] || [ ! -x "$CLONE/build/qemu-system-aarch64" ]; then
    rm -rf "$CLONE"
    git clone -q "$TOP" "$CLONE" || exit 1
    # The project's scripts find shared/ beside the work tree.
    [ -e "$(dirname "$CLONE")/shared" ] || [ ! -d "$TOP/../shared" ] ||
        ln -s "$(cd "$TOP/../shared" && pwd)" "$(dirname "$CLONE")/shared"
    timed "fresh$suffix"
fi
touch "$CLONE/hw/mem/sp-mem.c"
timed "touch-sp-mem.c$suffix"
echo "/* bench $(date +%s%N) */" >> "$CLONE/hw/mem/sp-mem.c"
timed "edit-sp-mem.c$suffix"
(cd "$CLONE" && git checkout -q hw/mem/sp-mem.c)
