#!/usr/bin/env bash
# Unpack the pinned QEMU source once, then bring it to "pristine + our patch
# series + our files".  Only files whose content changes are rewritten, so
# the next build is incremental.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
build_lock

PATCHES=$TOP/patches
G() { git -C "$QEMU_SRC" -c user.name=sp-mem -c user.email=sp-mem@localhost "$@"; }

unpack() {
    local tmp
    echo "prepare: unpacking $DSC"
    tmp=$(mktemp -d "$TOP/.unpack.XXXXXX")
    dpkg-source --no-check -x "$SRC_CACHE/$DSC" "$tmp/qemu" >/dev/null
    rm -rf "$QEMU_SRC"
    mv "$tmp/qemu" "$QEMU_SRC"
    rm -rf "$tmp"
    # A git baseline lets us revert exactly the files the series touches.
    G init -q
    G add -A -f .
    G commit -q -m "qemu $QEMU_DEB_VERSION (Debian source, patches applied)"
    G tag pristine
    echo "$QEMU_DEB_VERSION" > "$QEMU_SRC/.sp-mem-pristine"
}

# The patch names of the series file (its first field; see patches/series).
series_patches() {
    awk '$0 !~ /^[#=]/ && NF {print $1}' "$PATCHES/series"
}

series_id() {
    (cd "$PATCHES" && cat series $(series_patches)) | sha256sum | cut -d' ' -f1
}

apply_series() {
    local id p
    id=$(series_id)
    [ "$(cat "$QEMU_SRC/.sp-mem-series" 2>/dev/null)" = "$id" ] && return 0
    echo "prepare: applying patch series"
    G reset -q --hard pristine
    for p in $(series_patches); do
        # Files the patch creates are untracked, so the reset left them
        # (and the overlay may have filled them): remove them first.
        G apply --summary "$PATCHES/$p" | awk '$1 == "create" {print $4}' |
            while read -r f; do rm -f "$QEMU_SRC/$f"; done
        G apply --whitespace=nowarn "$PATCHES/$p" ||
            { echo "prepare: patch $p does not apply" >&2; exit 1; }
    done
    echo "$id" > "$QEMU_SRC/.sp-mem-series"
}

overlay() {
    local f manifest=$QEMU_SRC/.sp-mem-overlay new
    new=$(mktemp)
    (cd "$TOP" && for f in $OVERLAY_DIRS; do
         [ ! -d "$f" ] || find "$f" -type f
     done | sort) > "$new"
    while read -r f; do
        if ! cmp -s "$TOP/$f" "$QEMU_SRC/$f"; then
            mkdir -p "$(dirname "$QEMU_SRC/$f")"
            cp "$TOP/$f" "$QEMU_SRC/$f"
        fi
    done < "$new"
    # Files we no longer provide go back to upstream's version, or away.
    if [ -f "$manifest" ]; then
        comm -23 "$manifest" "$new" | while read -r f; do
            if G cat-file -e "pristine:$f" 2>/dev/null; then
                G checkout -q pristine -- "$f"
            else
                rm -f "$QEMU_SRC/$f"
            fi
        done
    fi
    mv "$new" "$manifest"
}

if [ "$(cat "$QEMU_SRC/.sp-mem-pristine" 2>/dev/null)" != "$QEMU_DEB_VERSION" ]; then
    unpack
fi
apply_series
overlay
