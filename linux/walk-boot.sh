#!/usr/bin/env bash
# Boot one step of the Linux series walk (linux/export.sh --walk): the
# arm64 Image IMAGE, loaded directly (-kernel) with QEMU's device tree,
# on the machine of the guest scenarios (lib/guest.sh: nodes 0-2) with
# two sp-mem devices (spmem_layout dax: 256 MiB on node 1, 128 MiB on
# node 2), and print what the kernel made of them:
#
#   walk-boot: STEP: nodes=node0,node1,node2 numa=real dax=80000000-8fffffff@1,a0000000-a7ffffff@2 ram-over-sp=no
#
# Fails if the guest does not finish, if Linux fell back to one fake
# NUMA node, if System RAM covers an sp-mem range, or if a dax device
# covers a range that is not one device's exactly.  The walk compares
# the steps: none may lose what the step before had.
#
# usage: linux/walk-boot.sh IMAGE STEP-NAME
set -uo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=lib/guest.sh
. "$TOP/lib/guest.sh"
IMAGE=$1 STEP=$2
OUT=$BUILD/guest/walk
TIMEOUT=120
spmem_layout dax
guest_begin >/dev/null
linux_busybox >/dev/null
cat > "$tmp/init" <<'INIT'
#!/bin/busybox sh
. /lib/spmem/preamble.sh
echo "spmem-nodes $(ls -d /sys/devices/system/node/node* 2>/dev/null | sed 's|.*/||' | tr '\n' ',')"
for d in /sys/bus/dax/devices/*; do
    [ -e "$d" ] || continue
    r=$(cat "$d/resource" 2>/dev/null) s=$(cat "$d/size" 2>/dev/null)
    echo "spmem-walk-dax ${d##*/} $r $s $(cat "$d/target_node" 2>/dev/null || echo -1)"
done
sed 's/^/spmem-iomem-all /' /proc/iomem
dmesg | grep -E 'Faking a node|reserved mem|NUMA' | sed 's/^/spmem-dmesg /'
echo spmem-done
poweroff -f
INIT
chmod +x "$tmp/init"
linux_initramfs "$tmp/init" "$tmp/initrd.cpio.gz" >/dev/null
spmem_backends "$tmp"
boot_guest "$tmp/out" -M virt "${MACHINE[@]}" -kernel "$IMAGE" -initrd "$tmp/initrd.cpio.gz" \
    -append "console=ttyAMA0 panic=-1 quiet nokaslr rdinit=/init" "${SPMEM_ARGS[@]}" >/dev/null
out=$tmp/out
fail=()
grep -qx spmem-done "$out" || fail+=("the guest did not finish (rc $rc)")
numa=real
grep -q 'Faking a node' "$out" && { numa=fake; fail+=("Linux faked one NUMA node"); }
over=no
while read -r s e; do
    for d in "${DEVS[@]}"; do
        if (( 0x$s <= ADDR[$d] + BYTES[$d] - 1 && 0x$e >= ADDR[$d] )); then
            over=yes; fail+=("System RAM $s-$e over $d")
        fi
    done
done < <(sed -n 's/^spmem-iomem-all *\([0-9a-f]*\)-\([0-9a-f]*\) : System RAM$/\1 \2/p' "$out")
dax=()
while read -r _ name start size tnode; do
    ok_range=
    for d in "${DEVS[@]}"; do
        [ $((start)) = $((ADDR[$d])) ] && [ $((size)) = $((BYTES[$d])) ] && ok_range=$d
    done
    [ -n "$ok_range" ] || fail+=("$name $start+$size is not one device's range")
    dax+=("$(printf '%x-%x@%s' $((start)) $((start + size - 1)) "$tnode")")
done < <(grep '^spmem-walk-dax ' "$out")
nodes=$(sed -n 's/^spmem-nodes //p' "$out")
line="walk-boot: $STEP: nodes=${nodes%,} numa=$numa dax=$(IFS=,; echo "${dax[*]:-none}") ram-over-sp=$over"
echo "$line"
if [ ${#fail[@]} -gt 0 ]; then
    printf 'walk-boot: %s\n' "${fail[@]}" >&2
    sed 's/^/    /' "$out" | tail -40 >&2
    exit 1
fi
