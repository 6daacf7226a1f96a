#!/usr/bin/env bash
# sp-mem under libvirt: the bare-metal reference guest (scenarios/baremetal/guest)
# in a libvirt domain with two <memory model='sp-mem'> devices, run by
# private virtqemud daemons, live-migrated from one daemon to another.
# Needs build/qemu-system-aarch64 (scripts/build.sh), the guest
# build/guest/sp-mem-guest.elf (scripts/build-guest.sh; SPMEM_GUEST_ELF
# names another) and a libvirt install in LIBVIRT (default
# build/libvirt: bin/virsh, sbin/virtqemud); builds nothing.
# Last line: "libvirt: N passed, N failed".
#
# Choices:
#  - Nothing is installed or started for the machine: two virtqemud
#    ("src" and "dst") run in session mode, each with its own HOME and
#    XDG_{CONFIG,CACHE,RUNTIME}_HOME in a temporary directory, its own
#    virtqemud.conf (-f; a host_uuid of its own, which libvirt's
#    same-host migration check needs) and qemu.conf (stdio_handler =
#    "file": QEMU's output goes to the domain log without virtlogd).
#    As root, virtqemud would be the system daemon; under "unshare -U"
#    (a user namespace with no uid mapping) geteuid() is 65534, so it is
#    a session daemon, while its file accesses are still root's.  virsh
#    connects with qemu+unix:///session?socket=..., so nothing is
#    auto-spawned; its own HOME/XDG dirs are private too.  Afterwards
#    the script checks that no process of its own is left and that
#    /etc, /run, /var/lib, /var/log, /var/cache libvirt and root's own
#    libvirt dirs were neither created nor changed.
#  - The domain: type qemu, machine virt, cortex-a57, 2 vCPUs, the ELF as
#    <kernel> with <cmdline>sp-mem-writer</cmdline> (the guest reports its
#    ranges, then rewrites them forever), serial to a file, 1 GiB on NUMA
#    cell 0, cells 1 and 2 with memory='0', <maxMemory slots='4'> 4 GiB,
#    and the sp-mem devices of DEVS below on file backends with
#    access='shared'; the host block of each file is filled with the host
#    pattern of the baremetal scenario (lib/spmem.py) before start.
#  - Two modes, chosen by what the libvirt in LIBVIRT does with the
#    domain XML (virsh define accepts it, or LIBVIRT_SPMEM_MODE=native|
#    passthrough):
#      native       the devices and memory-less cells as libvirt XML.
#      passthrough  for a libvirt without the series: the same machine
#                   with the sp-mem objects/devices and nodes 1 and 2 as
#                   <qemu:commandline> arguments, so that everything that
#                   does not need libvirt's sp-mem support (daemons,
#                   lifecycle, serial log, migration, byte comparison,
#                   cleanup) runs; the checks of the support itself
#                   (memory='0' cells, dumpxml addresses, generated
#                   -object/-device, attach/detach refusal) are skipped,
#                   and one FAIL says that the support is missing.
#  - Migration: virsh migrate --live --suspend to the dst daemon while
#    the guest writes, over --migrateuri tcp://127.0.0.1:PORT.  The
#    destination gets its own backend files and serial file (--xml with
#    the paths changed): two QEMUs mapping the same share=on files would
#    compare a file with itself.  With --suspend the destination does not
#    run after the switch-over, so its files hold exactly what arrived,
#    and the source's files (MAP_SHARED) what the source's memory held
#    when it stopped: the two are compared byte for byte (cmp), and so is
#    a pmemsave dump of each range from the destination's guest-physical
#    memory.  The source files must hold the writer's pattern
#    (pattern_ok() of lib/spmem.py, every 4 KiB block of
#    every PATTERN_STRIDE bytes, default 1 MiB; 0 = every word, about
#    20 s more), so a comparison of zeros cannot pass.  Then the
#    destination is resumed and must go on writing.
set -uo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/../../lib/common.sh"

