#!/usr/bin/env bash
# Device-tree checks that need tools outside QEMU:
#  1. without sp-mem, the patched emulator's DTB is byte-identical to the
#     unpatched one's, for a set of configurations;
#  2. the binding the nodes follow, Linux's special-purpose.yaml (from
#     linux/0003, lib/common.sh binding_extract), is valid
#     (dt-doc-validate), DTBs with sp-mem validate against it with no
#     error that the same machine without sp-mem does not have, every
#     sp-mem node is matched by it, and broken nodes are caught (with
#     the dt-schema of lib/common.sh dt_tools, newer than bookworm's);
#  3. dtc decompiles every produced DTB without a warning.
# Needs build/ and pristine/build/.  Last line: "dt: N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/../../lib/common.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# dumpdtb BINARY OUT ARGS...: the tree the guest would get, without the
# random seeds so that two runs can be compared.
dumpdtb() {
    local bin=$1 out=$2
    shift 2
    "$bin" -M virt,dtb-randomness=off,dumpdtb="$out" -accel qtest \
        -display none -nodefaults -monitor none -serial none "$@" \
        > "$out.log" 2>&1
}

fw=$tmp/fw.bin          # any -bios makes virt create its ACPI GED (pc-dimm)
truncate -s 64K "$fw"

NUMA2="-m 2G -smp 2 -object memory-backend-ram,id=r0,size=1G
 -object memory-backend-ram,id=r1,size=1G
 -numa node,nodeid=0,memdev=r0,cpus=0 -numa node,nodeid=1,memdev=r1,cpus=1"
NUMA3="-m 1G,maxmem=4G -smp 2 -object memory-backend-ram,id=r0,size=1G
 -numa node,nodeid=0,memdev=r0,cpus=0-1 -numa node,nodeid=1 -numa node,nodeid=2"

# --- 1. byte identity without sp-mem -------------------------------------
dumpdtb "$QEMU" "$tmp/user.dtb" -m 1G || bad "dump user.dtb"
declare -A IDENT=(
    [no-numa]="-m 1G"
    [no-numa-maxmem]="-m 1G,maxmem=4G"
    [numa]="$NUMA2"
    [numa-dist]="$NUMA2 -numa dist,src=0,dst=1,val=30"
    [numa-memless-node]="$NUMA3"
    [acpi-off]="-M acpi=off $NUMA2"
    [acpi-on]="-M acpi=on $NUMA2"
    [virtualization]="-M virtualization=on,gic-version=3 -cpu max $NUMA2"
    [secure]="-M secure=on -cpu max -m 1G"
    [pc-dimm]="-bios $fw -m 1G,slots=2,maxmem=4G
     -object memory-backend-ram,id=d0,size=256M -device pc-dimm,memdev=d0"
    [nvdimm]="-M nvdimm=on -m 1G,slots=2,maxmem=4G
     -object memory-backend-ram,id=n0,size=256M -device nvdimm,memdev=n0"
    [user-dtb]="-dtb $tmp/user.dtb -m 1G"
    [user-dtb-numa]="-dtb $tmp/user.dtb $NUMA2"
)
for name in $(printf '%s\n' "${!IDENT[@]}" | sort); do
    # shellcheck disable=SC2086
    if dumpdtb "$QEMU" "$tmp/p-$name.dtb" ${IDENT[$name]} &&
       dumpdtb "$QEMU_PRISTINE" "$tmp/u-$name.dtb" ${IDENT[$name]}; then
        if cmp -s "$tmp/p-$name.dtb" "$tmp/u-$name.dtb"; then
            ok "identical DTB without sp-mem: $name"
        else
            bad "DTB differs from unpatched QEMU without sp-mem: $name"
        fi
    else
        bad "QEMU failed for $name: $(cat "$tmp"/[pu]-"$name".dtb.log)"
    fi
done

# --- 2. binding ------------------------------------------------------------
if ! dt_tools > "$tmp/dt-tools.log" 2>&1 || ! binding_extract 2>> "$tmp/dt-tools.log"; then
    bad "dt-schema or the binding: $(cat "$tmp/dt-tools.log")"
    finish
fi
out=$(dt-doc-validate -u "$BINDINGS" "$BINDINGS/$BINDING_FILE" 2>&1)
if [ $? = 0 ] && [ -z "$out" ]; then
    ok "dt-doc-validate ${BINDING_FILE##*/} (dt-schema $(dt-doc-validate --version))"
else
    bad "dt-doc-validate: $out"
fi
dt_schema "$tmp/schema.json"

validate() {   # validate DTB: error lines, without the file name
    dt-validate -s "$tmp/schema.json" "$1" 2>&1 | sed "s|^$1: ||"
}

