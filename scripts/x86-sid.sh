#!/usr/bin/env bash
# Upstream's x86 sp-mem device and stock guest software, for the parity
# scenario (scenarios/parity): Debian sid's qemu-system-x86 (QEMU 11.1,
# which has the device), SeaBIOS, OVMF and the stock arm64 EDK2
# (qemu-efi-aarch64), in a minimal sid tree made with debootstrap under
# the cache, and Debian sid's stock Linux for amd64 and arm64 (the same
# version), unpacked beside it.  Nothing is installed into the machine
# and its apt configuration is neither read for sources nor changed: the
# kernels come through a private apt state of the tree's own.
#
#   scripts/x86-sid.sh           build $CACHE/x86-sid once; print its summary
#
# What it leaves in $CACHE/x86-sid (X86SID):
#   root/                     the sid tree (debootstrap --variant=minbase)
#   qemu-system-x86_64        runs root/'s QEMU through root/'s own dynamic
#                             loader and libraries (no chroot, no root, no
#                             mounts), with root/'s firmware directories
#   kernel-{amd64,arm64}/     the unpacked linux-image packages
#   busybox-{amd64,arm64}     busybox-static of sid and bookworm
#   versions                  what each piece is (package versions)
# Choices:
#   - The QEMU binary runs outside a chroot, through the tree's loader,
#     so the same socket and file paths work on both sides of a test and
#     the scenario needs no root; only debootstrap (once) does, through
#     sudo when not run as root.
#   - sid moves: whatever sid has when the cache is made is kept (the
#     versions file says which); a new QEMU or kernel in sid needs the
#     cache removed.  The parity scenario prints the versions it ran.
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

X86SID=$CACHE/x86-sid
ROOT=$X86SID/root
PKGS=qemu-system-x86,seabios,ovmf,qemu-efi-aarch64,busybox-static

if [ -s "$X86SID/versions" ] && [ -x "$X86SID/qemu-system-x86_64" ]; then
    cat "$X86SID/versions"
    exit 0
fi
# debootstrap needs root, once; as scripts/deps.sh, through sudo when
# this runs as another user.  What it makes stays readable to everyone.
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
command -v debootstrap >/dev/null || { echo "x86-sid: no debootstrap (scripts/deps.sh)" >&2; exit 1; }
uri=$(debian_uri)
$SUDO rm -rf "$X86SID"
mkdir -p "$X86SID"
t0=$(date +%s)
echo "x86-sid: debootstrap sid ($PKGS) into $ROOT" >&2
$SUDO debootstrap --variant=minbase --include="$PKGS" sid "$ROOT" "$uri" > "$X86SID/debootstrap.log" 2>&1 ||
    { tail -20 "$X86SID/debootstrap.log" >&2; exit 1; }
# debootstrap leaves the tree's /proc and /sys mounted on some hosts.
for m in proc sys; do
    if mountpoint -q "$ROOT/$m"; then $SUDO umount "$ROOT/$m"; fi
done

# The kernels: a private apt state with sid's lists for both architectures.
APT=$X86SID/apt
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/sources.list.d"
echo "deb [arch=amd64,arm64] $uri sid main" > "$APT/sources.list"
_apt_state "$APT" update >/dev/null
kver=
for arch in amd64 arm64; do
    img=$(apt-cache -o Dir::Etc::SourceList="$APT/sources.list" \
              -o Dir::Etc::SourceParts="$APT/sources.list.d" \
              -o Dir::State::Lists="$APT/lists" -o Dir::Cache="$APT/cache" \
              depends "linux-image-$arch:$arch" 2>/dev/null |
          awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ {sub(/:.*$/, "", $2); print $2; exit}')
    [ -n "$img" ] || { echo "x86-sid: sid has no linux-image-$arch" >&2; exit 1; }
    v=${img#linux-image-}
    v=${v%-"$arch"}
    [ -z "$kver" ] || [ "$kver" = "$v" ] || { echo "x86-sid: kernels differ: $kver, $v" >&2; exit 1; }
    kver=$v
    # linux-image-VER is a metapackage of linux-binary-VER and
    # linux-modules-VER in Debian's 7.x packaging; take whichever exist.
    d=$X86SID/debs-$arch
    mkdir -p "$d"
    (cd "$d" && for p in "$img" "linux-binary-$v-$arch" "linux-modules-$v-$arch"; do
         _apt_state "$APT" download -qq "$p:$arch" 2>/dev/null || true
     done)
    for f in "$d"/*.deb; do dpkg-deb -x "$f" "$X86SID/kernel-$arch"; done
    compgen -G "$X86SID/kernel-$arch/usr/lib/modules/*/vmlinuz" >/dev/null ||
        compgen -G "$X86SID/kernel-$arch/boot/vmlinuz-*" >/dev/null ||
        { echo "x86-sid: no vmlinuz in $d" >&2; exit 1; }
done
cp "$ROOT/usr/bin/busybox" "$X86SID/busybox-amd64"
f=$(guest_deb busybox-static)
mkdir -p "$X86SID/bb-arm64" && dpkg-deb -x "$f" "$X86SID/bb-arm64"
cp "$X86SID/bb-arm64/bin/busybox" "$X86SID/busybox-arm64"

cat > "$X86SID/qemu-system-x86_64" <<EOF
#!/bin/sh
# Debian sid's QEMU from $ROOT, through that tree's own loader and libraries.
R=$ROOT
export QEMU_MODULE_DIR=\$R/usr/lib/x86_64-linux-gnu/qemu
exec "\$R/lib64/ld-linux-x86-64.so.2" --library-path "\$R/usr/lib/x86_64-linux-gnu:\$R/lib/x86_64-linux-gnu" \\
    "\$R/usr/bin/qemu-system-x86_64" -L "\$R/usr/share/qemu" -L "\$R/usr/share/seabios" "\$@"
EOF
chmod +x "$X86SID/qemu-system-x86_64"
ver() { dpkg-query --admindir="$ROOT/var/lib/dpkg" -W -f '${Version}' "$1"; }
{
    echo "qemu-system-x86 $(ver qemu-system-x86): $("$X86SID/qemu-system-x86_64" --version | head -1)"
    echo "seabios $(ver seabios), ovmf $(ver ovmf), qemu-efi-aarch64 $(ver qemu-efi-aarch64)"
    echo "linux $kver (amd64, arm64), busybox-static $(ver busybox-static) (amd64), ${f##*/} (arm64)"
} > "$X86SID/versions.tmp"
mv "$X86SID/versions.tmp" "$X86SID/versions"
echo "x86-sid: made in $(( $(date +%s) - t0 ))s" >&2
cat "$X86SID/versions"
