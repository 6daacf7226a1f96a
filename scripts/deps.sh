#!/usr/bin/env bash
# Install what building and testing the patched emulator needs, from
# Debian's archive only.  ipxe-qemu, qemu-system-data and seabios provide
# the option ROMs and boot ROMs that Debian's stripped QEMU source lacks
# and that upstream qtests load (scripts/build.sh links them in).
# qemu-efi-aarch64 is the UEFI firmware bios-tables-test boots (bzip2 makes
# QEMU's build declare that test) and acpica-tools decodes ACPI tables.
# dt-schema is not among them: bookworm's (2022.08) is too old for the
# binding and for the kernel's dt_binding_check, and lib/common.sh
# dt_tools unpacks trixie's into the cache instead.  The guests are
# built with gcc-aarch64-linux-gnu against arm64 packages (libfdt-dev:arm64,
# fetched by the guest scripts), hence the arm64 foreign architecture.  Idempotent: when everything is present it does
# no network access and returns in well under a second.
set -euo pipefail

PKGS=(build-essential ninja-build pkg-config ccache dpkg-dev
      libglib2.0-dev libfdt-dev libpixman-1-dev zlib1g-dev
      python3 python3-venv device-tree-compiler
      ipxe-qemu qemu-system-data seabios
      bzip2 qemu-efi-aarch64 acpica-tools
      gcc-aarch64-linux-gnu make u-boot-tools e2fsprogs
      # edk2/build.sh: EDK2's BaseTools (GenFv, GenFw... link libuuid)
      uuid-dev
      # the uefi-sp and linux-sp scenarios: static arm64 helper lib/guest/dax/daxmap.c, and
      # the kernel modules it unpacks (.ko.xz)
      libc6-dev-arm64-cross xz-utils
      # linux/build.sh: Kconfig's parser (flex, bison) and
      # kernel/time's timeconst.h (bc) for the guests' Linux, and
      # depmod (kmod) for the index of its built-in drivers
      flex bison bc kmod
      # the docs scenario: QEMU's manuals (Sphinx >= 3.4.3, rtd theme >= 0.5)
      python3-sphinx python3-sphinx-rtd-theme
      # libvirt/build.sh: libvirt's QEMU driver, virtqemud, virsh and unit
      # tests (json-c for QMP, XDR from libtirpc, GnuTLS, netlink for its
      # Linux network helpers, xsltproc, xmllint and rst2html at build time)
      libjson-c-dev libtirpc-dev libgnutls28-dev libxml2-dev libxml2-utils
      xsltproc python3-docutils libnl-3-dev libnl-route-3-dev
      # linux/dt-binding-check.sh: the kernel's dt_binding_check lints
      # the binding with yamllint and builds its dtc with YAML output
      yamllint libyaml-dev
      # scripts/x86-sid.sh (the parity scenario): upstream's x86 QEMU and stock
      # guest software in a sid tree under the cache
      debootstrap
      # linux/export.sh --walk also builds every step for riscv (patch 1
      # touches its EFI runtime code)
      gcc-riscv64-linux-gnu)
MESON_MIN=1.5

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo

meson_ok() {
    local v
    v=$(dpkg-query -W -f='${Version}' meson 2>/dev/null) &&
    dpkg --compare-versions "$v" ge "$MESON_MIN"
}

# The archive URI comes from the machine's own Debian source list, so that
# whatever mirror the machine is set up for is used (common.sh).
. "$(dirname "$0")/../lib/common.sh"

LIST=/etc/apt/sources.list.d/sp-mem-arm.sources
# Only bookworm's own backports, for meson: source packages (QEMU's is
# only in sid) and newer suites' guest packages come through the private
# apt state of common.sh (apt_private), never through this list.  An
# older version of this file, which also listed sid's sources, is
# rewritten.
need_update=0
uri=$(debian_uri)
want="# Added by sp-mem-arm scripts/deps.sh: meson >= $MESON_MIN from backports.
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
if [ "$(cat "$LIST" 2>/dev/null)" != "$want" ]; then
    printf '%s\n' "$want" | $SUDO tee "$LIST" >/dev/null
    need_update=1
fi

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $SUDO dpkg --add-architecture arm64
    need_update=1
fi

# One dpkg-query for all packages keeps the no-op case fast.
mapfile -t missing < <(
    # dpkg-query fails on a package dpkg never knew; errexit is inherited here.
    { dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PKGS[@]}" 2>/dev/null || true
      printf '%s wanted\n' "${PKGS[@]}"; } |
    awk '$2 == "installed" {have[$1] = 1} $2 == "wanted" && !have[$1] {print $1}')

if [ $need_update = 1 ] || [ ${#missing[@]} -gt 0 ] || ! meson_ok; then
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -q
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
fi
if ! meson_ok; then
    echo "deps: installing meson from bookworm-backports"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends \
        -t bookworm-backports meson
fi
meson_ok || { echo "deps: meson >= $MESON_MIN still missing" >&2; exit 1; }