T0=$(date +%s)
BUILD=$(realpath -m "$BUILD")
QEMU=$BUILD/qemu-system-aarch64
LIBVIRT=$(realpath -m "${LIBVIRT:-$BUILD/libvirt}")
ELF=$(realpath -m "${SPMEM_GUEST_ELF:-$BUILD/guest/sp-mem-guest.elf}")
OUT=$BUILD/guest/libvirt
HELPER=$HERE/libvirt-run.py
PATTERN_STRIDE=${PATTERN_STRIDE:-0x100000}
DOM=spmem-lv
TIMEOUT=60

# The devices: backend file, size, node, the address the XML gives ('-':
# none, QEMU chooses) and the address expected (device memory starts at
# 0x80000000 above 1 GiB of RAM; devices are placed in order).
DEVS=(hbm0 hbm1)
declare -A MIB=([hbm0]=64 [hbm1]=32) NODE=([hbm0]=1 [hbm1]=2)
declare -A XADDR=([hbm0]=- [hbm1]=0x84000000)
declare -A ADDR=([hbm0]=0x80000000 [hbm1]=0x84000000)

lv() { "$HELPER" "$@"; }

for f in "$LIBVIRT/bin/virsh" "$LIBVIRT/sbin/virtqemud" "$QEMU"; do
    [ -x "$f" ] || { bad "no $f (LIBVIRT=$LIBVIRT; QEMU: scripts/build.sh)"; finish; }
done
[ -f "$ELF" ] || { bad "no $ELF: run scripts/build-guest.sh first"; finish; }

echo "libvirt: $LIBVIRT ($("$LIBVIRT/sbin/virtqemud" --version 2>/dev/null))"

# --- what this script must leave alone -------------------------------------
MACHINE_DIRS=(/etc/libvirt /run/libvirt /var/lib/libvirt /var/log/libvirt
              /var/cache/libvirt "/run/user/$(id -u)/libvirt"
              "$HOME/.config/libvirt" "$HOME/.cache/libvirt"
              "$HOME/.local/share/libvirt"
              "$LIBVIRT/etc" "$LIBVIRT/var")     # the install's system dirs
machine_state() {
    local d
    for d in "${MACHINE_DIRS[@]}"; do
        if [ -e "$d" ]; then
            find "$d" -printf '%p %y %s %T@\n' 2>/dev/null | sort
        else
            echo "$d absent"
        fi
    done
}
machine_before=$(machine_state)

W=$(mktemp -d /tmp/guest-libvirt.XXXXXX)
FILES=$W/files
mkdir -p "$FILES" "$W/client" "$OUT"
declare -A DPID=()

# our_pids: processes whose command line names the work directory (the
# daemons and the QEMUs they started), one pid a line.
our_pids() { pgrep -f -- "$W/"; }

