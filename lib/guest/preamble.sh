# The start of every /init of the Linux guests (lib/guest/init,
# lib/guest/dax/init, scenarios/uefi-acpi/init), which source it first
# (busybox sh): busybox's applets, /proc /sys /dev, the host's spmem
# arguments from the kernel command line, and what those /init scripts
# print alike.  linux_initramfs (lib/guest.sh) packs it into every
# initramfs as /lib/spmem/preamble.sh.  Every line the guest prints for
# the host starts with "spmem-".
# shellcheck shell=sh
/bin/busybox mkdir -p /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

# The kernel command line, where the host tells a guest what it cannot
# read from a device tree (ACPI) or what to do:
#   spmem=ID:BASE:SIZE:NODE[,...]  the devices (the host's view)
#   spmem-pat=ROFF:WOFF:LEN        the dax patterns (lib/guest/dax/init)
#   spmem-ram=ID[,ID...]           the devices daxctl makes system-ram
#   spmem-mods=M1,M2,...           modules to insmod first, in order
devs= pat= ram= mods=
# shellcheck disable=SC2034   # read by the /init scripts
for a in $(cat /proc/cmdline); do
    case $a in
        spmem=*) devs=${a#spmem=} ;;
        spmem-pat=*) pat=${a#spmem-pat=} ;;
        spmem-ram=*) ram=${a#spmem-ram=} ;;
        spmem-mods=*) mods=${a#spmem-mods=} ;;
    esac
done

# The words of a device at guest-physical BASE on node NODE, as the host
# computes them (host_word and guest_word in lib/guest.sh): the host's
# H = 0x484f535400000000 ^ BASE ^ NODE, the guest's
# G = 0x4c494e5800000000 ^ BASE ^ NODE (the dax patterns' seeds too).
# host_word BASE NODE / guest_word BASE NODE.
host_word() { printf '0x%016x' $((0x484f535400000000 ^ $1 ^ $2)); }
guest_word() { printf '0x%016x' $((0x4c494e5800000000 ^ $1 ^ $2)); }

# boot_facts: the kernel, its command line, and what it was booted with
# (UEFI, a device tree, ACPI tables).
boot_facts() {
    echo "spmem-kernel $(uname -r)"
    echo "spmem-cmdline $(cat /proc/cmdline)"
    [ -d /sys/firmware/efi ] && echo "spmem-efi yes" || echo "spmem-efi no"
    [ -d /proc/device-tree ] && echo "spmem-devicetree yes" || echo "spmem-devicetree no"
    echo "spmem-acpi-tables $(ls /sys/firmware/acpi/tables 2>/dev/null | tr '\n' ' ')"
}

# iomem_over NAME BASE SIZE: the /proc/iomem lines that overlap
# [BASE, BASE + SIZE), as "spmem-iomem NAME LINE", or "spmem-iomem NAME
# none".
iomem_over() {
    local last=$(($2 + $3 - 1)) found=0 line r s e
    while IFS= read -r line; do
        r=${line%% : *}
        r=${r#"${r%%[! ]*}"}
        s=$((0x${r%-*}))
        e=$((0x${r#*-}))
        if [ "$s" -le "$last" ] && [ "$e" -ge "$(($2))" ]; then
            echo "spmem-iomem $1 $line"
            found=1
        fi
    done < /proc/iomem
    [ "$found" = 1 ] || echo "spmem-iomem $1 none"
}

# The words through /dev/mem: "busybox devmem" maps it (read() of
# /dev/mem covers mapped RAM only on arm64).  The host put its word at
# +0x1000 of each device; the guest writes its own at +0x2000.
# read_host_word NAME BASE: "spmem-read NAME ADDR WORD" (or "... error").
read_host_word() {
    local a v
    a=$(printf '0x%x' $(($2 + 0x1000)))
    if v=$(devmem "$a" 64 2>/tmp/err); then
        echo "spmem-read $1 $a $(printf '0x%016x' "$v")"
    else
        echo "spmem-read $1 $a error $? $(cat /tmp/err)"
    fi
}
# write_guest_word NAME BASE NODE: write G, read it back.
write_guest_word() {
    local a g v
    a=$(printf '0x%x' $(($2 + 0x2000)))
    g=$(guest_word "$2" "$3")
    if devmem "$a" 64 "$g" 2>/tmp/err; then
        v=$(devmem "$a" 64)
        echo "spmem-write $1 $a $g readback $(printf '0x%016x' "$v")"
    else
        echo "spmem-write $1 $a error $(cat /tmp/err)"
    fi
}

# report_memory: the NUMA nodes Linux has, with their memory, and
# MemTotal.
report_memory() {
    local n
    echo "spmem-nodes $(ls /sys/devices/system/node/ | grep '^node' | tr '\n' ' ')"
    echo "spmem-node-online $(cat /sys/devices/system/node/online)"
    for n in /sys/devices/system/node/node*; do
        [ -d "$n" ] || continue
        echo "spmem-node-mem ${n##*/} $(grep MemTotal "$n/meminfo" | tr -s ' ' | cut -d' ' -f3-)"
    done
    echo "spmem-$(grep MemTotal /proc/meminfo | tr -s ' ')"
}

# report_iomem: all of /proc/iomem.
report_iomem() {
    local line
    while IFS= read -r line; do echo "spmem-iomem-all $line"; done < /proc/iomem
}

# the_end PATTERN: the kernel log lines that match PATTERN (grep -iE),
# "spmem-done" (the host's sign that /init finished), and power off.
the_end() {
    dmesg | grep -iE "$1" | while IFS= read -r line; do
        echo "spmem-dmesg $line"
    done
    echo "spmem-done"
    poweroff -f
}