declare -A SPMEM=(
    [one]="$NUMA3 -object memory-backend-ram,id=s0,size=256M
     -device sp-mem,memdev=s0,node=1"
    [two]="$NUMA3 -object memory-backend-ram,id=s0,size=256M
     -object memory-backend-ram,id=s1,size=512M
     -device sp-mem,memdev=s0,node=1 -device sp-mem,memdev=s1,node=2"
    [acpi-off]="-M acpi=off $NUMA3 -object memory-backend-ram,id=s0,size=256M
     -device sp-mem,memdev=s0,node=2"
    [user-dtb]="-dtb $tmp/user.dtb $NUMA3
     -object memory-backend-ram,id=s0,size=256M -device sp-mem,memdev=s0,node=1"
)
several="$NUMA3"
for i in $(seq 0 11); do
    several="$several -object memory-backend-ram,id=s$i,size=64M
     -device sp-mem,memdev=s$i,node=$((i % 3))"
done
SPMEM[several]=$several

for name in $(printf '%s\n' "${!SPMEM[@]}" | sort); do
    # The same machine without the sp-mem devices is the baseline.
    # shellcheck disable=SC2086
    base=$(echo ${SPMEM[$name]} | sed -e 's/-object memory-backend-ram,id=s[0-9]*,size=[0-9]*M//g' \
                                     -e 's/-device sp-mem,[^ ]*//g')
    # shellcheck disable=SC2086
    if ! dumpdtb "$QEMU" "$tmp/s-$name.dtb" ${SPMEM[$name]} ||
       ! dumpdtb "$QEMU" "$tmp/b-$name.dtb" $base; then
        bad "QEMU failed for sp-mem DTB $name: $(cat "$tmp"/[sb]-"$name".dtb.log)"
        continue
    fi
    want=$(echo "${SPMEM[$name]}" | grep -o 'device sp-mem' | wc -l)
    new=$(comm -13 <(validate "$tmp/b-$name.dtb" | sort) \
                   <(validate "$tmp/s-$name.dtb" | sort))
    if [ -z "$new" ]; then
        ok "dt-validate: no new error with sp-mem: $name"
    else
        bad "dt-validate errors with sp-mem ($name): $new"
    fi
    matched=$(dt_matched "$tmp/schema.json" "$tmp/s-$name.dtb")
    if [ "$matched" = "$want" ]; then
        ok "dt-validate: $want sp-mem node(s) matched by the binding: $name"
    else
        bad "dt-validate: $matched of $want sp-mem nodes matched the binding: $name"
    fi
    for f in "$tmp/s-$name.dtb" "$tmp/b-$name.dtb"; do
        warn=$(dtc -I dtb -O dts -o "$f.dts" "$f" 2>&1)
        if [ -z "$warn" ]; then
            ok "dtc: no warning: ${f##*/}"
        else
            bad "dtc warnings for ${f##*/}: $warn"
        fi
    done
done

# The binding must catch broken nodes: with one sp-mem node changed,
# dt-validate reports the change on that node (reusable with no-map is
# refused by dt-schema's reserved-memory.yaml, which the binding refers
# to).
broken() {   # broken NAME SED-EXPRESSION EXPECTED-ERROR-PATTERN
    sed -e "$2" "$tmp/s-one.dtb.dts" > "$tmp/$1.dts"
    dtc -q -I dts -O dtb -o "$tmp/$1.dtb" "$tmp/$1.dts"
    if validate "$tmp/$1.dtb" | grep -q "^sp-mem@[0-9a-f]* (qemu,sp-mem): $3"; then
        ok "dt-validate rejects sp-mem node with $1"
    else
        bad "dt-validate accepts sp-mem node with $1: $(validate "$tmp/$1.dtb")"
    fi
}
broken no-no-map '/sp-mem@/,/};/{/no-map/d}' "'no-map' is a required property"
broken one-compatible '/sp-mem@/,/};/s/compatible = .*/compatible = "qemu,sp-mem";/' \
    "compatible: 'oneOf' conditional failed"
broken unknown-property '/sp-mem@/,/};/s/no-map;/no-map;\n\t\t\thbm-size = <0x1000>;/' \
    "Unevaluated properties are not allowed ('hbm-size' was unexpected)"
broken reusable '/sp-mem@/,/};/s/no-map;/no-map;\n\t\t\treusable;/' \
    ".* should not be valid under {'required': \\['no-map'\\]}"
broken two-ranges '/sp-mem@/,/};/s/reg = <\(.*\)>;/reg = <\1 \1>;/' "reg: .* is too long"

finish