# stop_all: the QEMUs (by the pid files of the daemons), then the
# daemons (by the pids we started), each by its id.
stop_all() {
    local n f p i
    for f in "$W"/*/run/libvirt/qemu/run/*.pid; do
        [ -f "$f" ] || continue
        p=$(cat "$f")
        # (driver.pid there is the daemon's own lock: only QEMUs here.)
        if [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$QEMU" ] &&
           tr '\0' ' ' 2>/dev/null < "/proc/$p/cmdline" | grep -qF "$W/"; then
            kill -KILL "$p" 2>/dev/null
        fi
    done
    for n in "${!DPID[@]}"; do
        kill -TERM "${DPID[$n]}" 2>/dev/null
        # Until it is gone or a zombie (bash reaps it in wait).
        for i in $(seq 100); do
            grep -qs '^[0-9]* ([^)]*) [^Z]' "/proc/${DPID[$n]}/stat" || break
            sleep 0.1
        done
        if [ "$i" = 100 ]; then
            echo "$n: virtqemud still running 10 s after SIGTERM, killed"
            kill -KILL "${DPID[$n]}" 2>/dev/null
        fi
        wait "${DPID[$n]}" 2>/dev/null
        unset "DPID[$n]"
    done
}
# shellcheck disable=SC2317   # run by the trap
cleanup() {
    stop_all
    rm -rf "$W"
}
trap cleanup EXIT

# --- daemons -----------------------------------------------------------------
uri() { echo "qemu+unix:///session?socket=$W/$1/run/libvirt/virtqemud-sock"; }
denv() {    # denv DIR: the environment of a daemon or client
    echo PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$1/home" \
         XDG_CONFIG_HOME="$1/config" XDG_CACHE_HOME="$1/cache" \
         XDG_RUNTIME_DIR="$1/run"
}
# vsh NAME ARG...: virsh on daemon NAME.
vsh() {
    local n=$1
    shift
    # shellcheck disable=SC2046
    env -i $(denv "$W/client") "$LIBVIRT/bin/virsh" -q -c "$(uri "$n")" "$@"
}

# start_daemon NAME HOST_UUID
start_daemon() {
    local n=$1 d=$W/$1 i
    mkdir -p "$d/home" "$d/config/libvirt" "$d/cache" "$d/run"
    chmod 700 "$d/run"
    cat > "$d/virtqemud.conf" <<EOF
host_uuid = "$2"
log_outputs = "3:file:$d/virtqemud.log"
EOF
    cat > "$d/config/libvirt/qemu.conf" <<EOF
stdio_handler = "file"
security_driver = "none"
EOF
    # shellcheck disable=SC2046
    (cd "$d" && exec unshare -U env -i $(denv "$d") \
        "$LIBVIRT/sbin/virtqemud" -f "$d/virtqemud.conf") \
        > "$d/daemon.out" 2>&1 &
    DPID[$n]=$!
    for i in $(seq 200); do
        [ -S "$d/run/libvirt/virtqemud-sock" ] && break
        kill -0 "${DPID[$n]}" 2>/dev/null || break
        sleep 0.1
    done
    local uuid
    uuid=$(vsh "$n" capabilities 2>&1 | sed -n 's|.*<uuid>\(.*\)</uuid>.*|\1|p' | head -1)
    if [ "$uuid" = "$2" ] && [ "$(vsh "$n" uri 2>&1)" = "$(uri "$n")" ]; then
        ok "$n: virtqemud pid ${DPID[$n]} in session mode (socket $d/run/libvirt/virtqemud-sock, host uuid $uuid)"
    else
        bad "$n: daemon did not answer: $(cat "$d/daemon.out" "$d/virtqemud.log" 2>/dev/null | tail -5)"
        finish
    fi
}

# --- helpers -----------------------------------------------------------------
# generation FILE: the writer generation the serial FILE shows last.
generation() {
    tr -d '\r' < "$1" 2>/dev/null | sed -n 's/^sp-mem-guest: writer generation //p' | tail -1 | grep . || echo 0
}
# wait_gen FILE N [TIMEOUT]: until the writer is at generation N.
wait_gen() {
    local i
    for i in $(seq $((${3:-$TIMEOUT} * 10))); do
        [ "$(generation "$1")" -ge "$2" ] && return 0
        sleep 0.1
    done
    return 1
}
state() { vsh "$1" domstate "$2" 2>&1 | head -1; }

# memory_devices NAME: "addr node size" of each sp-mem device, from HMP.
memory_devices() {
    vsh "$1" qemu-monitor-command --hmp "$DOM" 'info memory-devices' 2>&1 | tr -d '\r' |
        awk '/^Memory device \[/ {sp = ($3 == "[sp-mem]:")}
             sp && $1 == "addr:" {a = $2} sp && $1 == "node:" {n = $2}
             sp && $1 == "size:" {print a, n, $2}' | sort
}
want_devices() {
    local d
    for d in "${DEVS[@]}"; do
        echo "${ADDR[$d]} ${NODE[$d]} $((MIB[$d] << 20))"
    done | sort
}

# check_live_xml XML DEV SUFFIX TAG: the live XML has device DEV on its
# backend file (DEV SUFFIX.img), size, node and expected address.
check_live_xml() {
    local d=$2 want got
    want="path=$FILES/$d$3.img size=$((MIB[$d] << 20)) node=${NODE[$d]} base=${ADDR[$d]}"
    # (Not "lv ... | grep -q": grep's early exit would make the pipeline
    # fail under pipefail.)
    got=$(lv spmem-xml "$1")
    if grep -q "^$want " <<< "$got"; then
        ok "$4: $d ($d$3.img) at <address base='${ADDR[$d]}'/> on node ${NODE[$d]}"
    else
        bad "$4: no sp-mem '$want': $(paste -sd';' <<< "$got")"
    fi
}

# spmem_xml PATH SIZE_MIB NODE ADDR|-
spmem_xml() {
    local addr=
    [ "$4" = - ] || addr="<address base='$4'/>"
    cat <<EOF
    <memory model='sp-mem' access='shared'>
      <source><path>$1</path></source>
      <target><size unit='MiB'>$2</size><node>$3</node>$addr</target>
    </memory>
EOF
}

# domain_xml NAME KIND CMDLINE: KIND native (sp-mem devices and
# memory-less cells in libvirt's XML), passthrough (the same through
# <qemu:commandline>), nomem (memory-less cells, no sp-mem).
domain_xml() {
    local name=$1 kind=$2 d ns=
    [ "$kind" = passthrough ] && ns=" xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'"
    cat <<EOF
<domain type='qemu'$ns>
  <name>$name</name>
  <maxMemory slots='4' unit='GiB'>4</maxMemory>
  <memory unit='GiB'>1</memory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='aarch64' machine='virt'>hvm</type>
    <kernel>$ELF</kernel>
    <cmdline>$3</cmdline>
  </os>
  <cpu mode='custom' match='exact' check='none'>
    <model fallback='forbid'>cortex-a57</model>
    <numa>
      <cell id='0' cpus='0-1' memory='1' unit='GiB'/>
EOF
    if [ "$kind" != passthrough ]; then
        echo "      <cell id='1' memory='0' unit='KiB'/>"
        echo "      <cell id='2' memory='0' unit='KiB'/>"
    fi
    cat <<EOF
    </numa>
  </cpu>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$QEMU</emulator>
    <serial type='file'>
      <source path='$W/$name.serial'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
EOF
    if [ "$kind" = native ]; then
        for d in "${DEVS[@]}"; do
            spmem_xml "$FILES/$d.img" "${MIB[$d]}" "${NODE[$d]}" "${XADDR[$d]}"
        done
    fi
    echo "  </devices>"
    if [ "$kind" = passthrough ]; then
        echo "  <qemu:commandline>"
        # shellcheck disable=SC2054   # commas inside option values
        local args=(-numa node,nodeid=1 -numa node,nodeid=2) i=0 a
        for d in "${DEVS[@]}"; do
            a=
            [ "${XADDR[$d]}" = - ] || a=",addr=${XADDR[$d]}"
            args+=(-object "memory-backend-file,id=hsp$i,size=$((MIB[$d] << 20)),mem-path=$FILES/$d.img,share=on"
                   -device "sp-mem,id=sp$i,memdev=hsp$i,node=${NODE[$d]}$a")
            i=$((i + 1))
        done
        for a in "${args[@]}"; do
            echo "    <qemu:arg value='$a'/>"
        done
        echo "  </qemu:commandline>"
    fi
    echo "</domain>"
}

# ============================================================================
start_daemon src 5350d3e3-0000-4000-8000-000000000001
start_daemon dst 5350d3e3-0000-4000-8000-000000000002

# Does this libvirt know <memory model='sp-mem'>?
domain_xml "$DOM" native sp-mem-writer > "$W/native.xml"
probe=$(vsh src define "$W/native.xml" 2>&1)
probe_rc=$?
vsh src undefine "$DOM" > /dev/null 2>&1
MODE=${LIBVIRT_SPMEM_MODE:-$([ $probe_rc = 0 ] && echo native || echo passthrough)}
echo "mode: $MODE (define of the sp-mem domain XML: rc $probe_rc)"
if [ "$MODE" = passthrough ]; then
    echo "  ${probe//$'\n'/$'\n'  }"
    bad "libvirt at $LIBVIRT refuses <memory model='sp-mem'> (native checks skipped; the machine runs through <qemu:commandline>)"
fi

# --- 1. NUMA cells without memory, no sp-mem ---------------------------------
# The guest finds no sp-mem, prints "0 devices" and powers off.
domain_xml spmem-nomem nomem "" > "$W/nomem.xml"
nomem_out=$(vsh src define "$W/nomem.xml" 2>&1)
nomem_rc=$?
echo "  define, cells 1 and 2 memory='0': rc $nomem_rc: $nomem_out"
nomem_start=
if [ $nomem_rc = 0 ]; then
    echo "  dumpxml: $(vsh src dumpxml spmem-nomem | grep '<cell ' | sed 's/^ *//' | paste -sd' ')"
    nomem_start=$(vsh src start spmem-nomem 2>&1)
    nomem_rc=$?
    echo "  start: rc $nomem_rc: $nomem_start"
    for i in $(seq $((TIMEOUT * 10))); do
        [ "$(state src spmem-nomem)" = "shut off" ] && break
        sleep 0.1
    done
    lv cmdline "$W/src/cache/libvirt/qemu/log/spmem-nomem.log" > "$W/nomem.cmdline" 2>&1
    echo "  generated: $(awk 'p == "-numa" || p == "-object" {print p, $0} {p = $0}' "$W/nomem.cmdline" |
                         grep -v secret | paste -sd' ')"
