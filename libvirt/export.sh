#!/usr/bin/env bash
# Export our libvirt series for libvir-list: apply libvirt/*.patch
# (libvirt/series order) with "git am" on a git tree of upstream 11.3.0
# (the orig tarball libvirt/build.sh builds from, pinned in
# libvirt/pins.sh), run libvirt's own syntax checks on the result
# (build-aux/syntax-check.mk through "meson test --suite syntax-check",
# which needs a git tree), and write "git format-patch" output with the
# cover letter of libvirt/cover-letter into OUTDIR.  With --walk, also
# build the tree at every patch (incrementally, ccache) and run the XML
# and command-line tests there, so that each patch is shown to build and
# pass on its own, as libvirt asks.
#
# usage: libvirt/export.sh [--walk] [OUTDIR]     (default OUTDIR: series-libvirt)
#
# Fails unless every patch applies, carries a Signed-off-by: (libvirt
# takes patches under the Developer Certificate of Origin), the syntax
# checks pass and, with --walk, every step builds.  Last line:
# "libvirt-export: N patches in OUTDIR, syntax-check clean[, every patch builds]".
#
# Choices: the base tree is a git repository made once from the tarball
# in $CACHE/libvirt/export-VERSION (a commit "libvirt VERSION"); branch
# sp-mem is reset to it on each run.  Its build directory
# ($CACHE/libvirt/export-obj) is configured with the options of
# libvirt/build.sh; meson turns the syntax-check suite on because the
# source is a git tree.
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
HERE=$TOP/libvirt
# shellcheck source=libvirt/pins.sh
. "$HERE/pins.sh"

walk=0
[ "${1:-}" = --walk ] && { walk=1; shift; }
outdir=${1:-$TOP/series-libvirt}
mapfile -t series < <(sed -e '/^#/d' -e '/^$/d' "$HERE/series")
n=${#series[@]}
base=$CACHE/libvirt/export-$LIBVIRT_VERSION
obj=$CACHE/libvirt/export-obj
GIT=(git -C "$base" -c user.name="${GIT_AUTHOR_NAME:-$(git -C "$TOP" config user.name)}"
     -c user.email="${GIT_AUTHOR_EMAIL:-$(git -C "$TOP" config user.email)}")

bash "$TOP/scripts/deps.sh"
fetch_source libvirt-export libvirt "$LIBVIRT_ORIG:$LIBVIRT_ORIG_SHA256"
# The base tree leaves subprojects/keycodemapdb out of git: a git
# submodule upstream, so not among the files libvirt's syntax checks list.
[ -f "$base/.git/sp-mem-base" ] || rm -rf "$obj"
series_tree libvirt-export "$base" "$SRC_CACHE/$LIBVIRT_ORIG" "libvirt $LIBVIRT_VERSION" \
    /subprojects/keycodemapdb/ "${GIT[@]}"
bad=0
for p in "${series[@]}"; do
    "${GIT[@]}" am -q "$HERE/$p" || { echo "libvirt-export: $p does not apply" >&2; exit 1; }
    if ! "${GIT[@]}" log -1 --format=%B | grep -q '^Signed-off-by: '; then
        echo "libvirt-export: $p has no Signed-off-by:" >&2
        bad=1
    fi
done

build_lock
mapfile -t options < <(libvirt_meson_options)
if [ ! -f "$obj/build.ninja" ]; then
    rm -rf "$obj"
    meson setup "$obj" "$base" "${options[@]}" > "$CACHE/libvirt/export-setup.log" 2>&1 ||
        { tail -30 "$CACHE/libvirt/export-setup.log" >&2; exit 1; }
fi

built=
# At each step of the walk: the tests of the XML and of the command line.
WALK_TESTS=(qemuxmlconftest qemucapabilitiestest domaincapstest
            genericxml2xmltest virschematest)
if [ $walk = 1 ]; then
    for i in $(seq "$n" -1 0); do
        "${GIT[@]}" checkout -q "sp-mem~$i"
        t0=$(date +%s)
        if ninja -C "$obj" -j"$(nproc)" > "$obj/walk.log" 2>&1 &&
           meson test -C "$obj" --no-rebuild "${WALK_TESTS[@]}" >> "$obj/walk.log" 2>&1; then
            echo "walk: $("${GIT[@]}" log -1 --format=%s): builds, ${WALK_TESTS[*]} pass ($(( $(date +%s) - t0 ))s)"
        else
            grep -A20 FAILED "$obj/walk.log" | head -40 >&2 || tail -30 "$obj/walk.log" >&2
            echo "libvirt-export: the tree does not build or pass ${WALK_TESTS[*]} at $("${GIT[@]}" log -1 --format=%s) (log $obj/walk.log)" >&2
            exit 1
        fi
    done
    "${GIT[@]}" checkout -q sp-mem
    built=", every patch builds"
fi

# libvirt's syntax checks, on the tree with the whole series.
if meson test -C "$obj" --suite syntax-check --no-rebuild --print-errorlogs \
        > "$obj/syntax-check.log" 2>&1; then
    grep -E '^(Ok|Fail):' "$obj/syntax-check.log" | tr '\n' ' '
    echo "(syntax-check)"
else
    tail -60 "$obj/syntax-check.log" >&2
    echo "libvirt-export: syntax-check fails (log $obj/syntax-check.log)" >&2
    bad=1
fi
[ $bad = 0 ] || exit 1

format_series "$outdir" "$n" "$HERE/cover-letter" "${GIT[@]}"
echo "libvirt-export: $n patches in ${outdir#"$TOP"/}, syntax-check clean$built"
