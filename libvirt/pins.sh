# The upstream libvirt our series goes on: the orig tarball of Debian's
# libvirt source package in bookworm-backports (11.3.0), pinned by
# sha256.  Sourced by libvirt/build.sh and libvirt/export.sh.
# shellcheck shell=bash
LIBVIRT_VERSION=11.3.0
LIBVIRT_ORIG=libvirt_$LIBVIRT_VERSION.orig.tar.xz
LIBVIRT_ORIG_SHA256=6bcb0c42c4580436fea262ced56f68a6afe20f7390b1bea2116718cc034a0283

# Only what the QEMU driver, virtqemud, virsh and the unit tests of the
# series need: every other hypervisor driver, storage backend and
# optional library off (libnl stays on: 11.3.0's virnetdevbridge.c does
# not build without it).
libvirt_meson_options() {
    local o
    for o in bhyve ch esx hyperv interface libxl lxc network openvz \
             secrets test vbox vmware vz; do
        printf -- '-Ddriver_%s=disabled\n' "$o"
    done
    printf -- '%s\n' -Ddriver_qemu=enabled -Ddriver_remote=enabled \
        -Ddriver_libvirtd=enabled -Dlibnl=enabled -Dtests=enabled \
        -Ddocs=disabled -Dno_git=true -Dinit_script=none
    for o in apparmor attr audit blkid capng curl fuse glusterfs libiscsi \
             libpcap libssh libssh2 netcf nls numactl openwsman pciaccess \
             polkit readline sanlock sasl selinux udev wireshark_dissector \
             bash_completion nss host_validate login_shell firewalld nbdkit \
             secdriver_apparmor secdriver_selinux storage_dir storage_fs \
             storage_disk storage_gluster storage_iscsi storage_iscsi_direct \
             storage_lvm storage_mpath storage_rbd storage_scsi \
             storage_vstorage storage_zfs; do
        printf -- '-D%s=disabled\n' "$o"
    done
}