fi
if [ "$MODE" = native ]; then
    if [ $nomem_rc = 0 ] &&
       tr -d '\r' < "$W/spmem-nomem.serial" 2>/dev/null | grep -qx 'sp-mem-guest: 0 devices, 0 errors' &&
       [ "$(state src spmem-nomem)" = "shut off" ]; then
        ok "memory-less cells: defined, started, the guest found no sp-mem and powered off"
    else
        bad "memory-less cells: rc $nomem_rc: $nomem_out $nomem_start; state '$(state src spmem-nomem)', serial: $(tr -d '\r' < "$W/spmem-nomem.serial" 2>/dev/null)"
    fi
else
    skip "memory-less NUMA cells: libvirt without the sp-mem series (what it did is above)"
fi
vsh src undefine spmem-nomem > /dev/null 2>&1

# --- 2. the domain with two sp-mem devices -----------------------------------
for d in "${DEVS[@]}"; do
    truncate -s "${MIB[$d]}M" "$FILES/$d.img"
    lv fill-host "$FILES/$d.img" "${ADDR[$d]}" $((MIB[$d] << 20)) "${NODE[$d]}"
done
if [ "$MODE" = passthrough ]; then
    domain_xml "$DOM" passthrough sp-mem-writer > "$W/domain.xml"
