# The upstream Linux sources our kernels are built from: the orig
# tarballs of Debian's linux source packages, pinned by sha256.  Sourced
# by linux/build.sh and linux/export.sh.
# shellcheck shell=bash

# linux_pin VER: sets LINUX_VERSION and LINUX_ORIG_SHA256 for VER (6.1 or
# 7.2), and LINUX_ORIG; fails for another VER.
linux_pin() {
    case $1 in
        6.1) LINUX_VERSION=6.1.176
             LINUX_ORIG_SHA256=9aad4025973feea3f0d978e82ab7db97d8d5ce3f59fcc6b1f316153d66e3a504 ;;
        7.2) LINUX_VERSION=7.2.8
             LINUX_ORIG_SHA256=08f058f9de8d487e32a5c9e2855ee7e35bee1a047e77d37ba797d734c0cc07b3 ;;
        *) return 1 ;;
    esac
    LINUX_ORIG=linux_$LINUX_VERSION.orig.tar.xz
}
