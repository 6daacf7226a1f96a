#!/usr/bin/env bash
# Fetch QEMU's Debian source package, pinned by version and checksum, into
# a cache outside the work tree.  A cached, verified copy is never fetched
# again.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"

fetch_source fetch qemu "$DSC:$DSC_SHA256" "$ORIG:$ORIG_SHA256" "$DEBTAR:$DEB_SHA256"