else
    cp "$W/native.xml" "$W/domain.xml"
fi
cp "$W/domain.xml" "$OUT/domain-$MODE.xml"
SERIAL=$W/$DOM.serial

if out=$(vsh src define "$W/domain.xml" 2>&1) && out=$(vsh src start "$DOM" 2>&1); then
    ok "define + start $DOM ($MODE)"
else
    bad "define/start $DOM: $out"
    tail -20 "$W/src/cache/libvirt/qemu/log/$DOM.log" 2>/dev/null
    finish
fi
QPID_SRC=$(cat "$W/src/run/libvirt/qemu/run/$DOM.pid" 2>/dev/null)

# The guest's report, then the writer.
wait_gen "$SERIAL" 2
tr -d '\r' < "$SERIAL" | grep -v 'writer generation' | sed 's/^/  serial: /'
for d in "${DEVS[@]}"; do
    line="addr=${ADDR[$d]} size=$(printf 0x%x $((MIB[$d] << 20))) node=${NODE[$d]} nomem-overlap=ok host-pattern=ok pattern=ok"
    if tr -d '\r' < "$SERIAL" | grep -qE "^sp-mem [0-9]+ $line\$"; then
        ok "guest: $d reported: $line"
    else
        bad "guest: no line 'sp-mem <n> $line'"
    fi
