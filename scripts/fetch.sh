#!/usr/bin/env bash
# Fetch QEMU's Debian source package, pinned by version and checksum, into
# a cache outside the work tree.  A cached, verified copy is never fetched
# again.
set -euo pipefail
. "$(dirname "$0")/common.sh"

verify() {
    (cd "$SRC_CACHE" && sha256sum --quiet -c - <<EOT
$DSC_SHA256  $DSC
$ORIG_SHA256  $ORIG
$DEB_SHA256  $DEBTAR
EOT
    ) 2>/dev/null
}

mkdir -p "$SRC_CACHE"
if verify; then
    exit 0
fi
echo "fetch: downloading qemu=$QEMU_DEB_VERSION source package into $SRC_CACHE"
(cd "$SRC_CACHE" && rm -f "$DSC" "$ORIG" "$DEBTAR" &&
 apt-get source --download-only "qemu=$QEMU_DEB_VERSION" 2>&1 |
     grep -v 'Download is performed unsandboxed' || true)
if ! verify; then
    echo "fetch: checksum mismatch or download failed for qemu=$QEMU_DEB_VERSION" >&2
    (cd "$SRC_CACHE" && ls -l; sha256sum "$DSC" "$ORIG" "$DEBTAR") >&2 || true
    exit 1
fi