done
if tr -d '\r' < "$SERIAL" | grep -qx 'sp-mem-guest: 2 devices, 0 errors' &&
   [ "$(generation "$SERIAL")" -ge 2 ]; then
    ok "guest: 2 devices, 0 errors; writer at generation $(generation "$SERIAL")"
else
    bad "guest: no '2 devices, 0 errors' or no writer: $(tr -d '\r' < "$SERIAL" | tail -3)"
fi

# Where QEMU put them.
got=$(memory_devices src)
if [ "$got" = "$(want_devices)" ]; then
    ok "info memory-devices: sp-mem at $(echo "$got" | awk '{printf "%s%s (node %s, %s bytes)", (NR > 1 ? ", " : ""), $1, $2, $3}')"
else
    bad "info memory-devices: '$got', want '$(want_devices)'"
fi

# The running domain's XML and the command line libvirt generated.
vsh src dumpxml "$DOM" > "$W/live.xml" 2>&1
cp "$W/live.xml" "$OUT/live-$MODE.xml"
LOG=$W/src/cache/libvirt/qemu/log/$DOM.log
lv cmdline "$LOG" > "$W/cmdline" 2>&1
cp "$W/cmdline" "$OUT/qemu-cmdline-$MODE.txt"
echo "  QEMU command line (libvirt $MODE, also in $OUT/qemu-cmdline-$MODE.txt):"
awk '/^-/ && l {print l; l = ""} {l = l (l ? " " : "") $0} END {print l}' "$W/cmdline" |
    sed 's/^/    /'
if [ "$MODE" = native ]; then
    for d in "${DEVS[@]}"; do
        check_live_xml "$W/live.xml" "$d" "" dumpxml
        a=
        [ "${XADDR[$d]}" = - ] || a=$((XADDR[$d]))
        # shellcheck disable=SC2086
        if msg=$(lv check-cmdline "$W/cmdline" "$FILES/$d.img" $((MIB[$d] << 20)) "${NODE[$d]}" $a); then
            ok "command line: $d: $(echo "$msg" | paste -sd' ')"
        else
            bad "command line: $d: $msg"
        fi
    done
else
    skip "dumpxml addresses and generated -object/-device: libvirt without the sp-mem series"
fi

# What the guest wrote, seen in the backend files (domain paused while
# they are read, so that no word is read half-written).
vsh src suspend "$DOM" > /dev/null
gen=$(generation "$SERIAL")
for d in "${DEVS[@]}"; do
    if msg=$(lv check-writer "$FILES/$d.img" "${ADDR[$d]}" $((MIB[$d] << 20)) "${NODE[$d]}" "$gen" "$PATTERN_STRIDE"); then
        ok "host: $d.img holds the writer's pattern: $msg"
    else
        bad "host: $d.img: $msg"
    fi
done
vsh src resume "$DOM" > /dev/null

# --- 3. hotplug is refused, the guest runs on ----------------------------------
if [ "$MODE" = native ]; then
    truncate -s 16M "$FILES/hbm2.img"
    spmem_xml "$FILES/hbm2.img" 16 1 - > "$W/attach.xml"
    spmem_xml "$FILES/hbm0.img" "${MIB[hbm0]}" "${NODE[hbm0]}" "${XADDR[hbm0]}" > "$W/detach.xml"
    for op in attach detach; do
        g=$(generation "$SERIAL")
        out=$(vsh src "$op-device" "$DOM" "$W/$op.xml" --live 2>&1)
        rc=$?
        # Refused by the hotplug code, not by the XML parser.
        if [ $rc != 0 ] && echo "$out" | grep -q 'sp-mem' &&
           ! echo "$out" | grep -q 'Invalid value for attribute' &&
           [ "$(state src "$DOM")" = running ] && wait_gen "$SERIAL" $((g + 1)) 30 &&
           [ "$(memory_devices src)" = "$(want_devices)" ]; then
            ok "$op-device refused ($(echo "$out" | paste -sd' ')); domain running, writer at generation $(generation "$SERIAL"), the 2 devices unchanged"
        else
            bad "$op-device: rc $rc: $out; state $(state src "$DOM"), generation $(generation "$SERIAL") (was $g), devices $(memory_devices src | paste -sd,)"
        fi
    done
else
    skip "attach/detach-device refusal: libvirt without the sp-mem series"
fi

# --- 4. live migration to the second daemon ---------------------------------
vsh src dumpxml --migratable "$DOM" |
    sed -e "s|$FILES/\(hbm[0-9]\)\.img|$FILES/\1-dst.img|g" \
        -e "s|$SERIAL|$W/$DOM-dst.serial|" > "$W/dst.xml"
for d in "${DEVS[@]}"; do
    truncate -s "${MIB[$d]}M" "$FILES/$d-dst.img"
done
port=$(lv free-port)
vsh src migrate-setmaxdowntime "$DOM" 2000 > /dev/null 2>&1
g0=$(generation "$SERIAL")
t=$(date +%s%N)
out=$(vsh src migrate --live --suspend --persistent --xml "$W/dst.xml" \
          --persistent-xml "$W/dst.xml" --migrateuri "tcp://127.0.0.1:$port" \
          --timeout 60 --timeout-suspend "$DOM" "$(uri dst)" 2>&1)
rc=$?
secs=$(awk -v t="$(( $(date +%s%N) - t ))" 'BEGIN {printf "%.1f", t / 1e9}')
g1=$(generation "$SERIAL")
if [ $rc = 0 ]; then
    ok "virsh migrate --live to dst in ${secs}s while the guest wrote generations $g0..$g1; src '$(state src "$DOM")', dst '$(state dst "$DOM")'"
else
    bad "virsh migrate: rc $rc: $out"
    tail -5 "$W/src/virtqemud.log" "$W/dst/virtqemud.log" "$W/dst/cache/libvirt/qemu/log/$DOM.log" 2>/dev/null
    finish
fi
[ "$g1" -gt "$g0" ] || bad "the guest did not write during the migration ($g0..$g1)"
if [ -n "$QPID_SRC" ] && [ ! -e "/proc/$QPID_SRC" ] && [ "$(state src "$DOM")" = "shut off" ]; then
    ok "source QEMU (pid $QPID_SRC) gone, the source domain shut off"
else
    bad "source after migration: state '$(state src "$DOM")', QEMU pid $QPID_SRC $( [ -e "/proc/$QPID_SRC" ] && echo alive)"
fi
vsh dst dumpxml "$DOM" > "$W/live-dst.xml" 2>&1
if [ "$MODE" = native ]; then
    for d in "${DEVS[@]}"; do
        check_live_xml "$W/live-dst.xml" "$d" -dst "dst dumpxml"
    done
fi
got=$(memory_devices dst)
if [ "$got" = "$(want_devices)" ]; then
    ok "dst: info memory-devices as on the source"
else
    bad "dst: info memory-devices '$got', want '$(want_devices)'"
fi

# Every byte: source file (its memory when it stopped) = destination
# file = destination guest-physical memory.
for d in "${DEVS[@]}"; do
    bytes=$((MIB[$d] << 20))
    r=$(vsh dst qemu-monitor-command "$DOM" \
          "{\"execute\":\"pmemsave\",\"arguments\":{\"val\":$((ADDR[$d])),\"size\":$bytes,\"filename\":\"$W/$d-dst.dump\"}}" 2>&1)
    echo "$r" | grep -q '"return":{}' || echo "  pmemsave: $r"
    if c1=$(cmp "$FILES/$d.img" "$FILES/$d-dst.img" 2>&1) &&
       c2=$(cmp "$FILES/$d.img" "$W/$d-dst.dump" 2>&1); then
        ok "migration: $d: all $(printf 0x%x $bytes) bytes equal: source file, destination file, destination memory at ${ADDR[$d]}"
    else
        bad "migration: $d: $c1 $c2"
    fi
    if msg=$(lv check-writer "$FILES/$d.img" "${ADDR[$d]}" "$bytes" "${NODE[$d]}" "$g1" "$PATTERN_STRIDE"); then
        ok "migration: $d: the source's last memory is the writer's: $msg"
    else
        bad "migration: $d: $msg"
    fi
done

# The destination runs on.
vsh dst resume "$DOM" > /dev/null
DSERIAL=$W/$DOM-dst.serial
if wait_gen "$DSERIAL" $((g1 + 2)) 30 && [ "$(state dst "$DOM")" = running ]; then
    ok "dst resumed: writer generations $(sed -n 's/^sp-mem-guest: writer generation //p' "$DSERIAL" | tr -d '\r' | head -1)..$(generation "$DSERIAL") after the source's $g1"
else
    bad "dst did not go on: state '$(state dst "$DOM")', generation $(generation "$DSERIAL"), source $g1"
fi
cp "$W/dst.xml" "$OUT/migrate-dst-$MODE.xml"

# --- 5. nothing left --------------------------------------------------------------
QPID_DST=$(cat "$W/dst/run/libvirt/qemu/run/$DOM.pid" 2>/dev/null)
out=$( { vsh dst destroy "$DOM" && vsh dst undefine "$DOM" && vsh src undefine "$DOM"; } 2>&1)
rc=$?
left=$( { vsh src list --all --name; vsh dst list --all --name; } 2>&1 | grep .)
if [ $rc = 0 ] && [ -z "$left" ] && [ -n "$QPID_DST" ] && [ ! -e "/proc/$QPID_DST" ]; then
    ok "destroy + undefine on dst, undefine on src (shut off since the migration): no domain left, dst QEMU (pid $QPID_DST) gone"
else
    bad "cleanup: rc $rc: $out; domains left: $left; dst QEMU $QPID_DST"
fi
cp "$LOG" "$OUT/domain-src-$MODE.log"
cp "$W/dst/cache/libvirt/qemu/log/$DOM.log" "$OUT/domain-dst-$MODE.log" 2>/dev/null
# Files of the daemons besides logs, the QEMU capabilities cache and the
# daemons' own runtime files (pid file, sockets, driver lock).
extra=$(cd "$W" && find src dst \( -path '*/config/libvirt/qemu.conf' \
            -o -path '*/cache/libvirt/qemu/log/*.log' \
            -o -path '*/cache/libvirt/qemu/cache/capabilities/*.xml' \
            -o -path '*/run/libvirt/virtqemud.pid' \
            -o -path '*/run/libvirt/virtqemud*-sock' \
            -o -path '*/run/libvirt/qemu/run/driver.pid' \
            -o -path '*/run/libvirt/qemu/run/autostarted' \
            -o -path '*/run/libvirt/common/system.token' \
            -o -name virtqemud.conf -o -name virtqemud.log -o -name daemon.out \) \
            -prune -o ! -type d -print)
if [ -z "$extra" ]; then
    ok "daemon dirs: nothing left but logs, capabilities cache and the daemons' own runtime files"
else
    bad "daemon dirs: left: $(echo "$extra" | paste -sd' ')"
fi
cp "$W"/src/virtqemud.log "$OUT/virtqemud-src.log" 2>/dev/null
cp "$W"/dst/virtqemud.log "$OUT/virtqemud-dst.log" 2>/dev/null

stop_all
left=$(our_pids)
if [ -z "$left" ]; then
    ok "daemons stopped; no process of ours left"
else
    bad "processes left: $(for p in $left; do tr '\0' ' ' < "/proc/$p/cmdline"; echo; done)"
fi
rm -rf "$W"
if [ "$(machine_state)" = "$machine_before" ]; then
    ok "machine's libvirt dirs untouched ($(echo "$machine_before" | grep -c ' absent$') of ${#MACHINE_DIRS[@]} absent before and after)"
else
    bad "machine's libvirt dirs changed: $(diff <(echo "$machine_before") <(machine_state) | head -10)"
fi
echo "time: $(( $(date +%s) - T0 ))s"
finish
